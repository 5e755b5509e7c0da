//! `jobvisor scripts add NAME FILE`: register a new version of a script.

use std::path::PathBuf;

use jobvisor_protocol::control::{Request, Response};

use super::client::{Client, ClientError, Target, daemon_error};
use crate::exit_code;

#[derive(Debug, clap::Subcommand)]
pub enum ScriptsCommand {
    /// Register FILE as the current version of script NAME.
    Add {
        name: String,
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn execute(command: &ScriptsCommand) -> Result<u8, ClientError> {
    match command {
        ScriptsCommand::Add {
            name,
            file,
            json,
            target,
        } => {
            let source = std::fs::read_to_string(file).map_err(|e| {
                ClientError::new(
                    exit_code::USAGE,
                    format!("cannot read script {}: {e}", file.display()),
                )
            })?;
            let mut client = Client::connect(target).await?;
            match client
                .request(&Request::AddScript {
                    name: name.clone(),
                    source,
                })
                .await?
            {
                Response::ScriptAdded {
                    name,
                    hash,
                    created,
                } => {
                    if *json {
                        println!(
                            "{}",
                            serde_json::json!({ "name": name, "hash": hash, "created": created })
                        );
                    } else if created {
                        println!(
                            "script {name} version {} added",
                            &hash[..12.min(hash.len())]
                        );
                    } else {
                        println!(
                            "script {name} version {} is already current",
                            &hash[..12.min(hash.len())]
                        );
                    }
                    Ok(exit_code::OK)
                }
                Response::Error(err) => Err(daemon_error(&err)),
                other => Err(ClientError::new(
                    exit_code::FAILURE,
                    format!("unexpected answer: {other:?}"),
                )),
            }
        }
    }
}
