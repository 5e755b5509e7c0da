//! `crypto` in jobs run by the real `jobvisor` and a sandboxed `jobvisor-worker`: random
//! values from the kernel under the worker's system-call filter, and an HS256 token signed
//! in a job and checked here with an independent HMAC.

#![allow(clippy::unwrap_used)]

use hmac::{Hmac, Mac};
use jobvisor_tests::run_json;
use serde_json::json;
use sha2::Sha256;

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
fn an_hs256_token_signed_in_a_job_verifies_with_an_independent_hmac() {
    let secret = "a shared secret of the kind a webhook uses";
    let report = run_json(
        "jwt",
        r"const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
            .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
          const text = (value) => new TextEncoder().encode(value);
          export default async ({ secret }) => {
            const claims = { sub: 'job-7', iat: 1700000000 };
            const key = await crypto.subtle.importKey('raw', text(secret),
              { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
            const body = `${b64url(text(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))}.${b64url(text(JSON.stringify(claims)))}`;
            const signature = await crypto.subtle.sign('HMAC', key, text(body));
            return { token: `${body}.${b64url(signature)}`,
                     verified: await crypto.subtle.verify('HMAC', key, signature, text(body)) };
          }",
        &["--payload", &json!({ "secret": secret }).to_string()],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(report["result"]["verified"], true);
    let token = report["result"]["token"].as_str().unwrap();
    let (body, signature) = token.rsplit_once('.').unwrap();
    // The header and claims as node's `Buffer.toString("base64url")` writes them.
    assert_eq!(
        body,
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqb2ItNyIsImlhdCI6MTcwMDAwMDAwMH0"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    assert_eq!(signature, base64url(&mac.finalize().into_bytes()));
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
