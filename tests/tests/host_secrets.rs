//! Secrets end to end: real daemons with a secrets directory, a real HTTP server on
//! loopback that records what reached it, the database file and its WAL read byte by
//! byte, and `openssl` checking the signatures the daemon made.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jobvisor_tests::config::{ConfigBuilder, Grants, Secret};
use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::fixture;
use jobvisor_tests::http_server::HttpServer;
use jobvisor_tests::result_of;
use jobvisor_tests::tokens;
use serde_json::{Value, json};

/// Writes `value` as secret `name` in `dir`, private to its owner.
fn write_secret(dir: &Path, name: &str, value: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value).expect("write the secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// A secrets directory private to its owner.
fn secrets_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

fn base_config(secrets: &Path) -> ConfigBuilder {
    ConfigBuilder::new()
        .workers(1)
        .job_timeout("20s")
        .kill_grace("200ms")
        .max_attempts(1)
        .restart_backoff("10ms", "50ms")
        .secrets_dir(secrets)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_reference_is_sent_only_by_a_granted_script_to_a_bound_host() {
    let server = HttpServer::start();
    let secrets = secrets_dir();
    let token = "tok-8f2c91d4e7a65b30";
    write_secret(secrets.path(), "TOKEN", token.as_bytes());
    let loopback = server.host_port();
    let by_name = format!("localhost:{}", server.port());
    let daemon = Daemon::start_with(
        base_config(secrets.path())
            .secret(Secret::named("TOKEN").hosts(&["127.0.0.1"]))
            .script_with_grants(
                "granted",
                &fixture::job("secret-ref-fetch"),
                Grants::new()
                    .allow_private(&[&loopback, &by_name])
                    .secrets(&["TOKEN"]),
            )
            .script_with_grants(
                "ungranted",
                &fixture::job("secret-ref-fetch"),
                Grants::new().allow_private(&[&loopback]),
            ),
    );

    let job = daemon.run_job(
        "granted",
        &json!({ "url": server.url("/echo"), "name": "TOKEN" }),
    );
    let result = result_of(&job);
    assert_eq!(result["status"], 200, "{job:#}");
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the reference is replaced at egress"
    );
    assert_eq!(
        result["body"]["headers"]["authorization"], "Bearer [redacted]",
        "the echo handed the value back; the stored result masks it: {job:#}"
    );

    // A script without the grant: refused before anything is sent.
    let job = daemon.run_job(
        "ungranted",
        &json!({ "url": server.url("/echo"), "name": "TOKEN" }),
    );
    let error = &result_of(&job)["error"];
    assert_eq!(error["typeError"], true, "{job:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("TOKEN")
            && message.contains("not granted")
            && message.contains("ungranted"),
        "{message}"
    );

    // The same server by another name: the secret is not bound to it.
    let job = daemon.run_job(
        "granted",
        &json!({ "url": format!("http://{by_name}/echo"), "name": "TOKEN" }),
    );
    let error = &result_of(&job)["error"];
    assert_eq!(error["typeError"], true, "{job:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not bound to")
            && message.contains(&by_name)
            && message.contains("127.0.0.1"),
        "{message}"
    );
    assert_eq!(
        server.request_count(),
        1,
        "no refused request reached the server"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization") != Some("Bearer JOBVISOR-SECRET~TOKEN~")),
        "no reference leaves unreplaced"
    );
}

#[test]
fn an_exposed_secret_never_reaches_the_database_file() {
    let server = HttpServer::start();
    let secrets = secrets_dir();
    // With `/` and `+`, so that its Base64 and percent-encoded forms differ from it.
    let value = "leak/value+7d1e93ab5c";
    let forms: [&str; 3] = [
        value,
        "bGVhay92YWx1ZSs3ZDFlOTNhYjVj",
        "leak%2Fvalue%2B7d1e93ab5c",
    ];
    write_secret(secrets.path(), "LEAK", value.as_bytes());
    let mut daemon = Daemon::start_with(
        base_config(secrets.path())
            .secret(Secret::named("LEAK").hosts(&["127.0.0.1"]).exposed())
            .script_with_grants(
                "leaker",
                &fixture::job("secret-leak"),
                Grants::new()
                    .allow_private(&[&server.host_port()])
                    .secrets(&["LEAK"]),
            ),
    );
    let payload = json!({ "name": "LEAK", "url": server.url("/echo") });
    let job = daemon.run_job("leaker", &payload);
    let result = result_of(&job);
    for field in ["value", "base64", "echoed"] {
        assert_eq!(result[field], "[redacted]", "{field}: {job:#}");
    }
    let console = job["attempts"][0]["console"].to_string();
    assert!(
        console.contains("the value is [redacted] [redacted]"),
        "{console}"
    );
    let mut thrown = payload.clone();
    thrown["throw"] = true.into();
    let job = daemon.run_job("leaker", &thrown);
    assert_eq!(job["state"], "discarded", "{job:#}");
    let error = job["attempts"][0]["error"].to_string();
    assert!(
        error.contains("leaking [redacted] and [redacted]"),
        "{error}"
    );
    // It did go out, in the header the job set.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-leak") == Some(value))
    );

    let files = |daemon: &Daemon| {
        let db = daemon.database();
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        [db, wal, daemon.log.clone()]
    };
    let check = |daemon: &Daemon, when: &str| {
        let mut redacted = false;
        for file in files(daemon) {
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            for form in forms {
                assert!(
                    !contains(&bytes, form.as_bytes()),
                    "{when}: {} holds `{form}`",
                    file.display()
                );
            }
            redacted |= contains(&bytes, b"[redacted]");
        }
        assert!(redacted, "{when}: the masked output was stored");
    };
    let wal = files(&daemon)[1].clone();
    assert!(
        std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
        "the WAL holds the last writes while the daemon runs"
    );
    check(&daemon, "while running");
    daemon.stop();
    check(&daemon, "after a stop");
}

/// The signature bytes a `secret-sign` job returned.
fn signature_of(job: &Value) -> Vec<u8> {
    result_of(job)
        .as_array()
        .unwrap_or_else(|| panic!("bytes: {job:#}"))
        .iter()
        .map(|b| u8::try_from(b.as_u64().expect("a byte")).expect("a byte"))
        .collect()
}

#[test]
fn host_signatures_verify_with_openssl_and_never_need_the_value() {
    let secrets = secrets_dir();
    let (rsa, ec) = (secrets.path().join("rsa"), secrets.path().join("ec"));
    for dir in [&rsa, &ec] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    tokens::fresh_key(&rsa, tokens::RSA_2048);
    tokens::fresh_key(&ec, tokens::P256);
    let hmac_key = "hmac-key-3b9f0c2e71";
    write_secret(secrets.path(), "HOOK_KEY", hmac_key.as_bytes());
    let daemon = Daemon::start_with(
        base_config(secrets.path())
            .secret(Secret::named("SA_KEY").file(&rsa.join("key.pem")))
            .secret(Secret::named("EC_KEY").file(&ec.join("key.pem")))
            .secret(Secret::named("HOOK_KEY"))
            .script_with_grants(
                "signer",
                &fixture::job("secret-sign"),
                Grants::new().secrets(&["SA_KEY", "EC_KEY", "HOOK_KEY"]),
            )
            .script("other", &fixture::job("secret-sign")),
    );
    let data = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqb2J2aXNvciJ9";
    let sign = |name: &str, alg: &str| {
        daemon.run_job("signer", &json!({ "name": name, "alg": alg, "data": data }))
    };
    let rs256 = signature_of(&sign("SA_KEY", "RS256"));
    assert_eq!(rs256.len(), 256, "a 2048-bit key's signature");
    assert!(
        tokens::verifies(&rsa, data.as_bytes(), &rs256),
        "RS256 verifies"
    );
    let es256 = signature_of(&sign("EC_KEY", "ES256"));
    assert_eq!(es256.len(), 64, "r || s");
    assert!(
        tokens::verifies(&ec, data.as_bytes(), &tokens::ecdsa_der(&es256)),
        "ES256 verifies"
    );
    let mut tampered = rs256.clone();
    tampered[10] ^= 1;
    assert!(
        !tokens::verifies(&rsa, data.as_bytes(), &tampered),
        "the check can fail"
    );

    let hs256 = signature_of(&sign("HOOK_KEY", "HS256"));
    assert_eq!(
        hs256,
        tokens::hmac_sha256(secrets.path(), hmac_key, data.as_bytes()),
        "HS256 is openssl's HMAC-SHA-256"
    );

    // A key of the wrong type, and a script without the grant, are clear errors.
    let job = sign("EC_KEY", "RS256");
    assert_eq!(job["state"], "discarded", "{job:#}");
    let error = job["attempts"][0]["error"]["message"].to_string();
    assert!(error.contains("RS256 needs an RSA key"), "{error}");
    let job = daemon.run_job(
        "other",
        &json!({ "name": "SA_KEY", "alg": "RS256", "data": data }),
    );
    assert_eq!(job["state"], "discarded", "{job:#}");
    let error = job["attempts"][0]["error"]["message"].to_string();
    assert!(error.contains("not granted"), "{error}");
}

#[test]
fn secrets_list_shows_names_hosts_and_grants_and_never_a_value() {
    let secrets = secrets_dir();
    let value = "list-me-not-4c8e2a91f0";
    write_secret(secrets.path(), "TOKEN", value.as_bytes());
    let daemon = Daemon::start_with(
        base_config(secrets.path())
            .secret(Secret::named("TOKEN").hosts(&["api.example.com", "*.example.org"]))
            .secret(Secret::named("ABSENT").exposed())
            .script_with_grants(
                "poller",
                &fixture::job("secret-ref-fetch"),
                Grants::new().secrets(&["TOKEN", "ABSENT"]),
            ),
    );
    let text = daemon.cli(&["secrets", "list"]);
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for expected in [
        "TOKEN",
        "api.example.com",
        "*.example.org",
        "poller",
        "ABSENT",
        "missing",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    assert!(
        text.contains("\nABSENT: secret ABSENT has no value: "),
        "the reason follows the table:\n{text}"
    );
    let json = daemon.cli(&["secrets", "list", "--json"]);
    assert!(json.status.success(), "{json:?}");
    let listed: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let token = listed
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == "TOKEN"))
        .unwrap_or_else(|| panic!("TOKEN in {listed:#}"));
    assert_eq!(
        token["hosts"],
        json!(["api.example.com", "*.example.org"]),
        "{listed:#}"
    );
    assert_eq!(token["granted_to"], json!(["poller"]), "{listed:#}");
    for out in [&text, &String::from_utf8_lossy(&json.stdout).into_owned()] {
        assert!(!out.contains(value), "a value listed:\n{out}");
    }
    // The absent one was a warning at start, and its use is refused with where it was
    // looked for.
    assert!(
        daemon.log_text().contains("ABSENT"),
        "{}",
        daemon.log_text()
    );
}

#[test]
fn a_secret_file_others_can_read_stops_the_daemon_at_start() {
    let secrets = secrets_dir();
    let path = write_secret(secrets.path(), "TOKEN", b"readable-by-all-0a9c3e");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let daemon = Daemon::prepare_with(
        base_config(secrets.path())
            .secret(Secret::named("TOKEN"))
            .script_with_grants(
                "poller",
                &fixture::job("secret-ref-fetch"),
                Grants::new().secrets(&["TOKEN"]),
            ),
    );
    let status = daemon
        .serve_until_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the daemon started:\n{}", daemon.log_text()));
    assert_eq!(status.code(), Some(78), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(
        log.contains(&path.display().to_string())
            && log.contains("0644")
            && log.contains("chmod 600"),
        "the refusal names the file, its mode and the fix:\n{log}"
    );
    assert!(!log.contains("readable-by-all-0a9c3e"), "{log}");
}

#[test]
fn jobvisor_run_refuses_bad_secret_and_host_flags_before_it_starts() {
    let dir = secrets_dir();
    let private = write_secret(dir.path(), "private", b"run-secret-value-77");
    let public = write_secret(dir.path(), "public", b"run-secret-value-78");
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let at = |path: &Path| format!("TOKEN=@{}", path.display());
    let missing = dir.path().join("absent");
    let script = fixture::job_path("echo");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--secret".into(), "TOKEN".into()], "write NAME=@FILE"),
        (
            vec!["--secret".into(), "TOKEN=value".into()],
            "never given on the command line",
        ),
        (
            vec!["--secret".into(), "TOKEN=@".into()],
            "name the file after `@`",
        ),
        (
            vec![
                "--secret".into(),
                format!("bad-name=@{}", private.display()),
            ],
            "1 to 64 letters",
        ),
        (vec!["--secret".into(), at(&missing)], "No such file"),
        (vec!["--secret".into(), at(&public)], "chmod 600"),
        (
            vec![
                "--secret".into(),
                at(&private),
                "--secret".into(),
                at(&private),
            ],
            "given twice",
        ),
        (
            vec!["--expose-secret".into(), "NOPE".into()],
            "no --secret NOPE=@FILE",
        ),
        (
            vec!["--allow-net".into(), "http://api.example.com/".into()],
            "--allow-net entry",
        ),
        (
            vec!["--allow-private".into(), "10.0.0.5".into()],
            "--allow-private entry",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = jobvisor_tests::run_file(&script, &args);
        assert_eq!(out.code, 2, "{args:?}: {}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("run-secret-value"), "{}", out.stderr);
    }
}
