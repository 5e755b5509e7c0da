// Evaluated once per context; called with the native decoder `decode(bytes, encoding,
// fatal, ignoreBOM)`.
(function (decode) {
  "use strict";
  // WHATWG's labels of the encodings the decoder supports.
  const labels = new Map();
  const add = (name, list) => list.forEach((label) => labels.set(label, name));
  add("utf-8", ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"]);
  add("utf-16le", ["csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"]);
  add("utf-16be", ["unicodefffe", "utf-16be"]);
  add("windows-1252", ["ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819",
    "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1",
    "latin1", "us-ascii", "windows-1252", "x-cp1252"]);

  const decoders = new WeakMap();

  function bytesOf(input) {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError("TextDecoder.decode: the input must be an ArrayBuffer, a TypedArray or a DataView");
  }

  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      const key = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "").toLowerCase();
      const encoding = labels.get(key);
      if (encoding === undefined) throw new RangeError(`TextDecoder: the encoding "${String(label)}" is not supported`);
      decoders.set(this, { encoding, fatal: Boolean(options?.fatal), ignoreBOM: Boolean(options?.ignoreBOM) });
    }
    get encoding() { return state(this).encoding; }
    get fatal() { return state(this).fatal; }
    get ignoreBOM() { return state(this).ignoreBOM; }
    decode(input = undefined, options = {}) {
      const s = state(this);
      if (options?.stream) {
        throw new TypeError("TextDecoder.decode: the stream option is not supported; decode the whole input at once");
      }
      return decode(bytesOf(input), s.encoding, s.fatal, s.ignoreBOM);
    }
  }
  Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: "TextDecoder", configurable: true });

  function state(decoder) {
    const found = decoders.get(decoder);
    if (found === undefined) throw new TypeError("the receiver is not a TextDecoder");
    return found;
  }

  Object.defineProperty(globalThis, "TextDecoder", { value: TextDecoder, writable: true, configurable: true });

  // Encodes as much of `source` as fits whole into `destination`.
  function encodeInto(source, destination) {
    if (!(destination instanceof Uint8Array)) {
      throw new TypeError("TextEncoder.encodeInto: the destination must be a Uint8Array");
    }
    const text = String(source);
    let read = 0;
    let written = 0;
    for (const char of text) {
      let point = char.codePointAt(0);
      if (point >= 0xd800 && point <= 0xdfff) point = 0xfffd; // a lone surrogate
      const size = point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
      if (written + size > destination.length) break;
      if (size === 1) {
        destination[written] = point;
      } else {
        const lead = [0, 0, 0xc0, 0xe0, 0xf0][size];
        destination[written] = lead | (point >> (6 * (size - 1)));
        for (let i = 1; i < size; i++) {
          destination[written + i] = 0x80 | ((point >> (6 * (size - 1 - i))) & 0x3f);
        }
      }
      written += size;
      read += char.length;
    }
    return { read, written };
  }
  if (typeof TextEncoder === "function") {
    Object.defineProperty(TextEncoder.prototype, "encodeInto", { value: encodeInto, writable: true, configurable: true });
  }
});
