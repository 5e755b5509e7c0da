//! Host-side signatures with a secret's key, so that a script can sign a token without
//! ever holding the key: HS256 with the value's bytes as the HMAC key, RS256 and ES256
//! with a private key in PEM (PKCS #8, or PKCS #1 / SEC1 as `openssl` writes them), in
//! DER, or inside a service-account JSON file (`private_key`), as cloud providers hand
//! them out.
//!
//! A key is decoded on its first use and kept decoded (or its error kept) for the life of
//! the daemon: the value never changes. Errors name the secret and what it holds, never
//! any of its bytes.

use std::fmt;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jobvisor_protocol::host::SignAlgorithm;
use p256::ecdsa::signature::Signer;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, ObjectIdentifier, PrivateKeyInfo};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use zeroize::Zeroizing;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// JWS (RFC 7518 §3.3) asks RS256 keys for 2048 bits at least.
const MIN_RSA_BITS: usize = 2048;

/// A secret's private key, decoded on first use.
#[derive(Default)]
pub(super) struct KeyCache {
    key: OnceLock<Result<PrivateKey, String>>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("decoded", &self.key.get().is_some())
            .finish()
    }
}

enum PrivateKey {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    P256(p256::ecdsa::SigningKey),
    /// A private key that none of the algorithms uses, described (`an Ed25519 key`).
    Other(String),
}

impl PrivateKey {
    fn describe(&self) -> &str {
        match self {
            PrivateKey::Rsa(_) => "an RSA key",
            PrivateKey::P256(_) => "an EC P-256 key",
            PrivateKey::Other(what) => what,
        }
    }
}

impl KeyCache {
    /// The signature of `data` by secret `name`, whose value is `value`.
    pub(super) fn sign(
        &self,
        name: &str,
        value: &[u8],
        algorithm: SignAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, String> {
        if algorithm == SignAlgorithm::Hs256 {
            let mut mac = Hmac::<Sha256>::new_from_slice(value)
                .map_err(|e| format!("secret {name} cannot be an HMAC key: {e}"))?;
            mac.update(data);
            return Ok(mac.finalize().into_bytes().to_vec());
        }
        let key = self
            .key
            .get_or_init(|| decode_key(name, value))
            .as_ref()
            .map_err(String::clone)?;
        match (algorithm, key) {
            (SignAlgorithm::Rs256, PrivateKey::Rsa(key)) => {
                // Blinded: the host signs what scripts choose, so its timing must not
                // depend on the key.
                let signature = key
                    .try_sign_with_rng(&mut rand_core::OsRng, data)
                    .map_err(|e| format!("secret {name}: RS256 signing failed: {e}"))?;
                Ok(signature.to_vec())
            }
            (SignAlgorithm::Es256, PrivateKey::P256(key)) => {
                let signature: p256::ecdsa::Signature = key
                    .try_sign(data)
                    .map_err(|e| format!("secret {name}: ES256 signing failed: {e}"))?;
                Ok(signature.to_bytes().to_vec())
            }
            (algorithm, key) => {
                let wanted = match algorithm {
                    SignAlgorithm::Rs256 => "an RSA key",
                    _ => "an EC P-256 key",
                };
                let hint = match key {
                    PrivateKey::Rsa(_) => "; sign with RS256",
                    PrivateKey::P256(_) => "; sign with ES256",
                    PrivateKey::Other(_) => "",
                };
                Err(format!(
                    "secret {name} holds {}, but {} needs {wanted}{hint}",
                    key.describe(),
                    jws_name(algorithm)
                ))
            }
        }
    }
}

fn jws_name(algorithm: SignAlgorithm) -> &'static str {
    match algorithm {
        SignAlgorithm::Hs256 => "HS256",
        SignAlgorithm::Rs256 => "RS256",
        SignAlgorithm::Es256 => "ES256",
    }
}

/// A private key's DER, by what says its format.
enum Der {
    Pkcs8(Zeroizing<Vec<u8>>),
    Pkcs1(Zeroizing<Vec<u8>>),
    Sec1(Zeroizing<Vec<u8>>),
    /// DER without a PEM label: any of the three.
    Unlabelled(Zeroizing<Vec<u8>>),
}

fn decode_key(name: &str, value: &[u8]) -> Result<PrivateKey, String> {
    let der = key_der(name, value)?;
    let key = decode_der(name, der)?;
    if let PrivateKey::Rsa(signing) = &key {
        let key: &rsa::RsaPrivateKey = signing.as_ref().as_ref();
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "secret {name} is a {bits}-bit RSA key; RS256 needs {MIN_RSA_BITS} bits or more"
            ));
        }
    }
    Ok(key)
}

/// The DER of the private key `value` holds: PEM, a service-account JSON file or DER.
fn key_der(name: &str, value: &[u8]) -> Result<Der, String> {
    let text = std::str::from_utf8(value).ok();
    if let Some(text) = text.filter(|text| text.trim_start().starts_with('{')) {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| format!("secret {name} starts like JSON but is not valid JSON"))?;
        let Some(pem) = json.get("private_key").and_then(serde_json::Value::as_str) else {
            return Err(format!(
                "secret {name} is JSON without a `private_key` string (a service-account \
                 key file has one)"
            ));
        };
        return pem_der(name, pem);
    }
    if let Some(text) = text.filter(|text| text.contains("-----BEGIN ")) {
        return pem_der(name, text);
    }
    if value.first() == Some(&0x30) {
        return Ok(Der::Unlabelled(Zeroizing::new(value.to_vec())));
    }
    Err(format!(
        "secret {name} is not a private key: expected PEM (`-----BEGIN PRIVATE KEY-----`), \
         DER or a service-account JSON file"
    ))
}

/// The DER of the first private key block of PEM `text`.
fn pem_der(name: &str, text: &str) -> Result<Der, String> {
    let mut rest = text;
    let mut seen = Vec::new();
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + "-----BEGIN ".len()..];
        let Some(label_len) = after.find("-----") else {
            break;
        };
        let label = &after[..label_len];
        let body_and_rest = &after[label_len + "-----".len()..];
        let end_line = format!("-----END {label}-----");
        let Some(body_len) = body_and_rest.find(&end_line) else {
            return Err(format!(
                "secret {name}: its PEM block `{label}` has no `{end_line}` line"
            ));
        };
        let body = &body_and_rest[..body_len];
        rest = &body_and_rest[body_len + end_line.len()..];
        let wrap: fn(Zeroizing<Vec<u8>>) -> Der = match label {
            "PRIVATE KEY" => Der::Pkcs8,
            "RSA PRIVATE KEY" => Der::Pkcs1,
            "EC PRIVATE KEY" => Der::Sec1,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(format!(
                    "secret {name} is an encrypted private key; store it decrypted \
                     (`openssl pkcs8 -topk8 -nocrypt -in KEY`), the secret file is what \
                     protects it"
                ));
            }
            other => {
                seen.push(other.to_owned());
                continue;
            }
        };
        if body.contains(':') {
            return Err(format!(
                "secret {name} is an encrypted private key (a PEM `Proc-Type` header); store \
                 it decrypted (`openssl pkey -in KEY`)"
            ));
        }
        let base64: Zeroizing<String> =
            Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
        let der = STANDARD
            .decode(base64.as_bytes())
            .map_err(|_| format!("secret {name}: the body of its `{label}` is not Base64"))?;
        return Ok(wrap(Zeroizing::new(der)));
    }
    if seen.is_empty() {
        Err(format!("secret {name} holds no complete PEM block"))
    } else {
        Err(format!(
            "secret {name} holds PEM `{}` but no private key",
            seen.join("`, `")
        ))
    }
}

fn decode_der(name: &str, der: Der) -> Result<PrivateKey, String> {
    let malformed =
        |what: &str, e: &dyn fmt::Display| format!("secret {name}: its {what} does not parse: {e}");
    match der {
        Der::Pkcs8(der) => {
            let info = PrivateKeyInfo::try_from(der.as_slice())
                .map_err(|e| malformed("PKCS #8 key", &e))?;
            let algorithm = info.algorithm.oid;
            if algorithm == RSA_ENCRYPTION {
                let key = rsa::RsaPrivateKey::from_pkcs8_der(&der)
                    .map_err(|e| malformed("RSA key", &e))?;
                Ok(PrivateKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(
                    key,
                ))))
            } else if algorithm == EC_PUBLIC_KEY {
                if info.algorithm.parameters_oid().ok() != Some(PRIME256V1) {
                    return Ok(PrivateKey::Other(
                        "an EC key on a curve other than P-256".to_owned(),
                    ));
                }
                let key =
                    p256::SecretKey::from_pkcs8_der(&der).map_err(|e| malformed("EC key", &e))?;
                Ok(PrivateKey::P256(key.into()))
            } else if algorithm == ED25519 {
                Ok(PrivateKey::Other("an Ed25519 key".to_owned()))
            } else {
                Ok(PrivateKey::Other(format!("a key of algorithm {algorithm}")))
            }
        }
        Der::Pkcs1(der) => {
            let key = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|e| malformed("RSA PRIVATE KEY", &e))?;
            Ok(PrivateKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(
                key,
            ))))
        }
        Der::Sec1(der) => {
            let key = p256::SecretKey::from_sec1_der(&der).map_err(|_| {
                format!("secret {name}: its EC PRIVATE KEY is not a P-256 key (or does not parse)")
            })?;
            Ok(PrivateKey::P256(key.into()))
        }
        Der::Unlabelled(der) => {
            if PrivateKeyInfo::try_from(der.as_slice()).is_ok() {
                return decode_der(name, Der::Pkcs8(der));
            }
            if let Ok(key) = rsa::RsaPrivateKey::from_pkcs1_der(&der) {
                return Ok(PrivateKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(
                    key,
                ))));
            }
            if let Ok(key) = p256::SecretKey::from_sec1_der(&der) {
                return Ok(PrivateKey::P256(key.into()));
            }
            Err(format!(
                "secret {name} is DER but not a PKCS #8, PKCS #1 or SEC1 P-256 private key"
            ))
        }
    }
}
