//! `jobvisor man`: the manual pages, generated from the command definitions plus what
//! clap cannot know — exit codes, environment, files and examples of each subcommand.
//! `jobvisor(1)` alone goes to stdout; `--dir DIR` writes it and one page per subcommand
//! (`jobvisor-serve.1`, `jobvisor-jobs.1`, ...), as `deploy/install.sh` installs them.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::args::Cli;
use jobvisor_supervisor::exit_code;

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write jobvisor.1 and one page per subcommand (jobvisor-serve.1, ...) into DIR
    /// instead of printing jobvisor(1).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Subcommands that talk to the daemon's control socket.
const CLIENTS: [&str; 9] = [
    "status",
    "enqueue",
    "jobs",
    "scripts",
    "schedules",
    "queues",
    "restart",
    "drain",
    "logs",
];

/// (code, meaning, subcommands it applies to; empty: all).
const EXIT_CODES: [(u8, &str, &[&str]); 11] = [
    (exit_code::OK, "success", &[]),
    (
        exit_code::FAILURE,
        "jobvisor itself failed (I/O, a missing worker binary, an unexpected answer)",
        &[],
    ),
    (
        exit_code::USAGE,
        "bad command line or input, or something it names does not exist (an unknown job, script, queue or schedule)",
        &[],
    ),
    (
        exit_code::JOB_ERROR,
        "the job failed in JavaScript",
        &["run", "enqueue"],
    ),
    (
        exit_code::JOB_TIMEOUT,
        "the job ran past its timeout",
        &["run", "enqueue"],
    ),
    (
        exit_code::JOB_OOM,
        "the job ran out of memory",
        &["run", "enqueue"],
    ),
    (
        exit_code::JOB_CRASHED,
        "the worker crashed, broke the protocol or was killed",
        &["run", "enqueue"],
    ),
    (
        exit_code::JOB_CANCELLED,
        "enqueue --wait: the job was cancelled",
        &["enqueue"],
    ),
    (
        exit_code::NOT_RUNNING,
        "the daemon is not running (no control socket to connect to)",
        &CLIENTS,
    ),
    (
        exit_code::ALREADY_RUNNING,
        "another daemon already runs on this state directory or control socket",
        &["serve"],
    ),
    (
        exit_code::CONFIG,
        "the configuration (or the database it names) is unusable; restarting will not help",
        &["serve"],
    ),
];

/// How the client commands report errors with `--json`.
const JSON_ERRORS: &str = "With --json, an error is one line of JSON on stderr, {\"error\": {\"code\": \"usage\", \"message\": \"...\"}} (code usage, not_running or failure), with the same exit code.";

/// (variable, meaning, subcommands; empty: all).
const ENVIRONMENT: [(&str, &str, &[&str]); 6] = [
    (
        "JOBVISOR_CONFIG",
        "the config file, as --config: for serve, and to find the daemon's control socket",
        &[],
    ),
    (
        "JOBVISOR_SOCKET",
        "the control socket, as --socket, overriding the config",
        &CLIENTS,
    ),
    (
        "JOBVISOR_WORKER",
        "path of the jobvisor-worker binary (default: next to jobvisor)",
        &["serve", "run"],
    ),
    (
        "JOBVISOR_LOG",
        "log filter of the daemon (info by default; debug, warn, ...)",
        &["serve"],
    ),
    (
        "XDG_RUNTIME_DIR",
        "without run_dir in the config, the control socket is $XDG_RUNTIME_DIR/jobvisor/control.sock",
        &[],
    ),
    (
        "XDG_STATE_HOME",
        "without state_dir in the config, the store is in $XDG_STATE_HOME/jobvisor (else ./jobvisor-data)",
        &[],
    ),
];

/// (path, meaning, subcommands; empty: all).
const FILES: [(&str, &str, &[&str]); 4] = [
    (
        "/etc/jobvisor/jobvisor.toml",
        "the config the systemd unit passes to serve (see configuration.md)",
        &[],
    ),
    (
        "STATE_DIR/jobvisor.db",
        "the store: jobs, attempts, scripts, schedules (SQLite, WAL)",
        &["serve", "status", "jobs", "scripts", "schedules", "queues"],
    ),
    (
        "RUN_DIR/control.sock",
        "the control socket (mode 0600 in a 0700 directory); RUN_DIR is run_dir of the config, else $XDG_RUNTIME_DIR/jobvisor, else STATE_DIR/run",
        &[],
    ),
    (
        "/var/lib/jobvisor",
        "the state directory of the systemd service",
        &["serve"],
    ),
];

/// (subcommand, command line, what it does).
const EXAMPLES: [(&str, &str, &str); 21] = [
    (
        "serve",
        "jobvisor serve --config /etc/jobvisor/jobvisor.toml",
        "run the daemon in the foreground",
    ),
    (
        "status",
        "jobvisor status",
        "workers, queues and job counts",
    ),
    (
        "status",
        "jobvisor status --json | jq .workers",
        "the workers, from the JSON",
    ),
    (
        "enqueue",
        "jobvisor enqueue poll --payload '{\"url\": \"https://example.com\"}'",
        "add a job; prints its id",
    ),
    (
        "enqueue",
        "jobvisor enqueue report --wait",
        "add a job and wait for its result",
    ),
    (
        "jobs",
        "jobvisor jobs list --state discarded --limit 20",
        "the 20 newest discarded jobs",
    ),
    (
        "jobs",
        "jobvisor jobs list --before 1200",
        "the page after job 1200",
    ),
    (
        "jobs",
        "jobvisor jobs show 42",
        "payload, result and every attempt of job 42",
    ),
    (
        "jobs",
        "jobvisor jobs retry 42 --latest",
        "run job 42 again with the current version of its script",
    ),
    (
        "scripts",
        "jobvisor scripts add poll poll.js",
        "check poll.js and make it the current version of poll",
    ),
    (
        "scripts",
        "jobvisor scripts show poll",
        "the current source and every version",
    ),
    (
        "schedules",
        "jobvisor schedules add nightly --script report --cron '0 2 * * *' --timezone Europe/Berlin",
        "run report at 02:00 Berlin time",
    ),
    (
        "schedules",
        "jobvisor schedules list",
        "next and last runs, failure streaks",
    ),
    (
        "queues",
        "jobvisor queues pause mail",
        "start no new job of queue mail",
    ),
    (
        "queues",
        "jobvisor queues pause mail --create",
        "pause a queue before its first job",
    ),
    (
        "queues",
        "jobvisor queues remove mial",
        "remove a queue created by mistake (it must hold no job)",
    ),
    (
        "restart",
        "jobvisor restart --all",
        "replace every worker, one at a time, without failing a job",
    ),
    (
        "drain",
        "jobvisor drain",
        "stop the daemon gracefully and report what was requeued",
    ),
    (
        "logs",
        "jobvisor logs --follow --json",
        "job and worker events as JSON lines",
    ),
    (
        "run",
        "jobvisor run poll.js --payload '{}' --timeout 5s",
        "try a script through a real worker, without a daemon",
    ),
    (
        "completions",
        "jobvisor completions bash > /etc/bash_completion.d/jobvisor",
        "install bash completion",
    ),
];

/// Writes jobvisor(1) to stdout, or every page into `--dir`.
pub fn execute(args: &ManArgs) -> u8 {
    let written = match &args.dir {
        None => {
            let mut stdout = std::io::stdout().lock();
            page(Cli::command(), None, &mut stdout)
        }
        Some(dir) => write_all(dir),
    };
    match written {
        Ok(()) => exit_code::OK,
        Err(err) => {
            eprintln!("jobvisor: cannot write the man pages: {err}");
            exit_code::FAILURE
        }
    }
}

fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut file = std::fs::File::create(dir.join("jobvisor.1"))?;
    page(command.clone(), None, &mut file)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name().to_owned();
        let mut file = std::fs::File::create(dir.join(format!("jobvisor-{name}.1")))?;
        page(sub.clone(), Some(&name), &mut file)?;
    }
    Ok(())
}

/// One page: clap's sections, then exit status, environment, files, examples and see
/// also. `sub` is `None` for jobvisor(1) itself.
fn page(command: clap::Command, sub: Option<&str>, out: &mut dyn Write) -> std::io::Result<()> {
    let title = sub.map_or("jobvisor".to_owned(), |s| format!("jobvisor-{s}"));
    let page = clap_mangen::Man::new(command.clone()).title(&title);
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(out)?;
    }
    if command.has_subcommands() {
        if sub.is_some() {
            // One page per top-level subcommand: its own subcommands are described here,
            // not on pages of their own.
            nested_commands(&command, out)?;
        } else {
            page.render_subcommands_section(out)?;
        }
    }
    let applies = |to: &[&str]| sub.is_none_or(|s| to.is_empty() || to.contains(&s));
    out.write_all(b".SH \"EXIT STATUS\"\n")?;
    for (code, meaning, to) in EXIT_CODES {
        if applies(to) {
            write_item(out, &code.to_string(), meaning)?;
        }
    }
    if applies(&CLIENTS) {
        out.write_all(b".PP\n")?;
        writeln!(out, "{}", roff_text(JSON_ERRORS))?;
    }
    out.write_all(b".SH ENVIRONMENT\n")?;
    for (name, meaning, to) in ENVIRONMENT {
        if applies(to) {
            write_item(out, name, meaning)?;
        }
    }
    out.write_all(b".SH FILES\n")?;
    for (path, meaning, to) in FILES {
        if applies(to) {
            write_item(out, path, meaning)?;
        }
    }
    let examples: Vec<_> = EXAMPLES
        .iter()
        .filter(|(s, _, _)| sub.is_none_or(|sub| *s == sub))
        .collect();
    if !examples.is_empty() {
        out.write_all(b".SH EXAMPLES\n")?;
        for (_, line, what) in examples {
            writeln!(out, ".TP\n.B {}\n{}", roff_text(line), roff_text(what))?;
        }
    }
    out.write_all(b".SH \"SEE ALSO\"\n")?;
    let mut see: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| format!("jobvisor-{}", s.get_name()))
        .filter(|name| *name != title)
        .collect();
    if sub.is_some() {
        see.insert(0, "jobvisor".to_owned());
    }
    let list: Vec<String> = see
        .iter()
        .map(|name| format!("\\fB{name}\\fR(1)"))
        .collect();
    writeln!(out, "{}", list.join(", "))?;
    writeln!(
        out,
        "and docs/cli.md, docs/configuration.md in the jobvisor sources."
    )
}

/// A COMMANDS section: each subcommand's usage, description and arguments.
fn nested_commands(command: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(b".SH COMMANDS\n")?;
    for nested in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        let mut nested = nested.clone();
        let usage = nested.render_usage().to_string();
        let usage = usage.trim().trim_start_matches("Usage: ");
        writeln!(out, ".SS \"{}\"", roff_text(usage))?;
        if let Some(about) = nested.get_long_about().or(nested.get_about()) {
            writeln!(out, "{}", roff_text(&about.to_string()))?;
        }
        for arg in nested.get_arguments().filter(|a| !a.is_hide_set()) {
            let value = arg
                .get_value_names()
                .and_then(|names| names.first())
                .map(|name| format!(" <{name}>"))
                .unwrap_or_default();
            let term = match (arg.get_long(), arg.is_positional()) {
                (_, true) => format!("<{}>", arg.get_id().as_str().to_uppercase()),
                (Some(long), false) if arg.get_num_args().is_some_and(|n| n.takes_values()) => {
                    format!("--{long}{value}")
                }
                (Some(long), false) => format!("--{long}"),
                (None, false) => arg.get_id().to_string(),
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            write_item(out, &term, &help)?;
        }
    }
    Ok(())
}

fn write_item(out: &mut dyn Write, term: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff_text(term), roff_text(text))
}

/// Escapes text for roff: backslashes, and a leading `.` or `'` (a request otherwise).
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
