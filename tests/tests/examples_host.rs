//! The bundled examples that reach the network, run by the daemon on the example config
//! (`examples/jobvisor.toml`, copied with its scripts into a temporary directory) against
//! a real HTTP server on loopback: the feed, the webhook and the token endpoint are local.
//! The only change to the config is where its state goes and `[fetch] allow_private` for
//! the local server, which stands in for the public hosts.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::http_server::{HttpServer, SeenRequest};
use jobvisor_tests::result_of;
use jobvisor_tests::run_file;
use jobvisor_tests::store_view::JobState;
use jobvisor_tests::tokens;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn feed(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures/examples").join(name)).expect("a feed fixture")
}

/// The example config and scripts in a new temporary directory, state and run dir inside
/// it, the test server allowed, and `secrets` (name, value) in its secrets directory.
fn example_daemon(server: &HttpServer, secrets: &[(&str, &[u8])]) -> Daemon {
    let dir = tempfile::Builder::new()
        .prefix("jobvisor-examples-")
        .tempdir()
        .expect("temp dir");
    let examples = dir.path().join("examples");
    std::fs::create_dir(&examples).expect("mkdir");
    for entry in std::fs::read_dir(repo().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, examples.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let config = examples.join("jobvisor.toml");
    let text = std::fs::read_to_string(&config).expect("the example config");
    let line = "state_dir = \"../jobvisor-data\"";
    assert!(
        text.contains(line),
        "the example config keeps its state in ../jobvisor-data"
    );
    let text = text.replace(line, "state_dir = \"../data\"\nrun_dir = \"../run\"")
        + &format!("\n[fetch]\nallow_private = [\"{}\"]\n", server.host_port());
    std::fs::write(&config, text).expect("write the config");

    let data = dir.path().join("data");
    let secrets_dir = data.join("secrets");
    std::fs::create_dir_all(&secrets_dir).expect("mkdir");
    for path in [&data, &secrets_dir] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    for (name, value) in secrets {
        let path = secrets_dir.join(name);
        std::fs::write(&path, value).expect("write a secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let mut daemon = Daemon {
        log: dir.path().join("daemon.log"),
        dir,
        config,
        child: None,
    };
    daemon.launch();
    daemon
}

#[test]
fn the_feed_poller_enqueues_each_new_item_once_and_keeps_its_cursor() {
    let server = HttpServer::start();
    server.file(
        "/feed.rss",
        "application/rss+xml",
        Some("\"rss-1\""),
        &feed("feed.rss"),
    );
    server.file(
        "/feed.atom",
        "application/atom+xml",
        None,
        &feed("feed.atom"),
    );
    let daemon = example_daemon(&server, &[]);
    let rss = json!({ "url": server.url("/feed.rss") });

    let first = daemon.run_job("rss-poller", &rss);
    let result = result_of(&first);
    assert_eq!(result["items"], 3, "{first:#}");
    // In feed order (children are enqueued oldest first); the item without a guid is
    // known by its link.
    assert_eq!(
        result["enqueued"],
        json!([
            "release-1.2",
            "https://example.com/posts/cafe",
            "https://example.com/posts/no-guid"
        ]),
        "{first:#}"
    );
    let children = first["children"].as_array().expect("children").clone();
    assert_eq!(children.len(), 3, "{first:#}");
    daemon.wait_for("the items handled", Duration::from_secs(30), || {
        children
            .iter()
            .all(|c| daemon.job_state(c.as_i64().expect("id")) == JobState::Completed)
    });
    let handled = daemon.show_job(children[2].as_i64().expect("id"));
    assert_eq!(
        result_of(&handled)["title"],
        "Release 1.2 <beta> & notes",
        "CDATA as it is: {handled:#}"
    );
    let second = daemon.show_job(children[1].as_i64().expect("id"));
    assert_eq!(
        result_of(&second)["title"],
        "Café <ops> update",
        "entities decoded"
    );

    // The ETag of the last poll is sent: not modified, nothing new.
    let again = daemon.run_job("rss-poller", &rss);
    assert_eq!(result_of(&again)["status"], 304, "{again:#}");
    assert_eq!(again["children"], json!([]), "{again:#}");
    let last = server.requests().pop().expect("a request");
    assert_eq!(last.header("if-none-match"), Some("\"rss-1\""));

    // A changed feed: only the new item is handed on.
    let grown = String::from_utf8(feed("feed.rss"))
        .expect("utf-8")
        .replacen(
            "<item>",
            "<item><title>Release 1.3</title><guid>release-1.3</guid></item>\n    <item>",
            1,
        );
    server.file(
        "/feed.rss",
        "application/rss+xml",
        Some("\"rss-2\""),
        grown.as_bytes(),
    );
    let third = daemon.run_job("rss-poller", &rss);
    assert_eq!(
        result_of(&third)["enqueued"],
        json!(["release-1.3"]),
        "{third:#}"
    );

    // An Atom feed has a cursor of its own.
    let atom = daemon.run_job("rss-poller", &json!({ "url": server.url("/feed.atom") }));
    assert_eq!(result_of(&atom)["items"], 2, "{atom:#}");
    assert_eq!(
        atom["children"].as_array().map(Vec::len),
        Some(2),
        "{atom:#}"
    );
    let state = daemon.cli(&["state", "list", "rss-poller", "--json"]);
    let state: Value = serde_json::from_slice(&state.stdout).expect("state list --json");
    assert_eq!(
        state["entries"].as_array().map(Vec::len),
        Some(2),
        "{state:#}"
    );

    // A feed that fails leaves no cursor and no child.
    let missing = daemon.run_job_with(
        "rss-poller",
        &json!({ "url": server.url("/status/500") }),
        &["--max-attempts", "1"],
    );
    assert_eq!(missing["state"], "discarded", "{missing:#}");
    assert_eq!(missing["children"], json!([]), "{missing:#}");
    let error = missing["attempts"][0]["error"]["message"].to_string();
    assert!(error.contains("answered 500"), "{error}");
}

#[test]
fn the_feed_poller_keeps_its_cursor_in_a_state_file_under_jobvisor_run() {
    let server = HttpServer::start();
    server.file("/feed.rss", "application/rss+xml", None, &feed("feed.rss"));
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("rss.json");
    let args = |payload: &Value| {
        vec![
            "--json".to_owned(),
            "--allow-private".to_owned(),
            server.host_port(),
            "--state-file".to_owned(),
            state.display().to_string(),
            "--payload".to_owned(),
            payload.to_string(),
        ]
    };
    let payload = json!({ "url": server.url("/feed.rss") });
    let script = repo().join("examples/rss-poller.js");
    let run = |payload: &Value| {
        let args = args(payload);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_file(&script, &args);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        out.report()
    };
    let first = run(&payload);
    assert_eq!(
        first["children"].as_array().map(Vec::len),
        Some(3),
        "{first:#}"
    );
    let second = run(&payload);
    assert_eq!(second["result"]["enqueued"], json!([]), "{second:#}");
    assert_eq!(second["children"], json!([]), "{second:#}");
}

#[test]
fn the_webhook_relay_signs_the_exact_body_it_sends() {
    let server = HttpServer::start();
    let key = "relay-key-5e0c7a2b9d41";
    let daemon = example_daemon(&server, &[("RELAY_HMAC", key.as_bytes())]);
    let event = json!({ "type": "deploy", "service": "api", "ok": true });
    let job = daemon.run_job(
        "webhook-relay",
        &json!({ "url": server.url("/hooks/jobvisor"), "event": event }),
    );
    let result = result_of(&job);
    assert_eq!(result["status"], 200, "{job:#}");
    let seen: Vec<SeenRequest> = server.requests();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&request.body).expect("JSON"),
        event
    );
    let expected: String = tokens::hmac_sha256(daemon.dir.path(), key, &request.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        request.header("x-signature"),
        Some(format!("sha256={expected}").as_str()),
        "HMAC-SHA256 of the body as sent"
    );
    assert_eq!(
        request.header("x-jobvisor-job"),
        Some(job["id"].to_string().as_str())
    );

    // A receiver that refuses fails the job with its status.
    let job = daemon.run_job_with(
        "webhook-relay",
        &json!({ "url": server.url("/status/404"), "event": event }),
        &["--max-attempts", "1"],
    );
    assert_eq!(job["state"], "discarded", "{job:#}");
    let error = job["attempts"][0]["error"]["message"].to_string();
    assert!(error.contains("answered 404"), "{error}");
}

/// The value of form field `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = String::from_utf8_lossy(body);
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.replace("%3A", ":").replace('+', " "))
    })
}

#[test]
fn the_service_account_example_exchanges_a_verified_jwt_and_caches_the_token() {
    let server = HttpServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = tokens::fresh_key(dir.path(), tokens::RSA_2048);
    // The service-account JSON file as Google hands it out.
    let account = json!({
        "type": "service_account",
        "client_email": "reporter@example-project.iam.gserviceaccount.com",
        "private_key_id": "0123456789abcdef",
        "private_key": key,
        "token_uri": server.url("/token"),
    });
    let daemon = example_daemon(
        &server,
        &[("GOOGLE_SA_KEY", account.to_string().as_bytes())],
    );
    server.file(
        "/token",
        "application/json",
        None,
        br#"{"access_token":"ya29.local-token","expires_in":3600,"token_type":"Bearer"}"#,
    );
    let payload = json!({
        "clientEmail": "reporter@example-project.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/cloud-platform.read-only",
        "api": server.url("/v1/projects"),
        "tokenUri": server.url("/token"),
    });

    let job = daemon.run_job("google-service-account", &payload);
    let result = result_of(&job);
    assert_eq!(result["cachedToken"], false, "{job:#}");
    assert_eq!(
        result["data"]["headers"]["authorization"],
        "Bearer ya29.local-token"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "the exchange, then the call");
    let exchange = &seen[0];
    assert_eq!(
        (exchange.method.as_str(), exchange.path.as_str()),
        ("POST", "/token")
    );
    assert_eq!(
        form_field(&exchange.body, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let assertion = form_field(&exchange.body, "assertion").expect("an assertion");
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "{assertion}");
    let header: Value = serde_json::from_slice(&tokens::from_base64url(parts[0])).expect("JSON");
    assert_eq!(header, json!({ "alg": "RS256", "typ": "JWT" }));
    let claims: Value = serde_json::from_slice(&tokens::from_base64url(parts[1])).expect("JSON");
    assert_eq!(claims["iss"], payload["clientEmail"]);
    assert_eq!(claims["aud"], payload["tokenUri"]);
    assert_eq!(
        claims["exp"]
            .as_i64()
            .zip(claims["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(3600)
    );
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    assert!(
        tokens::verifies(
            dir.path(),
            signing_input.as_bytes(),
            &tokens::from_base64url(parts[2])
        ),
        "the JWT verifies with the account's public key"
    );
    assert!(!String::from_utf8_lossy(&exchange.body).contains("PRIVATE KEY"));

    // The next job uses the cached token: one more request, the call.
    let job = daemon.run_job("google-service-account", &payload);
    assert_eq!(result_of(&job)["cachedToken"], true, "{job:#}");
    assert_eq!(server.request_count(), 3);

    // `secrets list` shows both example secrets; the one provided is found.
    let listed = daemon.cli(&["secrets", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("secrets list --json");
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["GOOGLE_SA_KEY", "RELAY_HMAC"], "{listed:#}");
}
