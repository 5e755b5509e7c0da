//! `jobvisor scripts add|list|show`.

use std::path::PathBuf;

use jobvisor_protocol::bundle::{ScriptBundle, decode};
use jobvisor_protocol::control::{ScriptSummary, ScriptView};

use super::jobs::short_hash;
use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::script_files::read_script;
use jobvisor_supervisor::units::{format_size_approx, format_utc};

/// `jobvisor scripts ...`: the subcommand, with the output and target every one of them
/// takes.
#[derive(Debug, clap::Args)]
pub struct ScriptsArgs {
    #[command(subcommand)]
    pub command: ScriptsCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum ScriptsCommand {
    /// Register FILE as the current version of script NAME (checked first: it must parse,
    /// evaluate and have a default-export function). FILE may be a directory: a
    /// multi-file script whose modules import each other by relative path, stored as one
    /// version.
    Add {
        /// The script's name (letters, digits, `-`, `_`, `.`).
        name: String,
        /// The JavaScript module to register, or a directory of modules and JSON files.
        file: PathBuf,
        /// A directory's entry module, when it is not index.js, index.mjs or main.js.
        #[arg(long, value_name = "PATH")]
        entry: Option<String>,
        /// A host this version's jobs may fetch from (`host`, `*.domain`, `host:port`),
        /// besides `[fetch] allow_net`. Repeat it, or separate hosts with commas.
        #[arg(long, value_name = "HOST", value_delimiter = ',')]
        allow_net: Vec<String>,
    },
    /// List scripts with their current version.
    List,
    /// Show a script's current source and its versions.
    Show {
        /// The script's name.
        name: String,
    },
}

pub async fn execute(args: &ScriptsArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &ScriptsArgs) -> Result<u8, ClientError> {
    let output = args.output;
    match &args.command {
        ScriptsCommand::Add {
            name,
            file,
            entry,
            allow_net,
        } => {
            let source = read_script(file, entry.as_deref()).map_err(|e| {
                ClientError::new(
                    exit_code::USAGE,
                    format!("cannot read script {}: {e}", file.display()),
                )
            })?;
            let mut client = Client::connect(&args.target).await?;
            let added = client
                .add_script(name.clone(), source, allow_net.clone())
                .await?;
            output.print(&added, |added| {
                let version = short_hash(&added.hash);
                if added.created {
                    println!("script {} version {version} added", added.name);
                } else {
                    println!("script {} version {version} is already current", added.name);
                }
            });
        }
        ScriptsCommand::List => {
            let scripts = Client::connect(&args.target).await?.list_scripts().await?;
            output.print(scripts.as_slice(), |scripts| {
                print!("{}", render_list(scripts))
            });
        }
        ScriptsCommand::Show { name } => {
            let script = Client::connect(&args.target)
                .await?
                .show_script(name.clone())
                .await?;
            output.print(&script, |script| print!("{}", render_script(script)));
        }
    }
    Ok(exit_code::OK)
}

fn render_script(script: &ScriptView) -> String {
    let mut out = format!(
        "script {}  version {}  added {}\n",
        script.name,
        short_hash(&script.hash),
        format_utc(script.created_at_ms)
    );
    let grants = &script.grants;
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    out.push_str(&format!(
        "fetch from: {}\nprivate addresses: {}\nsecrets: {}\nstate namespace: {}\n",
        list(&grants.allow_net),
        list(&grants.allow_private),
        list(&grants.secrets),
        grants.state_namespace
    ));
    if script.versions.len() > 1 {
        out.push_str("versions (newest first):\n");
        for version in &script.versions {
            out.push_str(&format!(
                "  {}  {}{}\n",
                short_hash(&version.hash),
                format_utc(version.created_at_ms),
                if version.current { "  (current)" } else { "" }
            ));
        }
    }
    out.push('\n');
    match decode(&script.source) {
        Ok(Some(bundle)) => render_bundle(&mut out, &bundle),
        _ => push_text(&mut out, &script.source),
    }
    out
}

/// A multi-file version: its entry, then every file under a header with its path.
fn render_bundle(out: &mut String, bundle: &ScriptBundle) {
    out.push_str(&format!(
        "{} files, entry {}\n",
        bundle.files.len(),
        bundle.entry
    ));
    for (path, text) in &bundle.files {
        out.push_str(&format!("\n--- {path} ({} bytes)\n", text.len()));
        push_text(out, text);
    }
}

fn push_text(out: &mut String, text: &str) {
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
}

pub fn render_list(scripts: &[ScriptSummary]) -> String {
    if scripts.is_empty() {
        return "no scripts yet: add one with `jobvisor scripts add NAME FILE`\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("VERSION", Align::Left),
        ("SIZE", Align::Right),
        ("VERSIONS", Align::Right),
        ("ADDED", Align::Left),
    ]);
    for s in scripts {
        table.row(vec![
            s.name.clone(),
            short_hash(&s.hash).to_owned(),
            format_size_approx(s.source_bytes),
            s.versions.to_string(),
            format_utc(s.created_at_ms),
        ]);
    }
    table.render()
}
