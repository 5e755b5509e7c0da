#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jobvisor_protocol::host::secret_ref;

use super::*;

/// Writes secret file `name` with `contents` and `mode`.
fn write_secret(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn spec(name: &str, hosts: &[&str]) -> SecretSpec {
    SecretSpec {
        name: name.to_owned(),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        expose: false,
        source: None,
    }
}

/// A secrets directory (mode 0700) and the store loaded from it.
fn store_with(files: &[(&str, &str)], specs: &[SecretSpec]) -> (tempfile::TempDir, SecretStore) {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    for (name, value) in files {
        write_secret(dir.path(), name, value.as_bytes(), 0o600);
    }
    let store = SecretStore::load(specs, dir.path(), None).unwrap();
    (dir, store)
}

fn load_err(dir: &Path, specs: &[SecretSpec], credentials: Option<&Path>) -> String {
    SecretStore::load(specs, dir, credentials)
        .unwrap_err()
        .to_string()
}

const GITHUB: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";

#[test]
fn a_file_is_read_once_without_one_trailing_newline() {
    let (_dir, store) = store_with(
        &[
            ("GITHUB_TOKEN", &format!("{GITHUB}\n")),
            ("TWO", "line one\n\n"),
        ],
        &[spec("GITHUB_TOKEN", &["api.github.com"]), spec("TWO", &[])],
    );
    let granted = store
        .grant("poll", &["GITHUB_TOKEN".to_owned(), "TWO".to_owned()])
        .unwrap();
    assert_eq!(
        granted
            .substitute(secret_ref("GITHUB_TOKEN").as_bytes(), "api.github.com", 443)
            .unwrap()
            .unwrap(),
        GITHUB.as_bytes()
    );
    let info = store.list();
    assert_eq!(info[0].name, "GITHUB_TOKEN");
    assert_eq!(info[0].bytes, GITHUB.len());
    assert_eq!(info[1].bytes, "line one\n".len(), "only one newline goes");
    assert!(store.warnings().is_empty());
}

#[test]
fn a_file_others_can_read_or_write_is_refused_with_the_fix() {
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
        let dir = tempfile::tempdir().unwrap();
        let path = write_secret(dir.path(), "TOKEN", GITHUB.as_bytes(), mode);
        let message = load_err(dir.path(), &[spec("TOKEN", &[])], None);
        assert!(
            message.contains(&format!("run `chmod 600 {}`", path.display())),
            "{mode:o}: {message}"
        );
        assert!(message.contains(&format!("{mode:04o}")), "{message}");
    }
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "TOKEN", GITHUB.as_bytes(), 0o400);
    assert!(SecretStore::load(&[spec("TOKEN", &[])], dir.path(), None).is_ok());
}

#[test]
fn a_secrets_directory_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "TOKEN", GITHUB.as_bytes(), 0o600);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let message = load_err(dir.path(), &[spec("TOKEN", &[])], None);
    assert!(
        message.contains("can be written by group or others (mode 0777)"),
        "{message}"
    );
    assert!(message.contains("chmod 700"), "{message}");
    // No secret read from it by name, no check: a named file is checked by its mode.
    assert!(SecretStore::load(&[], dir.path(), None).is_ok());
    let named = [SecretSpec {
        source: Some(SecretSource::File("TOKEN".into())),
        ..spec("TOKEN", &[])
    }];
    assert!(SecretStore::load(&named, dir.path(), None).is_ok());
}

#[test]
fn empty_and_oversized_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "EMPTY", b"", 0o600);
    write_secret(dir.path(), "NEWLINE", b"\n", 0o600);
    let big = vec![b'x'; MAX_SECRET_BYTES + 1];
    write_secret(dir.path(), "BIG", &big, 0o600);
    let mut fits = vec![b'x'; MAX_SECRET_BYTES];
    fits.push(b'\n');
    write_secret(dir.path(), "FITS", &fits, 0o600);
    for name in ["EMPTY", "NEWLINE"] {
        let message = load_err(dir.path(), &[spec(name, &[])], None);
        assert!(message.ends_with("is empty"), "{message}");
    }
    let message = load_err(dir.path(), &[spec("BIG", &[])], None);
    assert!(message.contains("more than 64 KiB"), "{message}");
    let store = SecretStore::load(&[spec("FITS", &[])], dir.path(), None).unwrap();
    assert_eq!(store.list()[0].bytes, MAX_SECRET_BYTES);
}

#[test]
fn a_fifo_or_a_directory_is_not_a_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    nix::unistd::mkfifo(
        &dir.path().join("FIFO"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    fs::create_dir(dir.path().join("DIR")).unwrap();
    fs::set_permissions(dir.path().join("DIR"), fs::Permissions::from_mode(0o700)).unwrap();
    for name in ["FIFO", "DIR"] {
        let message = load_err(dir.path(), &[spec(name, &[])], None);
        assert!(message.ends_with("is not a regular file"), "{message}");
    }
}

#[test]
fn names_hosts_and_sources_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "OK", GITHUB.as_bytes(), 0o600);
    for name in ["", "bad-name", "ÄRGER", &"X".repeat(65)] {
        let message = load_err(dir.path(), &[spec(name, &[])], None);
        assert!(
            message.contains("letters, digits and `_`"),
            "{name}: {message}"
        );
    }
    let message = load_err(dir.path(), &[spec("OK", &[]), spec("OK", &[])], None);
    assert_eq!(message, "secret OK is defined twice");
    for (host, reason) in [
        ("https://api.github.com", "without a scheme"),
        ("api.github.com/x", "without a path"),
        ("api.*.com", "`*` may only stand for the subdomains"),
        ("*", "`*` may only stand for the subdomains"),
        ("*.com", "a domain with a dot"),
        ("host:0", "is not a port"),
        ("host:http", "is not a port"),
        ("", "empty"),
        ("[::1", "missing its closing `]`"),
    ] {
        let message = load_err(dir.path(), &[spec("OK", &[host])], None);
        assert!(message.contains(reason), "{host}: {message}");
        assert!(message.starts_with("secret OK: host"), "{message}");
    }
    let store = SecretStore::load(&[spec("MISSING", &[])], dir.path(), None).unwrap();
    let missing = store.warnings().join("\n");
    assert!(missing.contains("MISSING does not exist"), "{missing}");
    assert!(
        missing.contains("$CREDENTIALS_DIRECTORY is not set"),
        "{missing}"
    );
}

#[test]
fn credentials_come_from_the_credentials_directory_whatever_their_mode() {
    let secrets = tempfile::tempdir().unwrap();
    let credentials = tempfile::tempdir().unwrap();
    // systemd's own mode for credentials is 0400 by the unit's user; whatever it is, it
    // is systemd's to decide.
    write_secret(
        credentials.path(),
        "gmail-refresh",
        b"refresh-token-value\n",
        0o444,
    );
    write_secret(
        credentials.path(),
        "SLACK",
        b"xoxb-slack-token-value",
        0o440,
    );
    let specs = [
        SecretSpec {
            source: Some(SecretSource::Credential("gmail-refresh".to_owned())),
            ..spec("GMAIL", &["oauth2.googleapis.com"])
        },
        spec("SLACK", &["slack.com"]),
    ];
    let store = SecretStore::load(&specs, secrets.path(), Some(credentials.path())).unwrap();
    let info = store.list();
    assert_eq!(info[0].name, "GMAIL");
    assert_eq!(
        info[0].source,
        format!(
            "credential {}",
            credentials.path().join("gmail-refresh").display()
        )
    );
    assert_eq!(info[0].bytes, "refresh-token-value".len());
    assert!(info[1].source.starts_with("credential "), "{:?}", info[1]);

    // A file in the secrets directory comes first.
    write_secret(secrets.path(), "SLACK", b"xoxb-from-the-directory", 0o600);
    let store = SecretStore::load(&specs, secrets.path(), Some(credentials.path())).unwrap();
    assert!(store.list()[1].source.starts_with("file "));

    let message = load_err(secrets.path(), &specs, None);
    assert!(
        message.contains(
            "credential `gmail-refresh` is asked for but $CREDENTIALS_DIRECTORY is not set"
        ),
        "{message}"
    );
    let bad = [SecretSpec {
        source: Some(SecretSource::Credential("../etc/passwd".to_owned())),
        ..spec("BAD", &[])
    }];
    let message = load_err(secrets.path(), &bad, Some(credentials.path()));
    assert!(
        message.contains("a credential id is a file name"),
        "{message}"
    );
    let store = SecretStore::load(
        &[spec("NONE", &[])],
        secrets.path(),
        Some(credentials.path()),
    )
    .unwrap();
    let missing = store.warnings().join("\n");
    assert!(
        missing.contains(&format!(
            "neither does {}",
            credentials.path().join("NONE").display()
        )),
        "{missing}"
    );
}

#[test]
fn a_file_source_is_relative_to_the_secrets_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("github")).unwrap();
    write_secret(
        &dir.path().join("github"),
        "token",
        GITHUB.as_bytes(),
        0o600,
    );
    let specs = [SecretSpec {
        source: Some(SecretSource::File("github/token".into())),
        ..spec("GITHUB_TOKEN", &[])
    }];
    let store = SecretStore::load(&specs, dir.path(), None).unwrap();
    assert_eq!(
        store.list()[0].source,
        format!("file {}", dir.path().join("github/token").display())
    );
}

#[test]
fn short_values_load_with_a_warning() {
    let (_dir, store) = store_with(&[("PIN", "1234")], &[spec("PIN", &[])]);
    assert_eq!(store.warnings().len(), 1);
    assert!(store.warnings()[0].starts_with("secret PIN is shorter than 8 characters"));
}

#[test]
fn listings_and_debug_output_never_hold_a_value() {
    let (_dir, store) = store_with(
        &[("GITHUB_TOKEN", GITHUB)],
        &[spec("GITHUB_TOKEN", &["api.github.com", "*.github.com"])],
    );
    let json = serde_json::to_string(&store.list()).unwrap();
    assert!(
        json.contains(r#""hosts":["api.github.com","*.github.com"]"#),
        "{json}"
    );
    assert!(!json.contains(GITHUB));
    let granted = store.grant("poll", &["GITHUB_TOKEN".to_owned()]).unwrap();
    for debug in [format!("{store:?}"), format!("{granted:?}")] {
        assert!(debug.contains("GITHUB_TOKEN"), "{debug}");
        assert!(!debug.contains(GITHUB), "{debug}");
        assert!(!debug.contains(&URL_SAFE_NO_PAD.encode(GITHUB)), "{debug}");
    }
}

#[test]
fn a_grant_of_an_undefined_secret_names_it() {
    let (_dir, store) = store_with(&[("A_SECRET", GITHUB)], &[spec("A_SECRET", &[])]);
    let message = store.grant("poll", &["NOPE".to_owned()]).unwrap_err();
    assert_eq!(
        message,
        "script `poll` is granted secret NOPE, which is not defined (add a [[secret]] named NOPE)"
    );
    assert!(GrantedSecrets::none("poll").is_empty());
    let granted = store.grant("poll", &["A_SECRET".to_owned()]).unwrap();
    assert_eq!(granted.names().collect::<Vec<_>>(), ["A_SECRET"]);
}

/// A store with GITHUB_TOKEN (api.github.com), GOOGLE (`*.googleapis.com`), HOOK
/// (hooks.example.com:8443), LOCAL (no hosts) and OTHER, granted all but OTHER to `poll`.
fn substitution_fixture() -> (tempfile::TempDir, GrantedSecrets) {
    let (dir, store) = store_with(
        &[
            ("GITHUB_TOKEN", GITHUB),
            ("GOOGLE", "ya29.google-access-token"),
            ("HOOK", "hook secret&with=form chars"),
            ("LOCAL", "signing-only-value"),
            ("OTHER", "other-script-value"),
            ("SPELLED", "spelled-host-value"),
        ],
        &[
            spec("GITHUB_TOKEN", &["api.github.com"]),
            spec("GOOGLE", &["*.googleapis.com"]),
            spec("HOOK", &["hooks.example.com:8443", "[::1]:9000"]),
            spec("SPELLED", &["Bücher.example", "127.1"]),
            spec("LOCAL", &[]),
            spec("OTHER", &["api.github.com"]),
        ],
    );
    let names = ["GITHUB_TOKEN", "GOOGLE", "HOOK", "LOCAL", "SPELLED"].map(str::to_owned);
    (dir, store.grant("poll", &names).unwrap())
}

fn substituted(granted: &GrantedSecrets, input: &str, host: &str, port: u16) -> String {
    String::from_utf8(
        granted
            .substitute(input.as_bytes(), host, port)
            .unwrap()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn a_reference_is_replaced_towards_a_bound_host() {
    let (_dir, granted) = substitution_fixture();
    let header = format!("Bearer {}", secret_ref("GITHUB_TOKEN"));
    assert_eq!(
        substituted(&granted, &header, "api.github.com", 443),
        format!("Bearer {GITHUB}")
    );
    assert_eq!(
        substituted(&granted, &header, "API.GitHub.com.", 8080),
        format!("Bearer {GITHUB}")
    );
    let google = secret_ref("GOOGLE");
    assert_eq!(
        substituted(&granted, &google, "oauth2.googleapis.com", 443),
        "ya29.google-access-token"
    );
    assert_eq!(
        substituted(&granted, &google, "a.b.googleapis.com", 443),
        "ya29.google-access-token"
    );
    let hook = secret_ref("HOOK");
    assert_eq!(
        substituted(&granted, &hook, "hooks.example.com", 8443),
        "hook secret&with=form chars"
    );
    assert_eq!(
        substituted(&granted, &hook, "::1", 9000),
        "hook secret&with=form chars"
    );
    assert_eq!(
        substituted(&granted, &hook, "[::1]", 9000),
        "hook secret&with=form chars"
    );
    // Hosts are parsed as a URL's host is, the way fetch names the request's host: an
    // IDNA name as its punycode, an IPv4 shorthand as the address.
    let spelled = secret_ref("SPELLED");
    assert_eq!(
        substituted(&granted, &spelled, "xn--bcher-kva.example", 443),
        "spelled-host-value"
    );
    assert_eq!(
        substituted(&granted, &spelled, "127.0.0.1", 8080),
        "spelled-host-value"
    );
}

#[test]
fn several_references_are_replaced_and_the_rest_is_kept() {
    let (_dir, granted) = substitution_fixture();
    let body = format!(
        r#"{{"a":"{}","b":"{}","c":"JOBVISOR-SECRET~not-a-ref~","d":"JOBVISOR-SECRET~"}}"#,
        secret_ref("GITHUB_TOKEN"),
        secret_ref("GITHUB_TOKEN")
    );
    assert_eq!(
        substituted(&granted, &body, "api.github.com", 443),
        format!(
            r#"{{"a":"{GITHUB}","b":"{GITHUB}","c":"JOBVISOR-SECRET~not-a-ref~","d":"JOBVISOR-SECRET~"}}"#
        )
    );
    assert_eq!(
        granted.substitute(b"no reference here", "api.github.com", 443),
        Ok(None)
    );
    assert_eq!(
        granted.substitute(b"JOBVISOR-SECRET~GITHUB_TOKEN", "api.github.com", 443),
        Ok(None),
        "an unterminated reference is not one"
    );
}

#[test]
fn a_value_that_looks_like_a_reference_is_not_substituted_again() {
    let reference = secret_ref("INNER");
    let (_dir, store) = store_with(
        &[("OUTER", &format!("x{reference}x")), ("INNER", GITHUB)],
        &[spec("OUTER", &["a.example"]), spec("INNER", &["a.example"])],
    );
    let granted = store
        .grant("s", &["OUTER".to_owned(), "INNER".to_owned()])
        .unwrap();
    assert_eq!(
        substituted(&granted, &secret_ref("OUTER"), "a.example", 443),
        format!("x{reference}x")
    );
}

#[test]
fn a_form_encoded_reference_gets_the_form_encoded_value() {
    let (_dir, granted) = substitution_fixture();
    // What `new URLSearchParams({ secret: ctx.secrets.ref("HOOK") })` writes.
    let form = "grant=x&secret=JOBVISOR-SECRET%7EHOOK%7E&lower=JOBVISOR-SECRET%7eHOOK%7e";
    assert_eq!(
        substituted(&granted, form, "hooks.example.com", 8443),
        "grant=x&secret=hook+secret%26with%3Dform+chars&lower=hook+secret%26with%3Dform+chars"
    );
}

#[test]
fn a_reference_towards_another_host_is_refused_naming_the_setting() {
    let (_dir, granted) = substitution_fixture();
    let header = format!("token {}", secret_ref("GITHUB_TOKEN"));
    assert_eq!(
        granted.substitute(header.as_bytes(), "evil.example", 443),
        Err(
            "secret GITHUB_TOKEN is not bound to evil.example:443 (its hosts: api.github.com)"
                .to_owned()
        )
    );
    let google = secret_ref("GOOGLE");
    for host in [
        "googleapis.com",
        "evilgoogleapis.com",
        "googleapis.com.evil",
    ] {
        let refused = granted
            .substitute(google.as_bytes(), host, 443)
            .unwrap_err();
        assert!(
            refused.contains("(its hosts: *.googleapis.com)"),
            "{host}: {refused}"
        );
    }
    let refused = granted.substitute(secret_ref("HOOK").as_bytes(), "hooks.example.com", 443);
    assert_eq!(
        refused,
        Err(
            "secret HOOK is not bound to hooks.example.com:443 (its hosts: \
             hooks.example.com:8443, [::1]:9000)"
                .to_owned()
        )
    );
    let refused = granted
        .substitute(secret_ref("HOOK").as_bytes(), "::1", 443)
        .unwrap_err();
    assert!(refused.contains("not bound to [::1]:443"), "{refused}");
    // One bad reference refuses the whole input, good ones with it.
    let mixed = format!("{}{}", secret_ref("GITHUB_TOKEN"), secret_ref("GOOGLE"));
    assert!(
        granted
            .substitute(mixed.as_bytes(), "api.github.com", 443)
            .is_err()
    );
}

#[test]
fn a_secret_without_hosts_is_never_substituted() {
    let (_dir, granted) = substitution_fixture();
    let refused = granted
        .substitute(secret_ref("LOCAL").as_bytes(), "api.github.com", 443)
        .unwrap_err();
    assert!(
        refused.starts_with("secret LOCAL is bound to no host"),
        "{refused}"
    );
    assert!(refused.contains("`hosts`"), "{refused}");
}

#[test]
fn a_secret_not_granted_is_refused_naming_the_script() {
    let (_dir, granted) = substitution_fixture();
    for name in ["OTHER", "UNDEFINED"] {
        assert_eq!(
            granted.substitute(secret_ref(name).as_bytes(), "api.github.com", 443),
            Err(format!(
                "secret {name} is not granted to script `poll` (add it to `secrets` of the script)"
            ))
        );
    }
    let none = GrantedSecrets::none("bare");
    assert!(
        none.substitute(secret_ref("OTHER").as_bytes(), "api.github.com", 443)
            .is_err()
    );
    assert!(
        none.sign("OTHER", SignAlgorithm::Hs256, b"x")
            .unwrap_err()
            .contains("`bare`")
    );
}

#[test]
fn only_an_exposed_secret_gives_its_value() {
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "SHOWN", GITHUB.as_bytes(), 0o600);
    write_secret(dir.path(), "HIDDEN", b"hidden-secret-value", 0o600);
    write_secret(
        dir.path(),
        "BINARY",
        &[0xff, 0xfe, 0x00, 0x01, 2, 3, 4, 5, 6],
        0o600,
    );
    let specs = [
        SecretSpec {
            expose: true,
            ..spec("SHOWN", &[])
        },
        spec("HIDDEN", &[]),
        SecretSpec {
            expose: true,
            ..spec("BINARY", &[])
        },
    ];
    let store = SecretStore::load(&specs, dir.path(), None).unwrap();
    let names = ["SHOWN", "HIDDEN", "BINARY"].map(str::to_owned);
    let granted = store.grant("relay", &names).unwrap();
    assert_eq!(granted.value("SHOWN"), Ok(GITHUB.to_owned()));
    let (kind, message) = granted.value("HIDDEN").unwrap_err();
    assert_eq!(kind, HostErrorKind::Denied);
    assert!(message.contains("set `expose = true`"), "{message}");
    assert_eq!(
        granted.value("BINARY").unwrap_err().0,
        HostErrorKind::Invalid
    );
    assert_eq!(granted.value("NONE").unwrap_err().0, HostErrorKind::Denied);
}

#[test]
fn masking_covers_the_granted_values_only() {
    let (_dir, granted) = substitution_fixture();
    let text = format!(
        "{GITHUB} {} other-script-value",
        base64::engine::general_purpose::STANDARD.encode(GITHUB)
    );
    assert_eq!(
        granted.mask(&text),
        "[redacted] [redacted] other-script-value"
    );
    assert!(!granted.redactor().is_empty());
    assert!(GrantedSecrets::none("x").redactor().is_empty());
    assert_eq!(GrantedSecrets::none("x").mask(GITHUB), GITHUB);
}

// --- Signatures ---------------------------------------------------------------------

/// Runs openssl in `dir`; the test fails if it does.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// One secret named `KEY` with `value`, granted to `sign`.
fn signer(dir: &Path, value: &[u8]) -> GrantedSecrets {
    let secrets = dir.join("secrets");
    fs::create_dir_all(&secrets).unwrap();
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o700)).unwrap();
    write_secret(&secrets, "KEY", value, 0o600);
    let store = SecretStore::load(&[spec("KEY", &[])], &secrets, None).unwrap();
    store.grant("sign", &["KEY".to_owned()]).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hs256_matches_rfc_4231_and_the_jwt_example() {
    let dir = tempfile::tempdir().unwrap();
    // RFC 4231 test case 2.
    let jefe = signer(dir.path(), b"Jefe");
    let tag = jefe
        .sign("KEY", SignAlgorithm::Hs256, b"what do ya want for nothing?")
        .unwrap();
    assert_eq!(
        hex(&tag),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // The HS256 example of RFC 7519 readers know from jwt.io.
    let dir = tempfile::tempdir().unwrap();
    let jwt = signer(dir.path(), b"your-256-bit-secret\n");
    let input = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                 eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";
    let tag = jwt
        .sign("KEY", SignAlgorithm::Hs256, input.as_bytes())
        .unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(tag),
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    );
}

/// A 2048-bit RSA key as PKCS #8 (`rsa.pem`), PKCS #1 (`rsa1.pem`) and its public key
/// (`rsa.pub.pem`, `rsa.pub.der`).
fn rsa_keys(dir: &Path) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        dir,
        &["rsa", "-in", "rsa.pem", "-traditional", "-out", "rsa1.pem"],
    );
    openssl(
        dir,
        &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub.pem"],
    );
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            "rsa.pem",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "rsa.pub.der",
        ],
    );
}

/// Whether openssl verifies `signature` of `data` with `public.pem` (SHA-256).
fn openssl_verifies(dir: &Path, public: &str, data: &[u8], signature: &[u8]) -> bool {
    fs::write(dir.join("data.bin"), data).unwrap();
    fs::write(dir.join("sig.bin"), signature).unwrap();
    let output = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            public,
            "-signature",
            "sig.bin",
            "data.bin",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    output.status.success() && output.stdout.starts_with(b"Verified OK")
}

#[test]
fn rs256_signatures_verify_with_the_public_key() {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    let dir = tempfile::tempdir().unwrap();
    rsa_keys(dir.path());
    let public =
        rsa::RsaPublicKey::from_public_key_der(&fs::read(dir.path().join("rsa.pub.der")).unwrap())
            .unwrap();
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
    let data = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJyb2JvdCJ9";
    for file in ["rsa.pem", "rsa1.pem"] {
        let key = fs::read(dir.path().join(file)).unwrap();
        let granted = signer(&dir.path().join(file.replace('.', "_")), &key);
        let started = std::time::Instant::now();
        let signature = granted.sign("KEY", SignAlgorithm::Rs256, data).unwrap();
        let first = started.elapsed();
        assert_eq!(signature.len(), 256);
        assert!(
            openssl_verifies(dir.path(), "rsa.pub.pem", data, &signature),
            "{file}"
        );
        let parsed = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
        assert!(verifier.verify(data, &parsed).is_ok(), "{file}");
        // A signature of other data does not verify: the check can fail.
        assert!(!openssl_verifies(
            dir.path(),
            "rsa.pub.pem",
            b"other data",
            &signature
        ));
        // Signing twice (from the decoded key kept) gives the same signature.
        let started = std::time::Instant::now();
        assert_eq!(
            granted.sign("KEY", SignAlgorithm::Rs256, data).unwrap(),
            signature
        );
        eprintln!(
            "{file}: RS256 first {first:?}, then {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_service_account_file_signs_with_its_private_key() {
    let dir = tempfile::tempdir().unwrap();
    rsa_keys(dir.path());
    let pem = fs::read_to_string(dir.path().join("rsa.pem")).unwrap();
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "demo",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "robot@demo.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let granted = signer(
        &dir.path().join("sa"),
        serde_json::to_string_pretty(&account).unwrap().as_bytes(),
    );
    let data = b"header.claims";
    let signature = granted.sign("KEY", SignAlgorithm::Rs256, data).unwrap();
    assert!(openssl_verifies(
        dir.path(),
        "rsa.pub.pem",
        data,
        &signature
    ));
    // The key's body lines are masked wherever they show up alone.
    let line = pem.lines().nth(3).unwrap();
    assert_eq!(granted.mask(&format!("oops: {line}")), "oops: [redacted]");
    assert_eq!(
        granted.mask("robot@demo.iam.gserviceaccount.com"),
        "robot@demo.iam.gserviceaccount.com"
    );

    let granted = signer(&dir.path().join("nokey"), br#"{"type":"service_account"}"#);
    let message = granted.sign("KEY", SignAlgorithm::Rs256, data).unwrap_err();
    assert!(
        message.contains("JSON without a `private_key`"),
        "{message}"
    );
}

#[test]
fn es256_signatures_verify_with_p256() {
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePublicKey;

    let dir = tempfile::tempdir().unwrap();
    // SEC1 with its EC PARAMETERS block first, as `openssl ecparam -genkey` writes it.
    openssl(
        dir.path(),
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-outform", "DER", "-out", "ec8.der",
        ],
    );
    openssl(
        dir.path(),
        &[
            "ec",
            "-in",
            "ec.pem",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "ec.pub.der",
        ],
    );
    let public = p256::ecdsa::VerifyingKey::from_public_key_der(
        &fs::read(dir.path().join("ec.pub.der")).unwrap(),
    )
    .unwrap();
    assert!(
        fs::read_to_string(dir.path().join("ec.pem"))
            .unwrap()
            .contains("EC PARAMETERS")
    );
    let data = b"eyJhbGciOiJFUzI1NiJ9.e30";
    for file in ["ec.pem", "ec8.pem", "ec8.der"] {
        let key = fs::read(dir.path().join(file)).unwrap();
        let granted = signer(&dir.path().join(file.replace('.', "_")), &key);
        let signature = granted.sign("KEY", SignAlgorithm::Es256, data).unwrap();
        assert_eq!(signature.len(), 64, "r || s");
        let parsed = p256::ecdsa::Signature::from_slice(&signature).unwrap();
        assert!(public.verify(data, &parsed).is_ok(), "{file}");
        assert!(public.verify(b"other", &parsed).is_err());
    }
}

#[test]
fn a_key_of_the_wrong_type_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    rsa_keys(dir.path());
    openssl(
        dir.path(),
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "p384.pem",
        ],
    );
    openssl(
        dir.path(),
        &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
    );
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "small.pem",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkey",
            "-in",
            "rsa.pem",
            "-aes-128-cbc",
            "-passout",
            "pass:x",
            "-out",
            "encrypted.pem",
        ],
    );
    let cases: &[(&str, SignAlgorithm, &str)] = &[
        (
            "rsa.pem",
            SignAlgorithm::Es256,
            "holds an RSA key, but ES256 needs an EC P-256 key; sign with RS256",
        ),
        (
            "ec.pem",
            SignAlgorithm::Rs256,
            "holds an EC P-256 key, but RS256 needs an RSA key; sign with ES256",
        ),
        (
            "p384.pem",
            SignAlgorithm::Es256,
            "holds an EC key on a curve other than P-256, but ES256",
        ),
        (
            "ed.pem",
            SignAlgorithm::Rs256,
            "holds an Ed25519 key, but RS256 needs an RSA key",
        ),
        (
            "small.pem",
            SignAlgorithm::Rs256,
            "is a 1024-bit RSA key; RS256 needs 2048 bits or more",
        ),
        (
            "encrypted.pem",
            SignAlgorithm::Rs256,
            "is an encrypted private key",
        ),
        (
            "rsa.pub.pem",
            SignAlgorithm::Rs256,
            "holds PEM `PUBLIC KEY` but no private key",
        ),
    ];
    for (file, algorithm, expected) in cases {
        let key = fs::read(dir.path().join(file)).unwrap();
        let granted = signer(&dir.path().join(file.replace('.', "_")), &key);
        let message = granted.sign("KEY", *algorithm, b"data").unwrap_err();
        assert!(message.starts_with("secret KEY "), "{file}: {message}");
        assert!(message.contains(expected), "{file}: {message}");
    }
    let granted = signer(&dir.path().join("text"), b"just a password value");
    let message = granted
        .sign("KEY", SignAlgorithm::Rs256, b"data")
        .unwrap_err();
    assert!(message.contains("is not a private key"), "{message}");
    // Still a fine HMAC key.
    assert_eq!(
        granted
            .sign("KEY", SignAlgorithm::Hs256, b"data")
            .unwrap()
            .len(),
        32
    );
}

#[test]
fn granted_secrets_can_be_shared_between_tasks() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<GrantedSecrets>();
    shared::<Redactor>();
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any bytes: no panic, and bytes without a complete reference come back as `None`.
        #[test]
        fn substitution_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200), tail in "[A-Z_~%7E]{0,8}") {
            let (_dir, granted) = substitution_fixture();
            let mut input = input;
            input.extend_from_slice(b"JOBVISOR-SECRET~");
            input.extend_from_slice(tail.as_bytes());
            let _ = granted.substitute(&input, "api.github.com", 443);
            let plain: Vec<u8> = input.iter().copied().filter(|b| *b != b'~' && *b != b'%').collect();
            prop_assert_eq!(granted.substitute(&plain, "api.github.com", 443), Ok(None));
        }

        /// Wherever a long value is put in a text, masking leaves no copy of it.
        #[test]
        fn masking_leaves_no_copy(value in "[A-Za-z0-9]{8,40}", parts in proptest::collection::vec("[ -~]{0,30}", 1..6)) {
            let redactor = Redactor::new([value.as_bytes()]);
            let text = parts.join(&value);
            let masked = redactor.mask(&text);
            prop_assert!(!masked.contains(&value), "{} → {}", text, masked);
        }
    }
}
