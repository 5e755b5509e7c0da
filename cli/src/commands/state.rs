//! `jobvisor state list|get|set|delete SCRIPT`: a script's durable state (`ctx.state`),
//! read and written at once, outside any job: to look at a poller's cursor, or reset it.

use jobvisor_protocol::control::{StateChange, StateListQuery, StateView};

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::units::{format_utc, parse_timeout};

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// List the keys of SCRIPT's state namespace, in key order, with their versions.
    List {
        /// The script (its `state_namespace`, or its own name, is listed).
        script: String,
        /// Only keys that start with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only keys after this one (the last key of a page gives the next page).
        #[arg(long)]
        after: Option<String>,
        /// Most keys to show (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Print the value of KEY (JSON) in SCRIPT's state namespace.
    Get {
        /// The script whose namespace holds the key.
        script: String,
        /// The key.
        key: String,
    },
    /// Set KEY to VALUE (JSON text, e.g. '{"cursor": 42}' or '"text"').
    Set {
        /// The script whose namespace holds the key.
        script: String,
        /// The key (1 to 512 bytes).
        key: String,
        /// The value: JSON text (at most 64 KiB).
        value: String,
        /// Only if the key holds this version (0: only if it does not exist).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
        /// The value expires after this long (e.g. 10m, 7d).
        #[arg(long, value_parser = parse_timeout)]
        ttl: Option<std::time::Duration>,
    },
    /// Delete KEY.
    Delete {
        /// The script whose namespace holds the key.
        script: String,
        /// The key.
        key: String,
        /// Only if the key holds this version.
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
    },
}

pub async fn execute(args: &StateArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &StateArgs) -> Result<u8, ClientError> {
    let output = args.output;
    let mut client = Client::connect(&args.target).await?;
    match &args.command {
        StateCommand::List {
            script,
            prefix,
            after,
            limit,
        } => {
            let page = client
                .list_state(StateListQuery {
                    script: script.clone(),
                    prefix: prefix.clone(),
                    after: after.clone(),
                    limit: *limit,
                })
                .await?;
            output.print(&page, |page| {
                print!("{}", render_list(&page.namespace, &page.entries, page.more))
            });
        }
        StateCommand::Get { script, key } => {
            let found = client.get_state(script.clone(), key.clone()).await?;
            let Some(entry) = &found.entry else {
                return Err(ClientError::new(
                    exit_code::USAGE,
                    format!(
                        "no key `{key}` in the state of `{script}` (namespace `{}`)",
                        found.namespace
                    ),
                ));
            };
            output.print(&found, |_| println!("{}", entry.value));
        }
        StateCommand::Set {
            script,
            key,
            value,
            if_version,
            ttl,
        } => {
            if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(value) {
                return Err(ClientError::new(
                    exit_code::USAGE,
                    format!("the value must be JSON text ({err}); quote a string: '\"{value}\"'"),
                ));
            }
            let written = client
                .set_state(StateChange {
                    script: script.clone(),
                    key: key.clone(),
                    value: Some(value.clone()),
                    ttl_ms: ttl.map(|t| t.as_millis() as u64),
                    if_version: *if_version,
                })
                .await?;
            output.print(&written, |w| {
                println!(
                    "{} = {value} (namespace {}, version {})",
                    w.key,
                    w.namespace,
                    w.version.unwrap_or(0)
                )
            });
        }
        StateCommand::Delete {
            script,
            key,
            if_version,
        } => {
            let written = client
                .set_state(StateChange {
                    script: script.clone(),
                    key: key.clone(),
                    value: None,
                    ttl_ms: None,
                    if_version: *if_version,
                })
                .await?;
            output.print(&written, |w| {
                println!("{} deleted (namespace {})", w.key, w.namespace)
            });
        }
    }
    Ok(exit_code::OK)
}

/// Longest value shown in a listing; `state get` prints it whole.
const VALUE_SHOWN: usize = 60;

fn render_list(namespace: &str, entries: &[StateView], more: bool) -> String {
    if entries.is_empty() {
        return format!("no keys in namespace {namespace}\n");
    }
    let mut table = Table::new(&[
        ("KEY", Align::Left),
        ("VERSION", Align::Right),
        ("UPDATED", Align::Left),
        ("EXPIRES", Align::Left),
        ("VALUE", Align::Left),
    ]);
    for entry in entries {
        let mut value: String = entry.value.chars().take(VALUE_SHOWN).collect();
        if value.len() < entry.value.len() {
            value.push('…');
        }
        table.row(vec![
            entry.key.clone(),
            entry.version.to_string(),
            format_utc(entry.updated_at_ms),
            entry.expires_at_ms.map_or("-".to_owned(), format_utc),
            value,
        ]);
    }
    let mut out = table.render();
    if more {
        let last = entries.last().map_or("", |e| e.key.as_str());
        out.push_str(&format!("more keys follow: --after '{last}'\n"));
    }
    out
}
