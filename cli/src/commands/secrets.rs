//! `jobvisor secrets list`: the secrets the daemon holds, the hosts each may be sent to and
//! the scripts granted it. Never a value.

use jobvisor_protocol::control::SecretView;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::table::{Align, Table};
use jobvisor_supervisor::exit_code;

#[derive(Debug, clap::Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// List the secrets: name, hosts, whether scripts may read the value, source, grants.
    List,
}

pub async fn execute(args: &SecretsArgs) -> Result<u8, ClientError> {
    crate::output::json_errors(args.output.json, run(args)).await
}

async fn run(args: &SecretsArgs) -> Result<u8, ClientError> {
    let mut client = Client::connect(&args.target).await?;
    match &args.command {
        SecretsCommand::List => {
            let secrets = client.list_secrets().await?;
            args.output
                .print(secrets.as_slice(), |s| print!("{}", render_list(s)));
        }
    }
    Ok(exit_code::OK)
}

fn render_list(secrets: &[SecretView]) -> String {
    if secrets.is_empty() {
        return "no secrets (declare them with [[secret]] in the config)\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("HOSTS", Align::Left),
        ("EXPOSED", Align::Left),
        ("BYTES", Align::Right),
        ("SOURCE", Align::Left),
        ("GRANTED TO", Align::Left),
    ]);
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(",")
        }
    };
    // A missing secret's source is `missing (WHY)`: the table says `missing`, and why
    // follows it, one line each, so the columns stay readable.
    let mut missing = Vec::new();
    for secret in secrets {
        let why = secret
            .source
            .strip_prefix("missing (")
            .and_then(|rest| rest.strip_suffix(')'));
        if let Some(why) = why {
            missing.push(format!("{}: {why}\n", secret.name));
        }
        table.row(vec![
            secret.name.clone(),
            list(&secret.hosts),
            if secret.expose { "yes" } else { "no" }.to_owned(),
            if why.is_some() {
                "-".to_owned()
            } else {
                secret.bytes.to_string()
            },
            if why.is_some() {
                "missing".to_owned()
            } else {
                secret.source.clone()
            },
            list(&secret.granted_to),
        ]);
    }
    let mut out = table.render();
    if !missing.is_empty() {
        out.push('\n');
        out.extend(missing);
    }
    out
}
