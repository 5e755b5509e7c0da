//! Checking what jobs sign with an implementation independent of the worker's and the
//! supervisor's crates: the `openssl` command line (keys made fresh for each test,
//! signatures verified, HMACs computed), and the base64url of JSON Web Tokens.
//! A machine without `openssl` fails here: `.ci/run` installs it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The RSA 2048 key arguments of `openssl genpkey`.
pub const RSA_2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
/// The P-256 key arguments of `openssl genpkey`.
pub const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// Runs `openssl ARGS` in `dir` with `input` on its standard input; its standard output, or
/// a failure that names the command.
pub fn openssl(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
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
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let output = child.wait_with_output().expect("openssl ends");
    assert!(
        output.status.success(),
        "openssl {}: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A fresh private key made by `openssl genpkey ARGS` (e.g. [`RSA_2048`]), as PKCS #8 PEM,
/// written to `dir/key.pem` (mode 0600) with its public half in `dir/public.pem`.
pub fn fresh_key(dir: &Path, genpkey: &[&str]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut args = vec!["genpkey", "-out", "key.pem"];
    args.extend_from_slice(genpkey);
    openssl(dir, &args, b"");
    openssl(
        dir,
        &["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"],
        b"",
    );
    let key = dir.join("key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::read_to_string(key).expect("read the key")
}

/// Whether `openssl dgst -sha256 -verify dir/public.pem` accepts `signature` (DER for
/// ECDSA: see [`ecdsa_der`]) over `data`.
pub fn verifies(dir: &Path, data: &[u8], signature: &[u8]) -> bool {
    std::fs::write(dir.join("signature.bin"), signature).expect("write the signature");
    let out = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "public.pem",
            "-signature",
            "signature.bin",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().expect("stdin").write_all(data)?;
            child.wait_with_output()
        })
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).trim() == "Verified OK"
}

/// HMAC-SHA-256 of `data` under `key`, by `openssl dgst -hmac`.
pub fn hmac_sha256(dir: &Path, key: &str, data: &[u8]) -> Vec<u8> {
    openssl(dir, &["dgst", "-sha256", "-hmac", key, "-binary"], data)
}

/// The DER `ECDSA-Sig-Value` openssl reads for a JWS `r || s` signature.
pub fn ecdsa_der(r_and_s: &[u8]) -> Vec<u8> {
    assert_eq!(r_and_s.len(), 64, "an ES256 signature is r || s, 64 bytes");
    let integer = |half: &[u8]| {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len() - 1);
        let mut value = half[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        let mut der = vec![0x02, u8::try_from(value.len()).expect("short")];
        der.extend(value);
        der
    };
    let body = [integer(&r_and_s[..32]), integer(&r_and_s[32..])].concat();
    let mut der = vec![0x30, u8::try_from(body.len()).expect("short")];
    der.extend(body);
    der
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding, as JSON Web Tokens write their parts.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The bytes of unpadded base64url text.
pub fn from_base64url(text: &str) -> Vec<u8> {
    let sextets: Vec<u32> = text
        .bytes()
        .map(|c| {
            let index = BASE64URL.iter().position(|&a| a == c);
            u32::try_from(index.unwrap_or_else(|| panic!("{c:?} is not base64url")))
                .expect("an index")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..20 {
            let text = base64url(&bytes[..len]);
            assert!(!text.contains('='), "{text}");
            assert_eq!(from_base64url(&text), &bytes[..len]);
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
    }
}
