//! `crypto` for handlers, as browsers, Deno and Workers have it: `getRandomValues`,
//! `randomUUID` and `crypto.subtle` (SHA digests, HMAC keys, sign and verify).
//!
//! The Web Crypto surface (argument checks, algorithm names, `CryptoKey`, DOMException-style
//! errors, promises) is JavaScript in `crypto.js`; it reaches the few primitives below, which
//! are the only code that touches key bytes or the kernel's randomness. The primitives are
//! handed to that script as an argument and are never globals a handler could call.

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{AlignedVec, JsArrayBuffer};
use boa_engine::{
    Context, JsError, JsNativeError, JsObject, JsResult, JsValue, NativeFunction, js_string,
};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::bundled;

/// The globals `crypto.js` defines.
const GLOBALS: [&str; 2] = ["crypto", "CryptoKey"];

/// The most bytes `getRandomValues` fills in one call, as the Web Crypto specification says;
/// `crypto.js` refuses more before it asks.
const MAX_RANDOM_BYTES: usize = 65_536;

/// Defines `crypto` and `CryptoKey` as accessors of the global object that compile
/// `crypto.js` on first read: compiling it costs more than the rest of a fresh context, and
/// most jobs never touch either.
///
/// They stay accessors after that ([`bundled::define_held`] says why): `crypto.js` puts
/// what it builds on a holder object, and reads `DOMException` through `Reflect.get`, so
/// installing changes nothing in the global object.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    let holder = JsObject::with_null_proto();
    bundled::define_held(&global, &GLOBALS, &holder, (), install, context)
}

/// Compiles `crypto.js`, which puts `crypto` and `CryptoKey` on `holder`.
fn install(holder: &JsObject, _: &(), context: &mut Context) -> JsResult<()> {
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
        .function(
            NativeFunction::from_fn_ptr(pkcs8_sign),
            js_string!("pkcs8Sign"),
            3,
        )
        .build();
    bundled::install(
        "crypto.js",
        include_str!("crypto.js"),
        &[primitives.into(), holder.clone().into()],
        context,
    )
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

/// `pkcs8Sign(kind, der, data)`: the SHA-256 signature of `data` with a PKCS #8 private
/// key, `kind` `"RSASSA-PKCS1-v1_5"` or `"ECDSA"` (P-256, the signature as `r || s`, as Web
/// Crypto gives it). With no data it only checks the key, which is how `importKey` refuses
/// a malformed one up front, and answers an RSA key's modulus length in bits. A key that does not parse is an error naming the kind.
fn pkcs8_sign(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    use p256::ecdsa::signature::Signer;
    use rsa::pkcs8::DecodePrivateKey;

    let kind = args
        .first()
        .and_then(JsValue::as_string)
        .map(|kind| kind.to_std_string_escaped())
        .unwrap_or_default();
    let der = bytes_of(args, 1)?;
    let data = args.get(2).filter(|data| !data.is_undefined());
    let malformed = |detail: String| {
        JsError::from(
            JsNativeError::typ().with_message(format!("not a PKCS #8 {kind} key: {detail}")),
        )
    };
    let signature = match kind.as_str() {
        "RSASSA-PKCS1-v1_5" => {
            let key =
                rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| malformed(e.to_string()))?;
            let Some(_) = data else {
                return Ok(rsa::traits::PublicKeyParts::size(&key)
                    .saturating_mul(8)
                    .into());
            };
            let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
            let signature: rsa::pkcs1v15::Signature = key
                .try_sign(&bytes_of(args, 2)?)
                .map_err(|e| malformed(e.to_string()))?;
            rsa::signature::SignatureEncoding::to_vec(&signature)
        }
        "ECDSA" => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                .map_err(|e| malformed(e.to_string()))?;
            let Some(_) = data else {
                return Ok(JsValue::undefined());
            };
            let signature: p256::ecdsa::Signature = key.sign(&bytes_of(args, 2)?);
            signature.to_bytes().to_vec()
        }
        other => {
            return Err(JsNativeError::typ()
                .with_message(format!("no PKCS #8 signing for {other:?}"))
                .into());
        }
    };
    array_buffer(signature, context)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::rc::Rc;

    use jobvisor_protocol::worker::Outcome;
    use serde_json::{Value, json};

    use super::super::Engine;
    use super::super::tests::job;
    use crate::channel::Channel;

    /// The handler's result, which must be a success.
    fn result_of(source: &str) -> Value {
        let mut engine = Engine::new(Rc::new(Channel::detached()));
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
                "unknown": {"name": "NotSupportedError", "message": "importKey: algorithm \"AES-GCM\" is not supported (supported: HMAC, RSASSA-PKCS1-v1_5, ECDSA)"},
                "wrongUsage": {"name": "InvalidAccessError", "message": "sign: the key's usages (verify) do not include \"sign\""},
                "notAKey": {"name": "TypeError", "message": "sign: the key must be a CryptoKey, not Object"},
                "notExtractable": {"name": "InvalidAccessError", "message": "exportKey: the key is not extractable"},
                "construct": {"name": "TypeError", "message": "CryptoKey: illegal constructor"},
            })
        );
    }

    #[test]
    fn crypto_is_compiled_on_first_use() {
        let source = "export default () => {
            const accessor = (name) => typeof Object.getOwnPropertyDescriptor(globalThis, name).get;
            const before = { crypto: accessor('crypto'), CryptoKey: accessor('CryptoKey') };
            const uuid = typeof crypto.randomUUID();
            const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
            return { before, uuid, key: typeof CryptoKey, enumerable: descriptor.enumerable };
        }";
        assert_eq!(
            result_of(source),
            json!({
                "before": {"crypto": "function", "CryptoKey": "function"},
                "uuid": "string",
                "key": "function",
                "enumerable": false,
            })
        );
    }

    /// The engine caches where a global lives after a read: reading `crypto` from the same
    /// place again, after the first read compiled it, must still find it, and so must the
    /// `DOMException` the errors are made with.
    #[test]
    fn crypto_read_again_after_its_first_read_is_still_crypto() {
        let source = "export default async () => {
            const seen = [];
            for (let i = 0; i < 3; i++) {
                seen.push(typeof crypto.randomUUID(), typeof CryptoKey);
                try { crypto.getRandomValues(new Float64Array(1)); } catch (e) { seen.push(e.name); }
                await crypto.subtle.digest('MD5', new Uint8Array(1)).catch((e) => seen.push(e instanceof DOMException && e.name));
            }
            crypto = 'replaced';
            seen.push(crypto, typeof globalThis.crypto.subtle);
            return seen;
        }";
        let round = json!(["string", "function", "TypeError", "NotSupportedError"]);
        let mut expected: Vec<_> = std::iter::repeat_n(round.as_array().unwrap().clone(), 3)
            .flatten()
            .collect();
        expected.extend([json!("replaced"), json!("undefined")]);
        assert_eq!(result_of(source), Value::Array(expected));
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

    /// A 2048-bit RSA key and a P-256 key, PKCS #8 DER in base64, made with node's
    /// `crypto.generateKeyPairSync` for these tests only.
    const RSA_PKCS8: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDIG1Pn8IgG3X0ao+3mYbYYl0VmrJDzhdxywTWwLsUp3GmWf6wlTcn7M1/l8jOcZHcWPDopf77/WVdQSfQvxWr2Vdm9Jsz1SxbkRPuoGxDs5HyGUf5sN0pu9TQPqg5n4D4kJXLWX8c01hcbUZ4FWOG2Qxmng42JSKZoGheCPNeu0GsixyyBLobe1qi7i8ro+jchbjiAoOVA+LDCEk2Id6Ft53vYS5/oxcJlm4ihiwGcIgmPfCRTPpJMpo0A0S3Bn5fRTf543D27/g9Uny6n4+DL0+9YeAPLxMe8pkl2mb8e1gu6PrsR2Ye6wr8d+MHLn0K4d1rybtz1/xkISCPxzpujAgMBAAECggEABP4BiuDKU/mEnHyIe93mMBjeB2C4wQqO5GIDl+Ci1JeGHtYSkl+tcVHny5HOTdGH0wsvnEdumWo+LmeZ6vMu5vRfWUO1i00TRiCecqQyOOa+YI99HHAIsFn3sYhZkafbhQVWJxj+nEfXDbxsh8+e2fA0nKRAjLM+S4yTF5GzA85uAckgTLncyTITgrUXbReJUBj+2B02cpo+NXpNQruqhGfh3IHEN29QvbqidpgUPPVGF0aTtlwmFKxG1vroPoPnWoBnbmDT8+g8ReS1CwUKVR8mHEo1kI3zqy7xngZQ1EhAu43DoaTbkCpKikBIXxSbgUgVi6hDIhueyUahUqV5KQKBgQDoPvik102IOUiuwLjq5uFlFcwhgSvFUyJU2t57Q4Nv41+IHS3tc3MxEPS4q8CWfiefLxo6dgwqTY7U9t4yGA95ch2UF5sLWKrHV/dAj7g+tnVy/CaZ0ATfOHsqCrpoOqHMxyhP7Bn+BNZYOQQ/UjLuELu2D7xBdE8epQgbH1VZ1wKBgQDcktYwUWN/f69feWYI2HQyZXV5n3fa6I/uCADRozk0MRBxjmTTTrjImDuvW1KqNgK00fOHs5HZEkufGm3b99PHkNyAfbXzLFaKgtgCLcPE0VcXJP88JNkU9l9LHFfEtqC//2ETZs6JZNcnZYfn4MQT2b6lZU+vVWpRnb50CF4LFQKBgAkfIAjpY+Qry80BSMIBG20q8/+E4UE4yKpohkB1IF5uobvo2XrwA+AzeEkghcnjXo8D/JW7OTMYJLn8kDGLfGAauUqtuqsxalO2AsIIYwYjiG1hteponyhdQYkfLr8VPnGaiNzKuyKc8gY5Bw+tnM543caCy7QOa2UaujzGeEW1AoGAcmXdnLW5ivjoNfY6iz/oE/M3GFsyyGBxtZyFADVNh9oikyKs/EMJ50+9NNeCajEU+j8htTHW5ORuQBhu/fTs68Yf9qw8X+CRCcmOyqJ9tGh2aNSRY9oglJSrG8OZabbmbG3BJVTerbeVNyObdxHF4B3AmPuQdnkwaSANFRT54XkCgYB0qp7xhvxc18TSwKPhljT84ZfI9qtRO1OI+OYgaL1vt2k39OS9oL1Clbnb17QkDQCNLnpIMWeHWJ2ba8HYznlDZ41sII3t1I43RY003AfynCNNoIejB6Bk0LZ7Q40OEbxbpMxOtAFn4ayVjQ+Ax+G9wX+MfbhKgQqJw7WMy+7oPQ==";
    const EC_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwr7sQmcCDQ/LZ6QTDcAo0LG0y2unIPhwM7yBvSqeOh2hRANCAATJ5dlv0Ogf0OlSqIpZeOj3m45We9lk4edpGuh+fWHB7GFH0gJA77fTbbTYK11C+7jah/AHhLH2rY1gdTOv75J7";
    /// The P-256 key's public point (SEC1, uncompressed) as node exported it.
    const EC_PUBLIC: &str = "04c9e5d96fd0e81fd0e952a88a5978e8f79b8e567bd964e1e7691ae87e7d61c1ec6147d20240efb7d36db4d82b5d42fbb8da87f00784b1f6ad8d607533afef927b";

    #[test]
    fn pkcs8_keys_sign_rs256_and_es256() {
        let source = format!(
            "{HEX}
            const der = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            export default async () => {{
                const rsa = await crypto.subtle.importKey('pkcs8', der('{RSA_PKCS8}'),
                    {{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }}, false, ['sign']);
                const ec = await crypto.subtle.importKey('pkcs8', der('{EC_PKCS8}'),
                    {{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['sign']);
                const data = bytes('header.claims');
                return {{
                    rs256: hex(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', rsa, data)),
                    es256: hex(await crypto.subtle.sign({{ name: 'ECDSA', hash: 'SHA-256' }}, ec, data)),
                    rsaKey: {{ type: rsa.type, algorithm: rsa.algorithm, usages: rsa.usages }},
                    ecKey: {{ type: ec.type, algorithm: ec.algorithm }},
                    garbage: await caught(crypto.subtle.importKey('pkcs8', bytes('not a key'),
                        {{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['sign'])),
                    rsaAsEc: await caught(crypto.subtle.importKey('pkcs8', der('{RSA_PKCS8}'),
                        {{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['sign'])),
                    curve: await caught(crypto.subtle.importKey('pkcs8', der('{EC_PKCS8}'),
                        {{ name: 'ECDSA', namedCurve: 'P-384' }}, false, ['sign'])),
                    verifyUsage: await caught(crypto.subtle.importKey('pkcs8', der('{EC_PKCS8}'),
                        {{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['verify'])),
                    rawRsa: await caught(crypto.subtle.importKey('raw', data,
                        {{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }}, false, ['sign'])),
                    sha512: await caught(crypto.subtle.sign({{ name: 'ECDSA', hash: 'SHA-512' }}, ec, data)),
                }};
            }}"
        );
        let mut result = result_of(&source);
        let es256 = result["es256"].take();
        // PKCS #1 v1.5 signatures are deterministic: this is node's `crypto.sign("sha256")`.
        assert_eq!(
            result["rs256"],
            "b66efa18f610e0854d6764b37a72c9c7d0def36b24f0e44de7c5c5efa37f93ff7e175147ea73d42ba37666ed3fd7d19965b1fcfbd650d23c001a02cc384610ec92c014d6a04491400293ff5b3b4f690da94c72f7706b4ef131760a90b67871a7257bd7f95ce6cd5da2a77b689185b15630d5d605a6bd3af876e7b699d8ae117031452205b6cd34241e3ae42462f143d1146866aab87d21c6aebdfb7a47ca2a59adb14cb7a97637834c575ea3f3209d032085739d623a143785e0057cf0eac215d233199e82f609e84c6577789d095f0868d5b504d08e8466b941e8e777e8ea3e057356dbb2e793270c19e01d243d80b3608cf11180a6925a2b59507bf4720dce"
        );
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        // ECDSA signatures are not: check it with node's public key instead.
        use p256::ecdsa::signature::Verifier;
        let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(&hex(EC_PUBLIC)).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(&hex(es256.as_str().unwrap())).unwrap();
        public.verify(b"header.claims", &signature).unwrap();
        result["rs256"].take();
        assert_eq!(
            result,
            json!({
                "rs256": null,
                "es256": null,
                "rsaKey": {"type": "private", "algorithm": {"name": "RSASSA-PKCS1-v1_5", "hash": {"name": "SHA-256"}, "modulusLength": 2048}, "usages": ["sign"]},
                "ecKey": {"type": "private", "algorithm": {"name": "ECDSA", "namedCurve": "P-256"}},
                "garbage": {"name": "DataError", "message": "importKey: not a PKCS #8 ECDSA key: PKCS#8 ASN.1 error: unexpected ASN.1 DER tag: expected SEQUENCE, got APPLICATION [14] (constructed)"},
                "rsaAsEc": {"name": "DataError", "message": "importKey: not a PKCS #8 ECDSA key: public key error: unknown/unsupported algorithm OID: 1.2.840.10045.2.1"},
                "curve": {"name": "NotSupportedError", "message": "importKey: ECDSA curve \"P-384\" is not supported (supported: P-256)"},
                "verifyUsage": {"name": "SyntaxError", "message": "importKey: usage \"verify\" is not valid for an ECDSA key (valid: sign)"},
                "rawRsa": {"name": "NotSupportedError", "message": "importKey: key format \"raw\" is not supported for RSASSA-PKCS1-v1_5 keys (use \"pkcs8\")"},
                "sha512": {"name": "NotSupportedError", "message": "sign: ECDSA with SHA-512 is not supported (supported: SHA-256)"},
            })
        );
    }
}
