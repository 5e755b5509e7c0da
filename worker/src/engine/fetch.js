// `fetch`, `Headers`, `Request` and `Response` (see host_api.rs). Evaluated once per
// context with the native helpers (`call`, `utf8Encode`, `utf8Decode`) and the holder
// object that receives the four globals. A fetch is one `Fetch` host call; the response's
// body is its first chunk plus `ReadBody` calls, made when the script reads the body.
(function (native, target) {
  "use strict";

  const define = (object, name, value) =>
    Object.defineProperty(object, name, { value, writable: true, configurable: true });
  const tag = (constructor, name) =>
    Object.defineProperty(constructor.prototype, Symbol.toStringTag, { value: name, configurable: true });
  // Globals compiled on first use are read through Reflect.get, which no inline cache of
  // this script remembers (see crypto.js).
  const global = (name) => Reflect.get(globalThis, name);
  const domException = (message, name) => new (global("DOMException"))(message, name);
  const isAbortSignal = (value) => {
    const AbortSignal = global("AbortSignal");
    return typeof AbortSignal === "function" && value instanceof AbortSignal;
  };
  const describe = (value) => {
    if (value === null) return "null";
    if (typeof value !== "object" && typeof value !== "function") return typeof value;
    return Object.prototype.toString.call(value).slice(8, -1);
  };

  // The most bytes a request body may have (protocol MAX_FETCH_BODY_BYTES).
  const MAX_BODY_BYTES = 1024 * 1024;

  // A host call: `[callId, promise of the reply's record]`.
  const call = (op, bytes) => native.call(JSON.stringify(op), bytes);
  const cancel = (id) => {
    if (id !== 0) call({ CancelFetch: { fetch: id } });
  };

  // The error a refused fetch rejects with: WHATWG fetch rejects with a TypeError, the
  // host's own time limit with a TimeoutError, a cancel with an AbortError.
  function fetchError(kind, message) {
    if (kind === "Timeout") return domException(message, "TimeoutError");
    if (kind === "Aborted") return domException(message, "AbortError");
    return new TypeError(message);
  }

  // ---- Headers ---------------------------------------------------------------------

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const headerStates = new WeakMap(); // Headers -> { list: [[lowerName, value]], immutable }

  function headerState(headers, method) {
    const state = headerStates.get(headers);
    if (state === undefined) {
      throw new TypeError(`Headers.prototype.${method} called on an object that is not a Headers`);
    }
    return state;
  }

  function headerName(name, method) {
    const text = String(name);
    if (!TOKEN.test(text)) {
      throw new TypeError(`Headers.${method}: ${JSON.stringify(text)} is not a valid header name`);
    }
    return text.toLowerCase();
  }

  function headerValue(value, method) {
    const text = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 255) {
        throw new TypeError(
          `Headers.${method}: a header value is a byte string, but character ${i} of ${JSON.stringify(text)} is U+${code.toString(16).toUpperCase().padStart(4, "0")}, above U+00FF`);
      }
      if (code === 0 || code === 10 || code === 13) {
        throw new TypeError(`Headers.${method}: the value ${JSON.stringify(text)} contains a NUL, CR or LF`);
      }
    }
    return text;
  }

  function writable(state, method) {
    if (state.immutable) throw new TypeError(`Headers.${method}: these headers are immutable`);
  }

  function requireArgs(count, needed, what) {
    if (count < needed) {
      throw new TypeError(`${what} needs ${needed} argument${needed === 1 ? "" : "s"}, got ${count}`);
    }
  }

  function fillHeaders(headers, init) {
    const state = headerStates.get(headers);
    if (init instanceof Headers) {
      for (const pair of headerState(init, "constructor").list) state.list.push([...pair]);
      return;
    }
    if ((typeof init !== "object" || init === null) && typeof init !== "function") {
      throw new TypeError(`Headers: the init must be an object, an array of pairs or a Headers, not ${describe(init)}`);
    }
    if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const items = typeof pair === "string" ? [pair] : [...pair];
        if (items.length !== 2) {
          throw new TypeError(`Headers: each entry of the init must be a [name, value] pair, one has ${items.length} items`);
        }
        state.list.push([headerName(items[0], "append"), headerValue(items[1], "append")]);
      }
      return;
    }
    for (const name of Reflect.ownKeys(init)) {
      if (typeof name === "symbol") continue;
      const descriptor = Reflect.getOwnPropertyDescriptor(init, name);
      if (descriptor === undefined || !descriptor.enumerable) continue;
      state.list.push([headerName(name, "append"), headerValue(init[name], "append")]);
    }
  }

  // WHATWG's "sort and combine": names in order, values of one name joined with ", ",
  // except `set-cookie`, whose values stay apart.
  function sortAndCombine(list) {
    const names = [...new Set(list.map(([name]) => name))].sort();
    const out = [];
    for (const name of names) {
      const values = list.filter(([n]) => n === name).map(([, value]) => value);
      if (name === "set-cookie") {
        for (const value of values) out.push([name, value]);
      } else {
        out.push([name, values.join(", ")]);
      }
    }
    return out;
  }

  class Headers {
    constructor(init = undefined) {
      headerStates.set(this, { list: [], immutable: false });
      if (init !== undefined && init !== null) fillHeaders(this, init);
    }
    append(name, value) {
      requireArgs(arguments.length, 2, "Headers.append");
      const state = headerState(this, "append");
      const pair = [headerName(name, "append"), headerValue(value, "append")];
      writable(state, "append");
      state.list.push(pair);
    }
    delete(name) {
      requireArgs(arguments.length, 1, "Headers.delete");
      const state = headerState(this, "delete");
      const key = headerName(name, "delete");
      writable(state, "delete");
      state.list = state.list.filter(([n]) => n !== key);
    }
    get(name) {
      requireArgs(arguments.length, 1, "Headers.get");
      const key = headerName(name, "get");
      const values = headerState(this, "get").list.filter(([n]) => n === key).map(([, v]) => v);
      return values.length === 0 ? null : values.join(", ");
    }
    getSetCookie() {
      return headerState(this, "getSetCookie").list.filter(([n]) => n === "set-cookie").map(([, v]) => v);
    }
    has(name) {
      requireArgs(arguments.length, 1, "Headers.has");
      const key = headerName(name, "has");
      return headerState(this, "has").list.some(([n]) => n === key);
    }
    set(name, value) {
      requireArgs(arguments.length, 2, "Headers.set");
      const state = headerState(this, "set");
      const key = headerName(name, "set");
      const text = headerValue(value, "set");
      writable(state, "set");
      const first = state.list.findIndex(([n]) => n === key);
      if (first === -1) {
        state.list.push([key, text]);
      } else {
        state.list[first][1] = text;
        state.list = state.list.filter(([n], i) => n !== key || i === first);
      }
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") throw new TypeError("Headers.forEach: the callback must be a function");
      for (const [name, value] of sortAndCombine(headerState(this, "forEach").list)) {
        callback.call(thisArg, value, name, this);
      }
    }
    *entries() {
      yield* sortAndCombine(headerState(this, "entries").list);
    }
    *keys() {
      for (const [name] of sortAndCombine(headerState(this, "keys").list)) yield name;
    }
    *values() {
      for (const [, value] of sortAndCombine(headerState(this, "values").list)) yield value;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
  }
  tag(Headers, "Headers");

  // Headers with the pairs of `list` (names already lower case), immutable if asked.
  function headersOf(list, immutable) {
    const headers = new Headers();
    const state = headerStates.get(headers);
    state.list = list.map(([name, value]) => [name, value]);
    state.immutable = immutable;
    return headers;
  }

  // ---- Bodies ----------------------------------------------------------------------

  // A body: its chunks so far, whether the last has come, and (for a fetched response)
  // the fetch's call id, from which the rest is read. Clones share one source.
  const wholeSource = (bytes) => ({ id: 0, chunks: [bytes], done: true, error: null, all: null, fail: null });

  // The bytes of a body init and the content type it implies (WHATWG "extract a body").
  function extractBody(body, what) {
    if (typeof body === "string") {
      return { bytes: new Uint8Array(native.utf8Encode(body)), type: "text/plain;charset=UTF-8" };
    }
    if (body instanceof ArrayBuffer) {
      return { bytes: new Uint8Array(body.slice(0)), type: null };
    }
    if (ArrayBuffer.isView(body)) {
      const view = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      return { bytes: view.slice(), type: null };
    }
    const URLSearchParams = global("URLSearchParams");
    if (typeof URLSearchParams === "function" && body instanceof URLSearchParams) {
      return {
        bytes: new Uint8Array(native.utf8Encode(body.toString())),
        type: "application/x-www-form-urlencoded;charset=UTF-8",
      };
    }
    const kind = describe(body);
    if (["Blob", "File", "FormData", "ReadableStream"].includes(kind)) {
      throw new TypeError(`${what}: a ${kind} body is not supported; send a string, an ArrayBuffer, a typed array or URLSearchParams`);
    }
    // Anything else is its string, as WebIDL converts it.
    return { bytes: new Uint8Array(native.utf8Encode(String(body))), type: "text/plain;charset=UTF-8" };
  }

  function concat(chunks) {
    if (chunks.length === 1) return chunks[0];
    const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  // The whole body of `source`, read from the host as far as it has not come yet.
  function readAll(source) {
    if (source.all !== null) return source.all;
    source.all = new Promise((resolve, reject) => {
      source.fail = reject;
      const step = () => {
        if (source.error !== null) {
          reject(source.error);
          return;
        }
        if (source.done) {
          source.fail = null;
          resolve(concat(source.chunks));
          return;
        }
        const [, reply] = call({ ReadBody: { fetch: source.id } });
        reply.then((result) => {
          if (source.error !== null) return; // aborted meanwhile: already rejected
          if (result.type === "chunk") {
            source.chunks.push(result.data);
            source.done = result.done;
            step();
            return;
          }
          source.done = true;
          source.error = result.type === "refused"
            ? fetchError(result.kind, result.message)
            : new TypeError(`fetch: the host answered a body read with ${result.type}`);
          reject(source.error);
        });
      };
      step();
    });
    return source.all;
  }

  // The body's signal aborted: a body not yet read whole fails with the reason, and the
  // host drops the rest.
  function abortSource(source, reason) {
    if (source.done && source.error === null) return;
    if (source.error !== null) return;
    source.error = reason;
    if (!source.done) {
      source.done = true;
      cancel(source.id);
    }
    if (source.fail !== null) source.fail(reason);
  }

  // Reads `owner`'s body once (`bodyUsed` after), as `kind`.
  function consume(state, kind, what) {
    if (state.bodyUsed) {
      return Promise.reject(new TypeError(`${what}.${kind}: the body was already read (bodyUsed is true)`));
    }
    const bytes = state.body === null ? Promise.resolve(new Uint8Array(0)) : readAll(state.body);
    if (state.body !== null) state.bodyUsed = true;
    return bytes.then((data) => {
      switch (kind) {
        case "text": return native.utf8Decode(data.slice().buffer);
        case "json": return JSON.parse(native.utf8Decode(data.slice().buffer));
        case "arrayBuffer": return data.slice().buffer;
        default: return data.slice();
      }
    });
  }

  function addBodyMethods(constructor, stateOf, what) {
    for (const kind of ["text", "json", "arrayBuffer", "bytes"]) {
      define(constructor.prototype, kind, {
        [kind]() {
          let state;
          try {
            state = stateOf(this, kind);
          } catch (error) {
            return Promise.reject(error);
          }
          return consume(state, kind, what);
        },
      }[kind]);
    }
    Object.defineProperty(constructor.prototype, "bodyUsed", {
      get() { return stateOf(this, "bodyUsed").bodyUsed; },
      configurable: true,
    });
  }

  // ---- Request ---------------------------------------------------------------------

  const requestStates = new WeakMap();
  const NORMALISED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
  const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];
  const REDIRECTS = ["follow", "error", "manual"];

  function requestState(request, member) {
    const state = requestStates.get(request);
    if (state === undefined) {
      throw new TypeError(`Request.prototype.${member} called on an object that is not a Request`);
    }
    return state;
  }

  function absoluteUrl(input, what) {
    const text = String(input);
    let url;
    try {
      url = new (global("URL"))(text);
    } catch {
      throw new TypeError(`${what}: ${JSON.stringify(text)} is not an absolute URL (there is no base URL to resolve a relative one against)`);
    }
    if (url.username !== "" || url.password !== "") {
      throw new TypeError(`${what}: the URL ${JSON.stringify(text)} has credentials in it; send them in a header instead`);
    }
    return url.href;
  }

  class Request {
    constructor(input, init = {}) {
      requireArgs(arguments.length, 1, "Request");
      if (init === null || init === undefined) init = {};
      const base = input instanceof Request ? requestState(input, "constructor") : null;
      const url = base !== null ? base.url : absoluteUrl(input, "Request");

      let method = base !== null ? base.method : "GET";
      if (init.method !== undefined) {
        method = String(init.method);
        if (!TOKEN.test(method)) throw new TypeError(`Request: ${JSON.stringify(method)} is not a valid HTTP method`);
        const upper = method.toUpperCase();
        if (FORBIDDEN_METHODS.includes(upper)) throw new TypeError(`Request: the method ${upper} is not allowed`);
        if (NORMALISED_METHODS.includes(upper)) method = upper;
      }

      let redirect = base !== null ? base.redirect : "follow";
      if (init.redirect !== undefined) {
        redirect = String(init.redirect);
        if (!REDIRECTS.includes(redirect)) {
          throw new TypeError(`Request: redirect must be one of follow, error, manual, not ${JSON.stringify(redirect)}`);
        }
      }

      let signal = base !== null ? base.signal : null;
      if (init.signal !== undefined) {
        if (init.signal !== null && !isAbortSignal(init.signal)) {
          throw new TypeError(`Request: signal must be an AbortSignal, not ${describe(init.signal)}`);
        }
        signal = init.signal;
      }

      const headers = init.headers !== undefined
        ? new Headers(init.headers)
        : base !== null ? headersOf(headerStates.get(base.headers).list, false) : new Headers();

      let body = base !== null ? base.body : null;
      if (init.body !== undefined && init.body !== null) {
        const extracted = extractBody(init.body, "Request");
        body = wholeSource(extracted.bytes);
        if (extracted.type !== null && !headers.has("content-type")) headers.append("content-type", extracted.type);
      }
      if (body !== null && (method === "GET" || method === "HEAD")) {
        throw new TypeError(`Request: a ${method} request cannot have a body`);
      }
      if (base !== null && body === base.body && body !== null) {
        if (base.bodyUsed) throw new TypeError("Request: the body of the request given was already read");
        base.bodyUsed = true;
      }
      requestStates.set(this, { url, method, headers, body, redirect, signal, bodyUsed: false, ownSignal: null });
    }
    get method() { return requestState(this, "method").method; }
    get url() { return requestState(this, "url").url; }
    get headers() { return requestState(this, "headers").headers; }
    get redirect() { return requestState(this, "redirect").redirect; }
    get signal() {
      const state = requestState(this, "signal");
      if (state.signal !== null) return state.signal;
      if (state.ownSignal === null) state.ownSignal = new (global("AbortController"))().signal;
      return state.ownSignal;
    }
    clone() {
      const state = requestState(this, "clone");
      if (state.bodyUsed) throw new TypeError("Request.clone: the body was already read");
      const copy = Object.create(Request.prototype);
      requestStates.set(copy, { ...state, headers: headersOf(headerStates.get(state.headers).list, false), ownSignal: null });
      return copy;
    }
  }
  tag(Request, "Request");
  addBodyMethods(Request, requestState, "Request");

  // ---- Response --------------------------------------------------------------------

  const responseStates = new WeakMap();
  const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
  const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
  const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

  function responseState(response, member) {
    const state = responseStates.get(response);
    if (state === undefined) {
      throw new TypeError(`Response.prototype.${member} called on an object that is not a Response`);
    }
    return state;
  }

  function makeResponse(state) {
    const response = Object.create(Response.prototype);
    responseStates.set(response, state);
    return response;
  }

  function initResponse(init, body, contentType) {
    if (init === undefined || init === null) init = {};
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response: the status must be an integer from 200 to 599, not ${String(init.status)}`);
    }
    const statusText = init.statusText === undefined ? "" : String(init.statusText);
    if (!REASON_PHRASE.test(statusText)) {
      throw new TypeError(`Response: the status text ${JSON.stringify(statusText)} has characters a reason phrase cannot have`);
    }
    const headers = new Headers(init.headers);
    let source = null;
    if (body !== null) {
      if (NULL_BODY_STATUSES.includes(status)) {
        throw new TypeError(`Response: a response with status ${status} cannot have a body`);
      }
      source = wholeSource(body);
      if (contentType !== null && !headers.has("content-type")) headers.append("content-type", contentType);
    }
    return { type: "default", status, statusText, headers, url: "", redirected: false, body: source, bodyUsed: false };
  }

  class Response {
    constructor(body = null, init = {}) {
      const extracted = body === null || body === undefined ? null : extractBody(body, "Response");
      responseStates.set(this, initResponse(init, extracted?.bytes ?? null, extracted?.type ?? null));
    }
    get type() { return responseState(this, "type").type; }
    get url() { return responseState(this, "url").url; }
    get redirected() { return responseState(this, "redirected").redirected; }
    get status() { return responseState(this, "status").status; }
    get ok() {
      const { status } = responseState(this, "ok");
      return status >= 200 && status <= 299;
    }
    get statusText() { return responseState(this, "statusText").statusText; }
    get headers() { return responseState(this, "headers").headers; }
    clone() {
      const state = responseState(this, "clone");
      if (state.bodyUsed) throw new TypeError("Response.clone: the body was already read");
      const headers = headersOf(headerStates.get(state.headers).list, headerStates.get(state.headers).immutable);
      return makeResponse({ ...state, headers });
    }
    static error() {
      return makeResponse({
        type: "error", status: 0, statusText: "", headers: headersOf([], true),
        url: "", redirected: false, body: null, bodyUsed: false,
      });
    }
    static redirect(url, status = 302) {
      const href = absoluteUrl(url, "Response.redirect");
      const code = Number(status);
      if (!REDIRECT_STATUSES.includes(code)) {
        throw new RangeError(`Response.redirect: the status must be one of ${REDIRECT_STATUSES.join(", ")}, not ${String(status)}`);
      }
      return makeResponse({
        type: "default", status: code, statusText: "", headers: headersOf([["location", href]], true),
        url: "", redirected: false, body: null, bodyUsed: false,
      });
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) {
        throw new TypeError(`Response.json: ${describe(data)} has no JSON form`);
      }
      return makeResponse(initResponse(init, new Uint8Array(native.utf8Encode(text)), "application/json"));
    }
  }
  tag(Response, "Response");
  addBodyMethods(Response, responseState, "Response");

  // ---- fetch -----------------------------------------------------------------------

  const REDIRECT_MODES = { follow: "Follow", error: "Error", manual: "Manual" };

  function fetch(input, init = undefined) {
    return new Promise((resolve, reject) => {
      let request;
      try {
        if (arguments.length === 0) throw new TypeError("fetch needs the URL or Request to fetch");
        request = new Request(input, init);
      } catch (error) {
        reject(error);
        return;
      }
      const state = requestStates.get(request);
      const signal = state.signal;
      if (signal !== null && signal.aborted) {
        reject(signal.reason);
        return;
      }
      let body;
      if (state.body !== null) {
        body = concat(state.body.chunks);
        if (body.byteLength > MAX_BODY_BYTES) {
          reject(new TypeError(`fetch: the request body is ${body.byteLength} bytes, over the limit of ${MAX_BODY_BYTES} bytes`));
          return;
        }
      }
      const op = {
        Fetch: {
          method: state.method,
          url: state.url,
          headers: headerStates.get(state.headers).list.map(([name, value]) => [name, value]),
          body: null,
          redirect: REDIRECT_MODES[state.redirect],
        },
      };
      const [id, reply] = call(op, body === undefined ? undefined : body.slice().buffer);
      let source = null;
      let settled = false;
      const onAbort = () => {
        if (!settled) {
          settled = true;
          cancel(id);
          reject(signal.reason);
        } else if (source !== null) {
          abortSource(source, signal.reason);
        }
        signal.removeEventListener("abort", onAbort);
      };
      if (signal !== null) signal.addEventListener("abort", onAbort);
      reply.then((result) => {
        if (settled) return; // aborted first: the reply (an Aborted refusal) is dropped
        settled = true;
        if (result.type !== "response") {
          if (signal !== null) signal.removeEventListener("abort", onAbort);
          reject(result.type === "refused"
            ? fetchError(result.kind, result.message)
            : new TypeError(`fetch: the host answered with ${result.type}`));
          return;
        }
        source = { id, chunks: [result.data], done: result.done, error: null, all: null, fail: null };
        if (signal !== null && source.done) signal.removeEventListener("abort", onAbort);
        resolve(makeResponse({
          type: "basic",
          status: result.status,
          statusText: result.statusText,
          headers: headersOf(result.headers, true),
          url: result.url,
          redirected: result.redirected,
          body: NULL_BODY_STATUSES.includes(result.status) && result.done && result.data.byteLength === 0 ? null : source,
          bodyUsed: false,
        }));
      });
    });
  }

  define(target, "fetch", fetch);
  define(target, "Headers", Headers);
  define(target, "Request", Request);
  define(target, "Response", Response);
});
