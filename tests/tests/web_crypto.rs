//! `crypto` in jobs run by the real `jobvisor run` and a sandboxed `jobvisor-worker`: random
//! values from the kernel under the worker's system-call filter, the errors a job sees, and
//! HS256, RS256 and ES256 tokens signed in a job and checked here by the `openssl` command
//! line, an implementation independent of the crates the worker signs with, with keys it
//! makes fresh for each run.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use jobvisor_tests::run_json;
use serde_json::{Value, json};

/// Base64url without padding, as JSON Web Tokens write their parts.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The bytes of unpadded base64url text.
fn from_base64url(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let sextets: Vec<u32> = text
        .bytes()
        .map(|c| {
            let index = ALPHABET.iter().position(|&a| a == c);
            u32::try_from(index.unwrap_or_else(|| panic!("{c:?} is not base64url"))).unwrap()
        })
        .collect();
    let mut out = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &s)| n | s << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            out.push(n.to_be_bytes()[1 + i]);
        }
    }
    out
}

/// Runs `openssl ARGS` in `dir` with `input` on its standard input; its standard output, or
/// a failure that names the command. A machine without `openssl` fails here: `.ci/run`
/// installs it.
fn openssl(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;

    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): these tests need it (Debian package `openssl`)")
        });
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {}: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A fresh private key made by `openssl genpkey ARGS`, as PKCS #8 PEM, written to
/// `dir/key.pem` with its public half in `dir/public.pem`.
fn fresh_key(dir: &Path, genpkey: &[&str]) -> String {
    let mut args = vec!["genpkey", "-out", "key.pem"];
    args.extend_from_slice(genpkey);
    openssl(dir, &args, b"");
    openssl(
        dir,
        &["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"],
        b"",
    );
    std::fs::read_to_string(dir.join("key.pem")).unwrap()
}

/// Whether `openssl` verifies `signature` (DER for ECDSA) over `data` with `dir/public.pem`.
fn openssl_verifies(dir: &Path, data: &str, signature: &[u8]) {
    std::fs::write(dir.join("signature.bin"), signature).unwrap();
    let said = openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "public.pem",
            "-signature",
            "signature.bin",
        ],
        data.as_bytes(),
    );
    assert_eq!(String::from_utf8_lossy(&said).trim(), "Verified OK");
}

/// The DER `ECDSA-Sig-Value` openssl reads for a JWT's `r || s` signature.
fn ecdsa_der(r_and_s: &[u8]) -> Vec<u8> {
    assert_eq!(r_and_s.len(), 64, "an ES256 signature is r || s, 64 bytes");
    let integer = |half: &[u8]| {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len() - 1);
        let mut value = half[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        let mut der = vec![0x02, u8::try_from(value.len()).unwrap()];
        der.extend(value);
        der
    };
    let body = [integer(&r_and_s[..32]), integer(&r_and_s[32..])].concat();
    let mut der = vec![0x30, u8::try_from(body.len()).unwrap()];
    der.extend(body);
    der
}

/// A job that signs `{ sub: "job-7", iat: 1700000000 }` as a JWT with header `alg`: the
/// payload carries `secret` (HS256) or a PKCS #8 PEM `pem` (RS256, ES256).
const SIGN_JWT: &str = r"
const text = (value) => new TextEncoder().encode(value);
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const der = (pem) => Uint8Array.from(atob(pem.replace(/-----[^-]+-----|\s/g, '')), (c) => c.charCodeAt(0));
const ALGORITHMS = {
  HS256: { name: 'HMAC', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
};
export default async ({ alg, secret, pem }) => {
  const algorithm = ALGORITHMS[alg];
  const key = secret !== undefined
    ? await crypto.subtle.importKey('raw', text(secret), algorithm, false, ['sign'])
    : await crypto.subtle.importKey('pkcs8', der(pem), algorithm, false, ['sign']);
  const claims = { sub: 'job-7', iat: 1700000000 };
  const body = `${b64url(text(JSON.stringify({ alg, typ: 'JWT' })))}.${b64url(text(JSON.stringify(claims)))}`;
  return `${body}.${b64url(await crypto.subtle.sign(algorithm, key, text(body)))}`;
};
";

/// Signs a token in a job with `jobvisor run`; its signed part and its signature.
fn token_signed_in_a_job(payload: &Value) -> (String, Vec<u8>) {
    let report = run_json("jwt", SIGN_JWT, &["--payload", &payload.to_string()], 0);
    assert_eq!(report["outcome"], "completed", "{report}");
    let token = report["result"].as_str().unwrap();
    let (body, signature) = token.rsplit_once('.').unwrap();
    let (header, claims) = body.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&from_base64url(header)).unwrap();
    assert_eq!(header, json!({ "alg": payload["alg"], "typ": "JWT" }));
    let claims: Value = serde_json::from_slice(&from_base64url(claims)).unwrap();
    assert_eq!(claims, json!({ "sub": "job-7", "iat": 1_700_000_000 }));
    (body.to_owned(), from_base64url(signature))
}

#[test]
fn random_values_and_uuids_come_from_the_kernel_inside_the_sandbox() {
    let report = run_json(
        "random",
        r"export default () => {
            const a = crypto.getRandomValues(new Uint8Array(65536));
            const b = crypto.getRandomValues(new Uint8Array(65536));
            const uuid = crypto.randomUUID();
            return {
                differ: a.some((x, i) => x !== b[i]),
                distinctBytes: new Set(a).size,
                uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid),
            };
        }",
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    // 65,536 random bytes miss one of the 256 values with odds below 1e-100.
    assert_eq!(
        report["result"],
        json!({"differ": true, "distinctBytes": 256, "uuid": true})
    );
}

#[test]
fn an_hs256_token_signed_in_a_job_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a shared secret of the kind a webhook uses";
    let (body, signature) = token_signed_in_a_job(&json!({ "alg": "HS256", "secret": secret }));
    let hmac = openssl(
        dir.path(),
        &["dgst", "-sha256", "-hmac", secret, "-binary"],
        body.as_bytes(),
    );
    assert_eq!(base64url(&signature), base64url(&hmac));
}

#[test]
fn an_rs256_token_signed_in_a_job_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fresh_key(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let (body, signature) = token_signed_in_a_job(&json!({ "alg": "RS256", "pem": pem }));
    assert_eq!(signature.len(), 256, "a 2048-bit RSA signature");
    openssl_verifies(dir.path(), &body, &signature);
}

#[test]
fn an_es256_token_signed_in_a_job_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fresh_key(
        dir.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let (body, signature) = token_signed_in_a_job(&json!({ "alg": "ES256", "pem": pem }));
    openssl_verifies(dir.path(), &body, &ecdsa_der(&signature));
}

#[test]
fn crypto_errors_are_dom_exceptions_that_name_the_call_and_the_problem() {
    let report = run_json(
        "errors",
        r"const text = (value) => new TextEncoder().encode(value);
          const error = (e) => ({ name: e.name, message: e.message,
                                  domException: e instanceof DOMException, code: e.code });
          const thrown = (f) => { try { f(); return 'no error'; } catch (e) { return error(e); } };
          const rejected = (p) => p.then(() => 'no error', error);
          export default async () => {
            const verifyOnly = await crypto.subtle.importKey('raw', text('k'),
              { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
            return {
              quota: thrown(() => crypto.getRandomValues(new Uint8Array(65537))),
              float: thrown(() => crypto.getRandomValues(new Float32Array(4))),
              forgedKey: await rejected(crypto.subtle.sign('HMAC',
                { type: 'secret', algorithm: { name: 'HMAC' }, usages: ['sign'] }, text('x'))),
              malformedKey: await rejected(crypto.subtle.importKey('pkcs8', text('not a key'),
                { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign'])),
              unknown: await rejected(crypto.subtle.sign('RSA-PSS', verifyOnly, text('x'))),
              wrongUsage: await rejected(crypto.subtle.sign('HMAC', verifyOnly, text('x'))),
            };
          }",
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(
        report["result"],
        json!({
            "quota": {"name": "QuotaExceededError", "domException": true, "code": 22,
                      "message": "crypto.getRandomValues: the array's byte length (65537) exceeds the 65536 bytes one call can fill"},
            "float": {"name": "TypeError", "domException": false,
                      "message": "crypto.getRandomValues: the argument must be an integer typed array, not Float32Array"},
            "forgedKey": {"name": "TypeError", "domException": false,
                          "message": "sign: the key must be a CryptoKey, not Object"},
            "malformedKey": {"name": "DataError", "domException": true, "code": 0,
                             "message": "importKey: not a PKCS #8 RSASSA-PKCS1-v1_5 key: PKCS#8 ASN.1 error: unexpected ASN.1 DER tag: expected SEQUENCE, got APPLICATION [14] (constructed)"},
            "unknown": {"name": "NotSupportedError", "domException": true, "code": 9,
                        "message": "sign: algorithm \"RSA-PSS\" is not supported (supported: HMAC, RSASSA-PKCS1-v1_5, ECDSA)"},
            "wrongUsage": {"name": "InvalidAccessError", "domException": true, "code": 15,
                           "message": "sign: the key's usages (verify) do not include \"sign\""},
        })
    );
}

#[test]
fn a_crypto_error_fails_the_job_with_its_name_and_message() {
    let report = run_json(
        "badkey",
        r"export default () => crypto.subtle.importKey('raw', new Uint8Array(0),
            { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])",
        &[],
        3,
    );
    assert_eq!(report["outcome"], "js_error", "{report}");
    assert_eq!(report["error"]["name"], "DataError", "{report}");
    assert_eq!(
        report["error"]["message"], "importKey: an HMAC key must not be empty",
        "{report}"
    );
}
