//! How commands print: `--json` documents (the `Serialize` of the views and answers), and
//! errors as JSON when `--json` was given.

use jobvisor_supervisor::exit_code;

use crate::args::Output;
use crate::client::ClientError;

impl Output {
    /// Prints `value` as JSON with `--json`, else as `text` renders it.
    pub fn print<T: serde::Serialize + ?Sized>(self, value: &T, text: impl FnOnce(&T)) {
        if self.json {
            print_json(value);
        } else {
            text(value);
        }
    }
}

/// Prints one `--json` document: compact, on one line (as every `--json` output is, so
/// streams and single answers read the same way), with the keys of every object in
/// alphabetical order, so the text does not depend on the order of a view's fields.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    match serde_json::to_value(value).and_then(|value| serde_json::to_string(&value)) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("jobvisor: cannot print JSON: {err}"),
    }
}

/// Runs a command's body; with `--json`, a failure is printed here as one JSON object on
/// stderr, `{"error": {"code": "...", "message": "..."}}`, and only its exit code goes on
/// (the exit code is the same as without `--json`).
pub async fn json_errors(
    json: bool,
    body: impl Future<Output = Result<u8, ClientError>>,
) -> Result<u8, ClientError> {
    match body.await {
        Err(err) if json => {
            eprintln!("{}", json_error(err.code, &err.message));
            Ok(err.code)
        }
        other => other,
    }
}

/// The JSON text of an error: `code` names the exit code (`usage` for 2, `conflict` for
/// 8, `not_running` for 69, `failure` otherwise).
pub fn json_error(exit: u8, message: &str) -> String {
    let code = match exit {
        exit_code::USAGE => "usage",
        exit_code::CONFLICT => "conflict",
        exit_code::NOT_RUNNING => "not_running",
        _ => "failure",
    };
    #[derive(serde::Serialize)]
    struct ErrorJson<'a> {
        error: ErrorBody<'a>,
    }
    #[derive(serde::Serialize)]
    struct ErrorBody<'a> {
        code: &'static str,
        message: &'a str,
    }
    let error = ErrorJson {
        error: ErrorBody { code, message },
    };
    // A struct of two strings always serialises; the fallback keeps the promise of JSON.
    serde_json::to_string(&error)
        .unwrap_or_else(|_| format!(r#"{{"error":{{"code":"{code}","message":""}}}}"#))
}
