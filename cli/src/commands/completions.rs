//! `jobvisor completions SHELL`: the shell completion script, from the command definitions.

use clap::CommandFactory;
use jobvisor_supervisor::exit_code;

use crate::args::Cli;

/// Writes the completion script for `shell` to stdout.
pub fn execute(shell: clap_complete::Shell) -> u8 {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "jobvisor", &mut std::io::stdout());
    exit_code::OK
}
