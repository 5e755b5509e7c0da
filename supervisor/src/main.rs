//! The `jobvisor` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use jobvisor::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Run(args) => jobvisor::cli::run::execute(args),
    };
    ExitCode::from(code)
}
