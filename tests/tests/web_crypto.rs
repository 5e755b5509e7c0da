//! `crypto` in jobs run by the real `jobvisor run` and a sandboxed `jobvisor-worker`: random
//! values from the kernel under the worker's system-call filter, the errors a job sees, and
//! HS256, RS256 and ES256 tokens signed in a job and checked here by the `openssl` command
//! line, an implementation independent of the crates the worker signs with, with keys it
//! makes fresh for each run.

#![allow(clippy::unwrap_used)]

use jobvisor_tests::run_json;
use jobvisor_tests::tokens::{
    P256, RSA_2048, base64url, ecdsa_der, fresh_key, from_base64url, hmac_sha256, verifies,
};
use serde_json::{Value, json};

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
    let hmac = hmac_sha256(dir.path(), secret, body.as_bytes());
    assert_eq!(base64url(&signature), base64url(&hmac));
}

#[test]
fn an_rs256_token_signed_in_a_job_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fresh_key(dir.path(), RSA_2048);
    let (body, signature) = token_signed_in_a_job(&json!({ "alg": "RS256", "pem": pem }));
    assert_eq!(signature.len(), 256, "a 2048-bit RSA signature");
    assert!(
        verifies(dir.path(), body.as_bytes(), &signature),
        "RS256 verifies"
    );
}

#[test]
fn an_es256_token_signed_in_a_job_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let pem = fresh_key(dir.path(), P256);
    let (body, signature) = token_signed_in_a_job(&json!({ "alg": "ES256", "pem": pem }));
    assert!(
        verifies(dir.path(), body.as_bytes(), &ecdsa_der(&signature)),
        "ES256 verifies"
    );
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
