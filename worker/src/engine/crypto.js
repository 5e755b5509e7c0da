// The Web Crypto surface of the worker (see crypto.rs): argument checks, algorithm names,
// CryptoKey and DOMException errors. It evaluates to a function of the native primitives,
// so they stay out of reach of handlers, and of the object that receives `crypto` and
// `CryptoKey` (not the global object: see `crypto.rs`).
(function (native, target) {
  "use strict";

  // A DOMException with `name` and `message`. The global is itself compiled on first use,
  // and is read through Reflect.get, which no inline cache of this script remembers.
  const fail = (name, message) => new (Reflect.get(globalThis, "DOMException"))(message, name);

  const HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  // HMAC's default key length is the hash's block size.
  const BLOCK_BITS = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  const SIGNING = ["HMAC", "RSASSA-PKCS1-v1_5", "ECDSA"];
  const ALGORITHMS = [...HASHES, ...SIGNING];
  const INTEGER_ARRAYS = new Set([
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
    "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array",
  ]);
  const MAX_RANDOM_BYTES = 65536;
  const typedArrayTag = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;

  const describe = (value) => {
    if (value === null) return "null";
    if (typeof value !== "object" && typeof value !== "function") return typeof value;
    return typedArrayTag.call(value) ?? Object.prototype.toString.call(value).slice(8, -1);
  };

  // A fresh ArrayBuffer with the bytes of a BufferSource, so a later change to the caller's
  // buffer cannot reach an operation that has started.
  const bytesOf = (data, what) => {
    let view;
    if (data instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer === "function" && data instanceof SharedArrayBuffer)) {
      view = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      throw new TypeError(
        `${what} must be an ArrayBuffer, a typed array or a DataView, not ${describe(data)}`);
    }
    const copy = new Uint8Array(view.byteLength);
    copy.set(view);
    return copy.buffer;
  };

  // The canonical name of an algorithm given as a string or as `{ name }`, for `operation`.
  const algorithmName = (algorithm, operation, allowed) => {
    const name = typeof algorithm === "string" ? algorithm : algorithm?.name;
    if (typeof name !== "string") {
      throw new TypeError(
        `${operation}: the algorithm must be a name or an object with a name, not ${describe(algorithm)}`);
    }
    const known = ALGORITHMS.find((k) => k.toUpperCase() === name.toUpperCase());
    if (known === undefined || !allowed.includes(known)) {
      throw fail("NotSupportedError",
        `${operation}: algorithm "${name}" is not supported (supported: ${allowed.join(", ")})`);
    }
    return known;
  };

  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || !INTEGER_ARRAYS.has(typedArrayTag.call(array))) {
      throw new TypeError(
        `crypto.getRandomValues: the argument must be an integer typed array, not ${describe(array)}`);
    }
    if (array.byteLength > MAX_RANDOM_BYTES) {
      throw fail("QuotaExceededError",
        `crypto.getRandomValues: the array's byte length (${array.byteLength}) exceeds the ${MAX_RANDOM_BYTES} bytes one call can fill`);
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
      .set(new Uint8Array(native.randomBytes(array.byteLength)));
    return array;
  }

  function randomUUID() {
    const b = new Uint8Array(native.randomBytes(16));
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // The internal slots of every CryptoKey: a handler sees only its getters.
  const slots = new WeakMap();
  const constructing = Symbol("CryptoKey");

  class CryptoKey {
    constructor(token, slot) {
      if (token !== constructing) throw new TypeError("CryptoKey: illegal constructor");
      slots.set(this, slot);
    }
  }
  const slotGetter = (name) => function () {
    const slot = slots.get(this);
    if (slot === undefined) throw new TypeError(`CryptoKey.${name}: not a CryptoKey`);
    return slot[name];
  };
  for (const name of ["type", "extractable", "algorithm", "usages"]) {
    Object.defineProperty(CryptoKey.prototype, name,
      { get: slotGetter(name), enumerable: true, configurable: true });
  }
  Object.defineProperty(CryptoKey.prototype, Symbol.toStringTag,
    { value: "CryptoKey", configurable: true });

  const usagesOf = (keyUsages, allowed, algorithm) => {
    if (keyUsages === null || typeof keyUsages !== "object" ||
      typeof keyUsages[Symbol.iterator] !== "function") {
      throw new TypeError(`importKey: keyUsages must be an array of strings, not ${describe(keyUsages)}`);
    }
    const usages = [...new Set(Array.from(keyUsages, String))];
    const wrong = usages.find((u) => !allowed.includes(u));
    if (wrong !== undefined) {
      throw fail("SyntaxError",
        `importKey: usage "${wrong}" is not valid for an ${algorithm} key (valid: ${allowed.join(", ")})`);
    }
    return usages;
  };

  const hashOf = (algorithm, operation) => {
    if (algorithm?.hash === undefined) {
      throw new TypeError(`${operation}: the algorithm needs a hash (one of ${HASHES.join(", ")})`);
    }
    return algorithmName(algorithm.hash, operation, HASHES);
  };

  async function digest(algorithm, data) {
    const hash = algorithmName(algorithm, "digest", HASHES);
    return native.digest(hash, bytesOf(data, "digest: data"));
  }

  // Which key format each algorithm imports.
  const FORMATS = { "HMAC": "raw", "RSASSA-PKCS1-v1_5": "pkcs8", "ECDSA": "pkcs8" };

  async function importKey(format, keyData, algorithm, extractable, keyUsages) {
    const name = algorithmName(algorithm, "importKey", SIGNING);
    if (format !== FORMATS[name]) {
      throw fail("NotSupportedError",
        `importKey: key format "${format}" is not supported for ${name} keys (use "${FORMATS[name]}")`);
    }
    if (name !== "HMAC") return importPrivateKey(name, keyData, algorithm, extractable, keyUsages);
    const hash = hashOf(algorithm, "importKey");
    const usages = usagesOf(keyUsages, ["sign", "verify"], name);
    const raw = bytesOf(keyData, "importKey: keyData");
    if (raw.byteLength === 0) throw fail("DataError", "importKey: an HMAC key must not be empty");
    const bits = raw.byteLength * 8;
    let length = bits;
    if (algorithm.length !== undefined) {
      length = Number(algorithm.length);
      if (!Number.isInteger(length) || length > bits || length <= bits - 8) {
        throw fail("DataError",
          `importKey: length ${algorithm.length} does not fit a key of ${raw.byteLength} bytes`);
      }
    }
    return new CryptoKey(constructing, {
      type: "secret",
      extractable: Boolean(extractable),
      algorithm: { name, hash: { name: hash }, length },
      usages,
      raw,
    });
  }

  // An RSASSA-PKCS1-v1_5 or ECDSA private key from PKCS #8, for signing with SHA-256.
  const importPrivateKey = (name, keyData, algorithm, extractable, keyUsages) => {
    const usages = usagesOf(keyUsages, ["sign"], name);
    let imported;
    if (name === "ECDSA") {
      if (String(algorithm.namedCurve).toUpperCase() !== "P-256") {
        throw fail("NotSupportedError",
          `importKey: ECDSA curve "${algorithm.namedCurve}" is not supported (supported: P-256)`);
      }
      imported = { name, namedCurve: "P-256" };
    } else {
      const hash = hashOf(algorithm, "importKey");
      if (hash !== "SHA-256") {
        throw fail("NotSupportedError",
          `importKey: ${name} with ${hash} is not supported (supported: SHA-256)`);
      }
      imported = { name, hash: { name: hash } };
    }
    const raw = bytesOf(keyData, "importKey: keyData");
    let bits;
    try {
      bits = native.pkcs8Sign(name, raw);
    } catch (e) {
      throw fail("DataError", `importKey: ${e.message}`);
    }
    if (bits !== undefined) imported.modulusLength = bits;
    return new CryptoKey(constructing, {
      type: "private", extractable: Boolean(extractable), algorithm: imported, usages, raw,
    });
  };

  // The key's slots, checked for an operation of `algorithm` that needs `usage`.
  const keyFor = (key, algorithm, usage, operation) => {
    const name = algorithmName(algorithm, operation, SIGNING);
    const slot = slots.get(key);
    if (slot === undefined) {
      throw new TypeError(`${operation}: the key must be a CryptoKey, not ${describe(key)}`);
    }
    if (slot.algorithm.name !== name) {
      throw fail("InvalidAccessError",
        `${operation}: the key is an ${slot.algorithm.name} key, not an ${name} key`);
    }
    if (!slot.usages.includes(usage)) {
      throw fail("InvalidAccessError",
        `${operation}: the key's usages (${slot.usages.join(", ") || "none"}) do not include "${usage}"`);
    }
    return slot;
  };

  async function sign(algorithm, key, data) {
    const slot = keyFor(key, algorithm, "sign", "sign");
    const bytes = bytesOf(data, "sign: data");
    switch (slot.algorithm.name) {
      case "HMAC":
        return native.hmacSign(slot.algorithm.hash.name, slot.raw, bytes);
      case "ECDSA": {
        const hash = hashOf(algorithm, "sign");
        if (hash !== "SHA-256") {
          throw fail("NotSupportedError", `sign: ECDSA with ${hash} is not supported (supported: SHA-256)`);
        }
        return native.pkcs8Sign("ECDSA", slot.raw, bytes);
      }
      default:
        return native.pkcs8Sign(slot.algorithm.name, slot.raw, bytes);
    }
  }

  async function verify(algorithm, key, signature, data) {
    const slot = keyFor(key, algorithm, "verify", "verify");
    return native.hmacVerify(slot.algorithm.hash.name, slot.raw,
      bytesOf(data, "verify: data"), bytesOf(signature, "verify: signature"));
  }

  async function exportKey(format, key) {
    const slot = slots.get(key);
    if (slot === undefined) {
      throw new TypeError(`exportKey: the key must be a CryptoKey, not ${describe(key)}`);
    }
    const expected = FORMATS[slot.algorithm.name];
    if (format !== expected) {
      throw fail("NotSupportedError",
        `exportKey: key format "${format}" is not supported for ${slot.algorithm.name} keys (use "${expected}")`);
    }
    if (!slot.extractable) throw fail("InvalidAccessError", "exportKey: the key is not extractable");
    return slot.raw.slice(0);
  }

  const method = (fn) => ({ value: fn, writable: true, enumerable: true, configurable: true });
  const subtle = Object.defineProperties({}, {
    digest: method(digest),
    importKey: method(importKey),
    exportKey: method(exportKey),
    sign: method(sign),
    verify: method(verify),
    [Symbol.toStringTag]: { value: "SubtleCrypto", configurable: true },
  });
  const crypto = Object.defineProperties({}, {
    getRandomValues: method(getRandomValues),
    randomUUID: method(randomUUID),
    subtle: { value: subtle, enumerable: true, configurable: true },
    [Symbol.toStringTag]: { value: "Crypto", configurable: true },
  });
  target.crypto = crypto;
  target.CryptoKey = CryptoKey;
});
