//! `jobvisor scripts add|list|show`.

use std::path::PathBuf;

use jobvisor_protocol::control::{Request, Response, ScriptSummary};

use super::client::{Client, ClientError, Target, daemon_error, unexpected};
use super::jobs::{print_json, short_hash};
use super::table::{Align, Table};
use crate::exit_code;
use crate::units::{format_size_approx, format_utc};

#[derive(Debug, clap::Subcommand)]
pub enum ScriptsCommand {
    /// Register FILE as the current version of script NAME (checked first: it must parse,
    /// evaluate and have a default-export function).
    Add {
        /// The script's name (letters, digits, `-`, `_`, `.`).
        name: String,
        /// The JavaScript module to register.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// List scripts with their current version.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Show a script's current source and its versions.
    Show {
        /// The script's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

impl ScriptsCommand {
    fn json(&self) -> bool {
        match self {
            ScriptsCommand::Add { json, .. }
            | ScriptsCommand::List { json, .. }
            | ScriptsCommand::Show { json, .. } => *json,
        }
    }
}

pub async fn execute(command: &ScriptsCommand) -> Result<u8, ClientError> {
    super::json_errors(command.json(), run(command)).await
}

async fn run(command: &ScriptsCommand) -> Result<u8, ClientError> {
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
            let response = Client::connect(target)
                .await?
                .request(&Request::AddScript {
                    name: name.clone(),
                    source,
                })
                .await?;
            match response {
                Response::ScriptAdded {
                    name,
                    hash,
                    created,
                } => {
                    if *json {
                        print_json(
                            &serde_json::json!({ "name": name, "hash": hash, "created": created }),
                        );
                    } else if created {
                        println!("script {name} version {} added", short_hash(&hash));
                    } else {
                        println!(
                            "script {name} version {} is already current",
                            short_hash(&hash)
                        );
                    }
                    Ok(exit_code::OK)
                }
                Response::Error(err) => Err(daemon_error(&err)),
                other => Err(unexpected(&other)),
            }
        }
        ScriptsCommand::List { json, target } => {
            match Client::connect(target)
                .await?
                .request(&Request::ListScripts)
                .await?
            {
                Response::Scripts(scripts) => {
                    if *json {
                        print_json(&serde_json::Value::Array(
                            scripts
                                .iter()
                                .map(|s| serde_json::json!({
                                    "name": s.name, "hash": s.hash, "created_at_ms": s.created_at_ms,
                                    "source_bytes": s.source_bytes, "versions": s.versions,
                                }))
                                .collect(),
                        ));
                    } else {
                        print!("{}", render_list(&scripts));
                    }
                    Ok(exit_code::OK)
                }
                Response::Error(err) => Err(daemon_error(&err)),
                other => Err(unexpected(&other)),
            }
        }
        ScriptsCommand::Show { name, json, target } => {
            match Client::connect(target)
                .await?
                .request(&Request::ShowScript { name: name.clone() })
                .await?
            {
                Response::Script(script) => {
                    if *json {
                        print_json(&serde_json::json!({
                            "name": script.name, "hash": script.hash, "created_at_ms": script.created_at_ms,
                            "source": script.source,
                            "versions": script.versions.iter().map(|(hash, at, current)| serde_json::json!({
                                "hash": hash, "created_at_ms": at, "current": current,
                            })).collect::<Vec<_>>(),
                        }));
                    } else {
                        println!(
                            "script {}  version {}  added {}",
                            script.name,
                            short_hash(&script.hash),
                            format_utc(script.created_at_ms)
                        );
                        if script.versions.len() > 1 {
                            println!("versions (newest first):");
                            for (hash, at, current) in &script.versions {
                                println!(
                                    "  {}  {}{}",
                                    short_hash(hash),
                                    format_utc(*at),
                                    if *current { "  (current)" } else { "" }
                                );
                            }
                        }
                        println!();
                        print!("{}", script.source);
                        if !script.source.ends_with('\n') {
                            println!();
                        }
                    }
                    Ok(exit_code::OK)
                }
                Response::Error(err) => Err(daemon_error(&err)),
                other => Err(unexpected(&other)),
            }
        }
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
