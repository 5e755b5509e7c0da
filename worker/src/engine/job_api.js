// `ctx.state`, `ctx.secrets` and `ctx.enqueue` (see host_api.rs). Evaluated once per
// context, on the first use of one of them, with the native helpers and the holder they
// are put on; they are the same for every job of the context, the job being the one in
// hand when a call is made.
(function (native, target) {
  "use strict";

  const define = (object, name, value) =>
    Object.defineProperty(object, name, { value, writable: true, configurable: true });
  const global = (name) => Reflect.get(globalThis, name);
  const domException = (message, name) => new (global("DOMException"))(message, name);
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const describe = (value) => {
    if (value === null) return "null";
    if (typeof value !== "object" && typeof value !== "function") return typeof value;
    return Object.prototype.toString.call(value).slice(8, -1);
  };
  const call = (op, bytes) => native.call(stringify(op), bytes);
  const utf8Length = (text) => native.utf8Encode(text).byteLength;

  // The error a refused call rejects with, named after the kind of refusal, with the
  // host's message.
  function hostError(kind, message) {
    if (kind === "Timeout") return domException(message, "TimeoutError");
    if (kind === "Aborted") return domException(message, "AbortError");
    const error = kind === "Invalid" ? new TypeError(message) : new Error(message);
    if (kind !== "Invalid") {
      const name = { Denied: "HostCallDenied", Failed: "HostCallFailed", Limit: "HostCallLimit", Conflict: "StateConflict" }[kind];
      define(error, "name", name ?? "HostCallFailed");
    }
    return error;
  }

  // Sends `op` and resolves with what `answer` makes of a reply of type `expected`.
  function request(op, expected, answer, bytes = undefined) {
    const [, reply] = call(op, bytes);
    return reply.then((result) => {
      if (result.type === "refused") throw hostError(result.kind, result.message);
      if (result.type !== expected) {
        throw new TypeError(`the host answered ${Object.keys(op)[0]} with ${result.type}, not ${expected}`);
      }
      return answer(result);
    });
  }

  // Runs `check` now, so that a bad argument rejects the promise instead of throwing.
  function promised(check) {
    try {
      return check();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function options(value, allowed, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object") throw new TypeError(`${what}: the options must be an object, not ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        throw new TypeError(`${what}: unknown option ${JSON.stringify(key)} (known: ${allowed.join(", ")})`);
      }
    }
    return value;
  }

  function wholeNumber(value, what, name, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
    if (value === undefined) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(`${what}: ${name} must be a whole number from ${min} to ${max}, not ${String(value)}`);
    }
    return value;
  }

  // ---- ctx.state -------------------------------------------------------------------

  const MAX_KEY_BYTES = 512;
  const MAX_VALUE_BYTES = 64 * 1024;
  const MAX_LIST_LIMIT = 1000;

  function stateKey(key, what, name = "the key") {
    if (typeof key !== "string") throw new TypeError(`${what}: ${name} must be a string, not ${describe(key)}`);
    if (key.length === 0) throw new TypeError(`${what}: ${name} must not be empty`);
    if (!key.isWellFormed()) throw new TypeError(`${what}: ${name} is not valid Unicode (it has a lone surrogate)`);
    const bytes = utf8Length(key);
    if (bytes > MAX_KEY_BYTES) {
      throw new RangeError(`${what}: ${name} is ${bytes} bytes, over the limit of ${MAX_KEY_BYTES} bytes`);
    }
    return key;
  }

  // `value` as JSON text, for `what` (which names the value in messages), at most
  // `limit` bytes.
  function jsonText(value, what, limit = Infinity) {
    if (value === undefined || typeof value === "function" || typeof value === "symbol") {
      throw new TypeError(`${what} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, which has no JSON form`);
    }
    let text;
    try {
      text = stringify(value);
    } catch (error) {
      throw new TypeError(`${what} cannot be serialised as JSON: ${error?.message ?? String(error)}`);
    }
    if (text === undefined) throw new TypeError(`${what} has no JSON form`);
    if (limit !== Infinity) {
      const bytes = utf8Length(text);
      if (bytes > limit) {
        throw new RangeError(`${what} is ${bytes} bytes of JSON, over the limit of ${limit} bytes`);
      }
    }
    return text;
  }

  const stateValue = (value, what) => jsonText(value, `${what}: the value`, MAX_VALUE_BYTES);

  // `ifVersion`: a version the key must hold, or null for a key that must not exist.
  function versionCheck(ifVersion, what) {
    if (ifVersion === undefined) return "Any";
    if (ifVersion === null) return "Absent";
    return { Is: wholeNumber(ifVersion, what, "ifVersion") };
  }

  const entryOf = (entry) => ({ key: entry.key, value: parse(entry.value), version: entry.version });

  const state = {
    get(key) {
      return promised(() => {
        stateKey(key, "ctx.state.get");
        return request({ StateGet: { key } }, "state", ({ entry }) => entry === null ? undefined : parse(entry.value));
      });
    },
    getWithVersion(key) {
      return promised(() => {
        stateKey(key, "ctx.state.getWithVersion");
        return request({ StateGet: { key } }, "state", ({ entry }) =>
          entry === null ? { value: undefined, version: null } : { value: parse(entry.value), version: entry.version });
      });
    },
    set(key, value, opts = undefined) {
      return promised(() => {
        const what = "ctx.state.set";
        stateKey(key, what);
        const text = stateValue(value, what);
        const { ttl, ifVersion } = options(opts, ["ttl", "ifVersion"], what);
        const write = { key, value: text, ttl_ms: wholeNumber(ttl, what, "ttl (ms)", { min: 1 }), check: versionCheck(ifVersion, what) };
        return request({ StateSet: write }, "written", () => undefined);
      });
    },
    delete(key, opts = undefined) {
      return promised(() => {
        const what = "ctx.state.delete";
        stateKey(key, what);
        const { ifVersion } = options(opts, ["ifVersion"], what);
        const write = { key, value: null, ttl_ms: null, check: versionCheck(ifVersion, what) };
        return request({ StateSet: write }, "written", () => undefined);
      });
    },
    list(opts = undefined) {
      return promised(() => {
        const what = "ctx.state.list";
        const { prefix = "", limit = 100, after } = options(opts, ["prefix", "limit", "after"], what);
        if (typeof prefix !== "string") throw new TypeError(`${what}: prefix must be a string, not ${describe(prefix)}`);
        if (!prefix.isWellFormed()) throw new TypeError(`${what}: prefix is not valid Unicode (it has a lone surrogate)`);
        if (after !== undefined && after !== null) stateKey(after, what, "after");
        const count = wholeNumber(limit, what, "limit", { min: 1, max: MAX_LIST_LIMIT });
        const op = { StateList: { prefix, after: after ?? null, limit: count } };
        return request(op, "entries", ({ entries, more }) => ({ entries: entries.map(entryOf), more }));
      });
    },
  };
  Object.defineProperty(state, Symbol.toStringTag, { value: "JobState" });

  // ---- ctx.secrets -----------------------------------------------------------------

  const SECRET_NAME = /^[A-Za-z0-9_]+$/;
  const ALGORITHMS = { HS256: "Hs256", RS256: "Rs256", ES256: "Es256" };

  function secretName(name, what) {
    if (typeof name !== "string" || !SECRET_NAME.test(name)) {
      throw new TypeError(`${what}: a secret's name is letters, digits and _, not ${typeof name === "string" ? JSON.stringify(name) : describe(name)}`);
    }
    return name;
  }

  function dataBytes(data, what) {
    if (typeof data === "string") return native.utf8Encode(data);
    if (data instanceof ArrayBuffer) return data.slice(0);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
    throw new TypeError(`${what}: the data must be a string, an ArrayBuffer, a typed array or a DataView, not ${describe(data)}`);
  }

  const secrets = {
    ref(name) {
      return native.secretRef(secretName(name, "ctx.secrets.ref"));
    },
    get(name) {
      return promised(() => {
        secretName(name, "ctx.secrets.get");
        return request({ SecretValue: { name } }, "value", ({ text }) => text);
      });
    },
    sign(name, algorithm, data) {
      return promised(() => {
        const what = "ctx.secrets.sign";
        secretName(name, what);
        const alg = ALGORITHMS[algorithm];
        if (alg === undefined) {
          throw new TypeError(`${what}: the algorithm must be one of ${Object.keys(ALGORITHMS).join(", ")}, not ${typeof algorithm === "string" ? JSON.stringify(algorithm) : describe(algorithm)}`);
        }
        const bytes = dataBytes(data, what);
        return request({ Sign: { name, algorithm: alg, data: [] } }, "bytes", ({ data: signature }) => signature, bytes);
      });
    },
  };
  Object.defineProperty(secrets, Symbol.toStringTag, { value: "JobSecrets" });

  // ---- ctx.enqueue -----------------------------------------------------------------

  const I32_MAX = 2 ** 31 - 1;
  const U32_MAX = 2 ** 32 - 1;

  function enqueue(script, payload = {}, opts = undefined) {
    return promised(() => {
      const what = "ctx.enqueue";
      if (typeof script !== "string" || script.length === 0) {
        throw new TypeError(`${what}: the script must be a script's name, not ${typeof script === "string" ? "an empty string" : describe(script)}`);
      }
      const text = jsonText(payload, `${what}: the payload`);
      const o = options(opts, ["queue", "priority", "delay", "unique", "maxAttempts", "timeout"], what);
      for (const name of ["queue", "unique"]) {
        if (o[name] !== undefined && typeof o[name] !== "string") {
          throw new TypeError(`${what}: ${name} must be a string, not ${describe(o[name])}`);
        }
      }
      const child = {
        script,
        payload: text,
        queue: o.queue ?? null,
        priority: wholeNumber(o.priority, what, "priority", { min: -I32_MAX - 1, max: I32_MAX }),
        delay_ms: wholeNumber(o.delay, what, "delay (ms)"),
        unique_key: o.unique ?? null,
        max_attempts: wholeNumber(o.maxAttempts, what, "maxAttempts", { min: 1, max: U32_MAX }),
        timeout_ms: wholeNumber(o.timeout, what, "timeout (ms)", { min: 1 }),
      };
      return request({ Enqueue: child }, "done", () => undefined);
    });
  }

  define(target, "state", Object.freeze(state));
  define(target, "secrets", Object.freeze(secrets));
  define(target, "enqueue", enqueue);
});
