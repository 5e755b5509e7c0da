//! `crypto` for handlers, as browsers, Deno and Workers have it: `getRandomValues`,
//! `randomUUID` and `crypto.subtle` (SHA digests, HMAC keys, sign and verify).
//!
//! The Web Crypto surface (argument checks, algorithm names, `CryptoKey`, DOMException-style
//! errors, promises) is JavaScript in `crypto.js`; it reaches the few primitives below, which
//! are the only code that touches key bytes or the kernel's randomness. The primitives are
//! handed to that script as an argument and are never globals a handler could call.

use std::path::Path;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{AlignedVec, JsArrayBuffer, JsFunction};
use boa_engine::{
    Context, JsError, JsNativeError, JsResult, JsValue, NativeFunction, Source, js_string,
};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The Web Crypto surface, a function of the primitives that installs the globals.
const SURFACE: &str = include_str!("crypto.js");

/// The most bytes `getRandomValues` fills in one call, as the Web Crypto specification says;
/// `crypto.js` refuses more before it asks.
const MAX_RANDOM_BYTES: usize = 65_536;

/// Installs `crypto` and `CryptoKey` in the context's global object.
pub(crate) fn install(context: &mut Context) -> JsResult<()> {
    let primitives = ObjectInitializer::new(context)
        .function(
            NativeFunction::from_fn_ptr(random_bytes),
            js_string!("randomBytes"),
            1,
        )
        .function(NativeFunction::from_fn_ptr(digest), js_string!("digest"), 2)
        .function(
            NativeFunction::from_fn_ptr(hmac_sign),
            js_string!("hmacSign"),
            3,
        )
        .function(
            NativeFunction::from_fn_ptr(hmac_verify),
            js_string!("hmacVerify"),
            4,
        )
        .build();
    let surface =
        context.eval(Source::from_bytes(SURFACE).with_path(Path::new("jobvisor:crypto")))?;
    let surface = surface
        .as_object()
        .and_then(JsFunction::from_object)
        .ok_or_else(|| {
            JsNativeError::typ().with_message("crypto.js must evaluate to a function")
        })?;
    surface.call(&JsValue::undefined(), &[primitives.into()], context)?;
    Ok(())
}

/// The hash functions `digest` and HMAC know, by the names `crypto.js` has made canonical.
#[derive(Debug, Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_name(name: &JsValue) -> JsResult<Hash> {
        let name = name
            .as_string()
            .map(|name| name.to_std_string_escaped())
            .unwrap_or_default();
        match name.as_str() {
            "SHA-1" => Ok(Hash::Sha1),
            "SHA-256" => Ok(Hash::Sha256),
            "SHA-384" => Ok(Hash::Sha384),
            "SHA-512" => Ok(Hash::Sha512),
            other => Err(JsNativeError::typ()
                .with_message(format!("unknown hash {other:?}"))
                .into()),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The HMAC of `data` under `key`; `expected` given, whether it matches, compared in
    /// constant time (the answer is `Some(tag)` when signing, `None` for a mismatch).
    fn hmac(self, key: &[u8], data: &[u8], expected: Option<&[u8]>) -> Option<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            key: &[u8],
            data: &[u8],
            expected: Option<&[u8]>,
        ) -> Option<Vec<u8>> {
            // HMAC takes a key of any length, so this cannot fail.
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
            mac.update(data);
            match expected {
                None => Some(mac.finalize().into_bytes().to_vec()),
                Some(tag) => mac.verify_slice(tag).ok().map(|()| Vec::new()),
            }
        }
        match self {
            Hash::Sha1 => run::<Hmac<Sha1>>(key, data, expected),
            Hash::Sha256 => run::<Hmac<Sha256>>(key, data, expected),
            Hash::Sha384 => run::<Hmac<Sha384>>(key, data, expected),
            Hash::Sha512 => run::<Hmac<Sha512>>(key, data, expected),
        }
    }
}

/// The bytes of an `ArrayBuffer` argument (`crypto.js` copies every buffer source into a
/// fresh one before it calls a primitive).
fn bytes_of(args: &[JsValue], index: usize) -> JsResult<Vec<u8>> {
    args.get(index)
        .and_then(JsValue::as_object)
        .and_then(|object| JsArrayBuffer::from_object(object).ok())
        .and_then(|buffer| buffer.to_vec())
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message("expected an ArrayBuffer")
                .into()
        })
}

fn array_buffer(bytes: Vec<u8>, context: &mut Context) -> JsResult<JsValue> {
    let block = AlignedVec::from_iter(0, bytes);
    Ok(JsArrayBuffer::from_byte_block(block, context)?.into())
}

/// `randomBytes(n)`: an `ArrayBuffer` of `n` bytes from the kernel's generator.
fn random_bytes(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let wanted = args
        .first()
        .and_then(JsValue::as_number)
        .filter(|n| n.fract() == 0.0 && (0.0..=MAX_RANDOM_BYTES as f64).contains(n))
        .ok_or_else(|| JsNativeError::range().with_message("random byte count out of range"))?;
    // The filter above bounds the count to 0..=65536, so the cast is exact.
    let mut bytes = vec![0u8; wanted as usize];
    fill_from_kernel(&mut bytes).map_err(|e| {
        JsError::from(
            JsNativeError::error().with_message(format!("the kernel gave no random bytes: {e}")),
        )
    })?;
    array_buffer(bytes, context)
}

/// Fills `bytes` with getrandom(2), the one call the worker's seccomp filter allows for it.
/// It blocks only until the kernel's pool is first seeded, long before any job runs.
fn fill_from_kernel(mut bytes: &mut [u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe `bytes`, which is writable and lives
        // across the call.
        let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        // `got` is at most `bytes.len()`, so the cast and the split are in range.
        bytes = &mut bytes[got as usize..];
    }
    Ok(())
}

/// `digest(hash, data)`: the hash of `data` as an `ArrayBuffer`.
fn digest(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let hash = Hash::from_name(args.first().unwrap_or(&JsValue::undefined()))?;
    let data = bytes_of(args, 1)?;
    array_buffer(hash.digest(&data), context)
}

/// `hmacSign(hash, key, data)`: the HMAC tag as an `ArrayBuffer`.
fn hmac_sign(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let hash = Hash::from_name(args.first().unwrap_or(&JsValue::undefined()))?;
    let (key, data) = (bytes_of(args, 1)?, bytes_of(args, 2)?);
    let tag = hash
        .hmac(&key, &data, None)
        .ok_or_else(|| JsNativeError::typ().with_message("the HMAC key was refused"))?;
    array_buffer(tag, context)
}

/// `hmacVerify(hash, key, data, signature)`: whether the signature is the data's tag.
fn hmac_verify(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let hash = Hash::from_name(args.first().unwrap_or(&JsValue::undefined()))?;
    let (key, data, signature) = (bytes_of(args, 1)?, bytes_of(args, 2)?, bytes_of(args, 3)?);
    Ok(hash.hmac(&key, &data, Some(&signature)).is_some().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::rc::Rc;

    use jobvisor_protocol::worker::Outcome;
    use serde_json::{Value, json};

    use super::super::Engine;
    use super::super::tests::job;
    use crate::outbox::Outbox;

    /// The handler's result, which must be a success.
    fn result_of(source: &str) -> Value {
        let mut engine = Engine::new(Rc::new(Outbox::new(Box::new(std::io::sink()))));
        match engine.run(&job(1, Some(source), "{}")).0 {
            Outcome::Ok { result } => serde_json::from_str(&result.unwrap()).unwrap(),
            Outcome::Err(e) => panic!("the job failed: {e:?}"),
        }
    }

    const HEX: &str = "const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
        const bytes = (s) => new TextEncoder().encode(s);
        const caught = (p) => p.then((v) => ({ ok: v }), (e) => ({ name: e.name, message: e.message }));
        const thrown = (f) => { try { return { ok: f() } } catch (e) { return { name: e.name, message: e.message } } };";

    #[test]
    fn digests_match_the_fips_180_vectors() {
        let source = format!(
            "{HEX}
            export default async () => ({{
                sha1: hex(await crypto.subtle.digest('SHA-1', bytes('abc'))),
                sha256: hex(await crypto.subtle.digest({{ name: 'sha-256' }}, bytes('abc').buffer)),
                sha384: hex(await crypto.subtle.digest('Sha-384', new DataView(bytes('abc').buffer))),
                sha512: hex(await crypto.subtle.digest('SHA-512', bytes('xabcx').subarray(1, 4))),
                empty: hex(await crypto.subtle.digest('SHA-256', new ArrayBuffer(0))),
                isBuffer: (await crypto.subtle.digest('SHA-1', bytes(''))) instanceof ArrayBuffer,
            }})"
        );
        assert_eq!(
            result_of(&source),
            json!({
                "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
                "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "sha384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
                "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                "empty": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "isBuffer": true,
            })
        );
    }

    #[test]
    fn digest_refuses_unknown_names_and_non_buffers() {
        let source = format!(
            "{HEX}
            export default async () => ({{
                unknown: await caught(crypto.subtle.digest('MD5', bytes('abc'))),
                noName: await caught(crypto.subtle.digest({{}}, bytes('abc'))),
                string: await caught(crypto.subtle.digest('SHA-256', 'abc')),
            }})"
        );
        assert_eq!(
            result_of(&source),
            json!({
                "unknown": {"name": "NotSupportedError", "message": "digest: algorithm \"MD5\" is not supported (supported: SHA-1, SHA-256, SHA-384, SHA-512)"},
                "noName": {"name": "TypeError", "message": "digest: the algorithm must be a name or an object with a name, not Object"},
                "string": {"name": "TypeError", "message": "digest: data must be an ArrayBuffer, a typed array or a DataView, not string"},
            })
        );
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vectors_and_verifies() {
        let source = format!(
            "{HEX}
            const key = (raw, hash) => crypto.subtle.importKey('raw', raw, {{ name: 'HMAC', hash }}, false, ['sign', 'verify']);
            export default async () => {{
                const k1 = new Uint8Array(20).fill(0x0b);
                const tc1 = {{}};
                for (const hash of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) {{
                    tc1[hash] = hex(await crypto.subtle.sign('HMAC', await key(k1, hash), bytes('Hi There')));
                }}
                const jefe = await key(bytes('Jefe'), {{ name: 'SHA-256' }});
                const data = bytes('what do ya want for nothing?');
                const tag = await crypto.subtle.sign({{ name: 'hmac' }}, jefe, data);
                const bad = new Uint8Array(tag.slice(0)); bad[0] ^= 1;
                return {{
                    tc1,
                    tc2: hex(tag),
                    good: await crypto.subtle.verify('HMAC', jefe, tag, data),
                    flipped: await crypto.subtle.verify('HMAC', jefe, bad, data),
                    short: await crypto.subtle.verify('HMAC', jefe, tag.slice(0, 16), data),
                    key: {{ type: jefe.type, extractable: jefe.extractable, algorithm: jefe.algorithm, usages: jefe.usages,
                            tag: String(jefe), isKey: jefe instanceof CryptoKey, keys: Object.keys(jefe) }},
                }};
            }}"
        );
        assert_eq!(
            result_of(&source),
            json!({
                "tc1": {
                    "SHA-1": "b617318655057264e28bc0b6fb378c8ef146be00",
                    "SHA-256": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "SHA-384": "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                    "SHA-512": "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                },
                "tc2": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "good": true,
                "flipped": false,
                "short": false,
                "key": {
                    "type": "secret", "extractable": false,
                    "algorithm": {"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 32},
                    "usages": ["sign", "verify"], "tag": "[object CryptoKey]", "isKey": true, "keys": [],
                },
            })
        );
    }

    #[test]
    fn hmac_errors_are_named_dom_exceptions() {
        let source = format!(
            "{HEX}
            const subtle = crypto.subtle;
            export default async () => {{
                const verifyOnly = await subtle.importKey('raw', bytes('k'), {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['verify']);
                return {{
                    empty: await caught(subtle.importKey('raw', new Uint8Array(0), {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['sign'])),
                    noHash: await caught(subtle.importKey('raw', bytes('k'), {{ name: 'HMAC' }}, false, ['sign'])),
                    badHash: await caught(subtle.importKey('raw', bytes('k'), {{ name: 'HMAC', hash: 'SHA-3' }}, false, ['sign'])),
                    badUsage: await caught(subtle.importKey('raw', bytes('k'), {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['encrypt'])),
                    badFormat: await caught(subtle.importKey('jwk', {{}}, {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['sign'])),
                    badLength: await caught(subtle.importKey('raw', bytes('k'), {{ name: 'HMAC', hash: 'SHA-256', length: 16 }}, false, ['sign'])),
                    badKeyData: await caught(subtle.importKey('raw', 'secret', {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['sign'])),
                    unknown: await caught(subtle.importKey('raw', bytes('k'), {{ name: 'AES-GCM' }}, false, ['encrypt'])),
                    wrongUsage: await caught(subtle.sign('HMAC', verifyOnly, bytes('x'))),
                    notAKey: await caught(subtle.sign('HMAC', {{ type: 'secret' }}, bytes('x'))),
                    notExtractable: await caught(subtle.exportKey('raw', verifyOnly)),
                    construct: thrown(() => new CryptoKey()),
                }};
            }}"
        );
        assert_eq!(
            result_of(&source),
            json!({
                "empty": {"name": "DataError", "message": "importKey: an HMAC key must not be empty"},
                "noHash": {"name": "TypeError", "message": "importKey: the algorithm needs a hash (one of SHA-1, SHA-256, SHA-384, SHA-512)"},
                "badHash": {"name": "NotSupportedError", "message": "importKey: algorithm \"SHA-3\" is not supported (supported: SHA-1, SHA-256, SHA-384, SHA-512)"},
                "badUsage": {"name": "SyntaxError", "message": "importKey: usage \"encrypt\" is not valid for an HMAC key (valid: sign, verify)"},
                "badFormat": {"name": "NotSupportedError", "message": "importKey: key format \"jwk\" is not supported for HMAC keys (use \"raw\")"},
                "badLength": {"name": "DataError", "message": "importKey: length 16 does not fit a key of 1 bytes"},
                "badKeyData": {"name": "TypeError", "message": "importKey: keyData must be an ArrayBuffer, a typed array or a DataView, not string"},
                "unknown": {"name": "NotSupportedError", "message": "importKey: algorithm \"AES-GCM\" is not supported (supported: HMAC)"},
                "wrongUsage": {"name": "InvalidAccessError", "message": "sign: the key's usages (verify) do not include \"sign\""},
                "notAKey": {"name": "TypeError", "message": "sign: the key must be a CryptoKey, not Object"},
                "notExtractable": {"name": "InvalidAccessError", "message": "exportKey: the key is not extractable"},
                "construct": {"name": "TypeError", "message": "CryptoKey: illegal constructor"},
            })
        );
    }

    #[test]
    fn random_values_fill_integer_arrays_and_refuse_the_rest() {
        let source = format!(
            "{HEX}
            export default () => {{
                const a = new Uint32Array(64);
                const same = crypto.getRandomValues(a) === a;
                const big = new Uint8Array(65536);
                crypto.getRandomValues(big);
                const view = new Uint8Array(8);
                crypto.getRandomValues(view.subarray(2, 4));
                const uuids = Array.from({{ length: 50 }}, () => crypto.randomUUID());
                return {{
                    same,
                    filled: a.some((x) => x !== 0) && big.some((x) => x !== 0),
                    outside: [view[0], view[1], view[4], view[5], view[6], view[7]],
                    bigint: typeof crypto.getRandomValues(new BigUint64Array(2))[0],
                    quota: thrown(() => crypto.getRandomValues(new Uint8Array(65537))),
                    float: thrown(() => crypto.getRandomValues(new Float64Array(4))),
                    dataView: thrown(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4)))),
                    uuidShape: uuids.every((u) => /^[0-9a-f]{{8}}-[0-9a-f]{{4}}-4[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-[0-9a-f]{{12}}$/.test(u)),
                    uuidsDistinct: new Set(uuids).size,
                }};
            }}"
        );
        assert_eq!(
            result_of(&source),
            json!({
                "same": true,
                "filled": true,
                "outside": [0, 0, 0, 0, 0, 0],
                "bigint": "bigint",
                "quota": {"name": "QuotaExceededError", "message": "crypto.getRandomValues: the array's byte length (65537) exceeds the 65536 bytes one call can fill"},
                "float": {"name": "TypeError", "message": "crypto.getRandomValues: the argument must be an integer typed array, not Float64Array"},
                "dataView": {"name": "TypeError", "message": "crypto.getRandomValues: the argument must be an integer typed array, not DataView"},
                "uuidShape": true,
                "uuidsDistinct": 50,
            })
        );
    }
}
