// Evaluated once per context of a script that opted in to node compatibility, on its
// first read of `Buffer` or `process`. The function it evaluates to is called with the
// native helpers `encode(string, encoding)` (a Uint8Array of the string's bytes),
// `decode(bytes, start, end, encoding)` (a string), `utf8Length(string)` and
// `enqueueTick(callback, args)` (the run loop's `process.nextTick` queue), so they stay
// out of the global scope, and with the object to put `Buffer` and `process` on (the
// global accessors answer from it; the global object itself is not changed). Names,
// messages and codes of the errors are node's.
(function (encodeNative, decodeNative, utf8Length, enqueueTick, holder) {
  "use strict";

  // Node's limit on a buffer's length (node 20 on a 64-bit host): 4 GiB.
  const kMaxLength = 2 ** 32;

  // ---- node's error shapes: `name`, `code`, a message and `Name [CODE]: message` ----

  function nodeError(Base, code, message) {
    const error = new Base(message);
    Object.defineProperty(error, "code", { value: code, writable: true, enumerable: true, configurable: true });
    Object.defineProperty(error, "toString", {
      value() { return `${this.name} [${code}]: ${this.message}`; },
      writable: true, enumerable: false, configurable: true,
    });
    return error;
  }

  function shown(value) {
    switch (typeof value) {
      case "string": {
        const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
        return quote + value + quote;
      }
      case "number": return Object.is(value, -0) ? "-0" : String(value);
      case "bigint": return `${value}n`;
      default: return String(value);
    }
  }

  function received(value) {
    if (value === null || value === undefined) return ` Received ${value}`;
    if (typeof value === "function") return ` Received function ${value.name}`;
    if (typeof value === "object") {
      const name = value.constructor && value.constructor.name;
      return name ? ` Received an instance of ${name}` : " Received [object Object]";
    }
    let text;
    if (typeof value === "string") {
      text = shown(value.length > 28 ? `${value.slice(0, 25)}...` : value);
    } else {
      text = shown(value);
      if (text.length > 28) text = `${text.slice(0, 25)}...`;
    }
    return ` Received type ${typeof value} (${text})`;
  }

  const invalidArgType = (what, expected, value) =>
    nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `The ${what} ${expected}.${received(value)}`);

  // Digits grouped by underscores past 2^32, as node prints large numbers in messages.
  function grouped(value) {
    const big = typeof value === "bigint";
    const magnitude = big ? (value < 0n ? -value : value) : Math.abs(value);
    let text = String(value);
    if ((big ? magnitude > 2n ** 32n : magnitude > 2 ** 32) && /^-?\d+$/.test(text)) {
      const sign = text.startsWith("-") ? "-" : "";
      let digits = sign ? text.slice(1) : text;
      let out = "";
      for (; digits.length > 3; digits = digits.slice(0, -3)) out = `_${digits.slice(-3)}${out}`;
      text = sign + digits + out;
    }
    return big ? `${text}n` : text;
  }

  const outOfRange = (name, range, value) =>
    nodeError(RangeError, "ERR_OUT_OF_RANGE",
      `The value of "${name}" is out of range. It must be ${range}. Received ${grouped(value)}`);

  const outOfBounds = () =>
    nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", "Attempt to access memory outside buffer bounds");

  const unknownEncoding = (encoding) =>
    nodeError(TypeError, "ERR_UNKNOWN_ENCODING", `Unknown encoding: ${encoding}`);

  // ---- encodings ----

  const encodingNames = new Map([
    ["utf8", "utf8"], ["utf-8", "utf8"],
    ["hex", "hex"],
    ["base64", "base64"], ["base64url", "base64url"],
    ["latin1", "latin1"], ["binary", "latin1"],
    ["ascii", "ascii"],
    ["ucs2", "utf16le"], ["ucs-2", "utf16le"], ["utf16le", "utf16le"], ["utf-16le", "utf16le"],
  ]);

  // The canonical name of an encoding, `undefined` for one node does not know.
  function normalize(encoding) {
    if (encoding === undefined || encoding === null || encoding === "") return "utf8";
    return encodingNames.get(String(encoding).toLowerCase());
  }

  function encodingOf(encoding) {
    const name = normalize(encoding);
    if (name === undefined) throw unknownEncoding(encoding);
    return name;
  }

  // For `toString`, where only `undefined` means utf8 (`null` and "" are unknown).
  function strictEncodingOf(encoding) {
    const name = encodingNames.get(String(encoding).toLowerCase());
    if (name === undefined) throw unknownEncoding(encoding);
    return name;
  }

  function base64ByteLength(text) {
    let length = text.length;
    if (length > 0 && text.charCodeAt(length - 1) === 0x3d) length--;
    if (length > 1 && text.charCodeAt(length - 1) === 0x3d) length--;
    return (length * 3) >>> 2;
  }

  function stringByteLength(text, encoding) {
    switch (normalize(encoding)) {
      case "latin1": case "ascii": return text.length;
      case "utf16le": return text.length * 2;
      case "hex": return text.length >>> 1;
      case "base64": case "base64url": return base64ByteLength(text);
      default: return utf8Length(text);
    }
  }

  // ---- the class ----

  // Buffers are instances of this subclass; `Buffer` itself is a function (callable with
  // or without `new`, as node's is) sharing its prototype.
  class FastBuffer extends Uint8Array {}

  const wrap = (bytes) => new FastBuffer(bytes.buffer, bytes.byteOffset, bytes.length);

  // As node's: an encoding that is not a non-empty string means utf8.
  function fromString(text, encoding) {
    const name = typeof encoding === "string" && encoding.length !== 0 ? encodingOf(encoding) : "utf8";
    return wrap(encodeNative(text, name));
  }

  function fromArrayLike(list) {
    const length = list.length >>> 0;
    const buffer = new FastBuffer(length);
    for (let i = 0; i < length; i++) buffer[i] = list[i];
    return buffer;
  }

  function fromArrayBuffer(arrayBuffer, byteOffset, length) {
    const offset = byteOffset === undefined ? 0 : Math.trunc(Number(byteOffset)) || 0;
    const available = arrayBuffer.byteLength - offset;
    if (available < 0) throw nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", '"offset" is outside of buffer bounds');
    let size = available;
    if (length !== undefined) {
      size = Math.trunc(Number(length)) || 0;
      if (size > 0 && size > available) {
        throw nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", '"length" is outside of buffer bounds');
      }
      size = Math.max(size, 0);
    }
    return new FastBuffer(arrayBuffer, offset, size);
  }

  const isArrayBuffer = (value) =>
    value instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer);

  function from(value, encodingOrOffset, length) {
    if (typeof value === "string") return fromString(value, encodingOrOffset);
    if (typeof value === "object" && value !== null) {
      if (isArrayBuffer(value)) return fromArrayBuffer(value, encodingOrOffset, length);
      if (value instanceof Uint8Array) {
        const copy = new FastBuffer(value.length);
        copy.set(value);
        return copy;
      }
      const primitive = typeof value.valueOf === "function" ? value.valueOf() : undefined;
      if (primitive !== null && primitive !== undefined && primitive !== value &&
          (typeof primitive === "string" || typeof primitive === "object")) {
        return from(primitive, encodingOrOffset, length);
      }
      if (value.length !== undefined || isArrayBuffer(value.buffer)) {
        return typeof value.length === "number" ? fromArrayLike(value) : new FastBuffer(0);
      }
      if (value.type === "Buffer" && Array.isArray(value.data)) return fromArrayLike(value.data);
      if (typeof value[Symbol.toPrimitive] === "function") {
        const text = value[Symbol.toPrimitive]("string");
        if (typeof text === "string") return fromString(text, encodingOrOffset);
      }
    }
    throw invalidArgType("first argument",
      "must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object", value);
  }

  function checkSize(size) {
    if (typeof size !== "number") throw invalidArgType('"size" argument', "must be of type number", size);
    if (!(size >= 0 && size <= kMaxLength)) throw outOfRange("size", `>= 0 && <= ${kMaxLength}`, size);
  }

  function Buffer(value, encodingOrOffset, length) {
    if (typeof value === "number") {
      if (typeof encodingOrOffset === "string") {
        throw invalidArgType('"string" argument', "must be of type string", value);
      }
      return Buffer.alloc(value);
    }
    return from(value, encodingOrOffset, length);
  }
  Object.setPrototypeOf(Buffer, Uint8Array);
  Buffer.prototype = FastBuffer.prototype;
  Object.defineProperty(FastBuffer.prototype, "constructor", {
    value: Buffer, writable: true, enumerable: false, configurable: true,
  });

  const statics = {
    from,
    alloc(size, fill, encoding) {
      checkSize(size);
      const buffer = new FastBuffer(size);
      if (fill !== undefined && fill !== 0 && size > 0) buffer.fill(fill, encoding);
      return buffer;
    },
    // Memory is always zeroed: the engine has no uninitialised allocation.
    allocUnsafe(size) {
      checkSize(size);
      return new FastBuffer(size);
    },
    allocUnsafeSlow(size) {
      checkSize(size);
      return new FastBuffer(size);
    },
    isBuffer(value) {
      return value instanceof Buffer;
    },
    isEncoding(encoding) {
      return typeof encoding === "string" && encoding.length !== 0 && normalize(encoding) !== undefined;
    },
    byteLength(value, encoding) {
      if (typeof value === "string") return stringByteLength(value, encoding);
      if (ArrayBuffer.isView(value) || isArrayBuffer(value)) return value.byteLength;
      throw invalidArgType('"string" argument',
        "must be of type string or an instance of Buffer or ArrayBuffer", value);
    },
    compare(a, b) {
      if (!(a instanceof Uint8Array)) throw invalidArgType('"buf1" argument', "must be an instance of Buffer or Uint8Array", a);
      if (!(b instanceof Uint8Array)) throw invalidArgType('"buf2" argument', "must be an instance of Buffer or Uint8Array", b);
      return compareBytes(a, 0, a.length, b, 0, b.length);
    },
    concat(list, totalLength) {
      if (!Array.isArray(list)) throw invalidArgType('"list" argument', "must be an instance of Array", list);
      if (list.length === 0) return new FastBuffer(0);
      for (let i = 0; i < list.length; i++) {
        if (!(list[i] instanceof Uint8Array)) {
          throw invalidArgType(`"list[${i}]" argument`, "must be an instance of Buffer or Uint8Array", list[i]);
        }
      }
      let length = totalLength;
      if (length === undefined) {
        length = 0;
        for (const item of list) length += item.length;
      } else {
        length = Math.trunc(Number(length)) || 0;
        checkSize(length);
      }
      const buffer = new FastBuffer(length);
      let position = 0;
      for (const item of list) {
        if (position >= length) break;
        const part = position + item.length > length ? item.subarray(0, length - position) : item;
        buffer.set(part, position);
        position += part.length;
      }
      return buffer;
    },
  };
  for (const [name, value] of Object.entries(statics)) {
    Object.defineProperty(Buffer, name, { value, writable: true, enumerable: true, configurable: true });
  }
  Buffer.poolSize = 8192;

  // ---- reading and writing numbers ----

  function checkOffset(buffer, offset, size) {
    if (offset === undefined) offset = 0;
    if (typeof offset !== "number") throw invalidArgType('"offset" argument', "must be of type number", offset);
    if (!Number.isInteger(offset)) throw outOfRange("offset", "an integer", offset);
    const last = buffer.length - size;
    if (offset < 0 || offset > last) {
      if (last < 0) throw outOfBounds();
      throw outOfRange("offset", `>= 0 and <= ${last}`, offset);
    }
    return offset;
  }

  function checkByteLength(byteLength) {
    if (typeof byteLength !== "number") throw invalidArgType('"byteLength" argument', "must be of type number", byteLength);
    if (!Number.isInteger(byteLength) || byteLength < 1 || byteLength > 6) {
      throw outOfRange("byteLength", Number.isInteger(byteLength) ? ">= 1 and <= 6" : "an integer", byteLength);
    }
  }

  // The unsigned integer of `size` bytes at `offset`; `littleEndian` picks the byte order.
  function readUnsigned(buffer, offset, size, littleEndian) {
    let value = 0;
    for (let i = 0; i < size; i++) {
      const byte = buffer[littleEndian ? offset + size - 1 - i : offset + i];
      value = value * 256 + byte;
    }
    return value;
  }

  function writeUnsigned(buffer, value, offset, size, littleEndian) {
    let rest = value;
    for (let i = 0; i < size; i++) {
      const byte = rest % 256;
      buffer[littleEndian ? offset + i : offset + size - 1 - i] = byte;
      rest = (rest - byte) / 256;
    }
    return offset + size;
  }

  function rangeText(size, signed) {
    if (size > 4) {
      const bits = size * 8;
      return signed ? `>= -(2 ** ${bits - 1}) and < 2 ** ${bits - 1}` : `>= 0 and < 2 ** ${bits}`;
    }
    const min = signed ? -(2 ** (size * 8 - 1)) : 0;
    const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
    return `>= ${min} and <= ${max}`;
  }

  function writeInteger(buffer, value, offset, size, littleEndian, signed) {
    value = +value;
    const min = signed ? -(2 ** (size * 8 - 1)) : 0;
    const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
    offset = checkOffset(buffer, offset, size);
    if (value > max || value < min) throw outOfRange("value", rangeText(size, signed), value);
    let unsigned = Math.trunc(value) || 0;
    if (unsigned < 0) unsigned += 2 ** (size * 8);
    return writeUnsigned(buffer, unsigned, offset, size, littleEndian);
  }

  function readInteger(buffer, offset, size, littleEndian, signed) {
    offset = checkOffset(buffer, offset, size);
    const value = readUnsigned(buffer, offset, size, littleEndian);
    const limit = 2 ** (size * 8 - 1);
    return signed && value >= limit ? value - 2 * limit : value;
  }

  // A scratch view for floats and 64-bit integers.
  const scratch = new DataView(new ArrayBuffer(8));

  function readScratch(buffer, offset, size, littleEndian, read) {
    offset = checkOffset(buffer, offset, size);
    for (let i = 0; i < size; i++) scratch.setUint8(i, buffer[offset + i]);
    return read(littleEndian);
  }

  function writeScratch(buffer, offset, size, write) {
    offset = checkOffset(buffer, offset, size);
    write();
    for (let i = 0; i < size; i++) buffer[offset + i] = scratch.getUint8(i);
    return offset + size;
  }

  function writeBig(buffer, value, offset, littleEndian, signed) {
    // Node's own arithmetic refuses a number here, with the language's message.
    if (typeof value !== "bigint") throw new TypeError("Cannot mix BigInt and other types, use explicit conversions");
    const min = signed ? -(2n ** 63n) : 0n;
    const max = signed ? 2n ** 63n : 2n ** 64n;
    if (value < min || value >= max) {
      throw outOfRange("value", signed ? ">= -(2n ** 63n) and < 2n ** 63n" : ">= 0n and < 2n ** 64n", value);
    }
    return writeScratch(buffer, offset, 8, () =>
      signed ? scratch.setBigInt64(0, value, littleEndian) : scratch.setBigUint64(0, value, littleEndian));
  }

  const methods = {};
  for (const [size, bits] of [[1, 8], [2, 16], [4, 32]]) {
    for (const [suffix, little] of size === 1 ? [["", false]] : [["LE", true], ["BE", false]]) {
      methods[`readUInt${bits}${suffix}`] = function (offset) { return readInteger(this, offset, size, little, false); };
      methods[`readInt${bits}${suffix}`] = function (offset) { return readInteger(this, offset, size, little, true); };
      methods[`writeUInt${bits}${suffix}`] = function (value, offset) { return writeInteger(this, value, offset, size, little, false); };
      methods[`writeInt${bits}${suffix}`] = function (value, offset) { return writeInteger(this, value, offset, size, little, true); };
    }
  }
  for (const [suffix, little] of [["LE", true], ["BE", false]]) {
    methods[`readUInt${suffix}`] = function (offset, byteLength) {
      checkByteLength(byteLength);
      return readInteger(this, offset, byteLength, little, false);
    };
    methods[`readInt${suffix}`] = function (offset, byteLength) {
      checkByteLength(byteLength);
      return readInteger(this, offset, byteLength, little, true);
    };
    methods[`writeUInt${suffix}`] = function (value, offset, byteLength) {
      checkByteLength(byteLength);
      return writeInteger(this, value, offset, byteLength, little, false);
    };
    methods[`writeInt${suffix}`] = function (value, offset, byteLength) {
      checkByteLength(byteLength);
      return writeInteger(this, value, offset, byteLength, little, true);
    };
    methods[`readFloat${suffix}`] = function (offset) { return readScratch(this, offset, 4, little, (l) => scratch.getFloat32(0, l)); };
    methods[`readDouble${suffix}`] = function (offset) { return readScratch(this, offset, 8, little, (l) => scratch.getFloat64(0, l)); };
    methods[`writeFloat${suffix}`] = function (value, offset) { return writeScratch(this, offset, 4, () => scratch.setFloat32(0, +value, little)); };
    methods[`writeDouble${suffix}`] = function (value, offset) { return writeScratch(this, offset, 8, () => scratch.setFloat64(0, +value, little)); };
    methods[`readBigUInt64${suffix}`] = function (offset) { return readScratch(this, offset, 8, little, (l) => scratch.getBigUint64(0, l)); };
    methods[`readBigInt64${suffix}`] = function (offset) { return readScratch(this, offset, 8, little, (l) => scratch.getBigInt64(0, l)); };
    methods[`writeBigUInt64${suffix}`] = function (value, offset) { return writeBig(this, value, offset, little, false); };
    methods[`writeBigInt64${suffix}`] = function (value, offset) { return writeBig(this, value, offset, little, true); };
  }
  // Node names the unsigned methods with `Uint` too.
  for (const name of Object.keys(methods)) {
    if (name.includes("UInt")) methods[name.replace("UInt", "Uint")] = methods[name];
  }

  // ---- bytes and text ----

  function compareBytes(a, aStart, aEnd, b, bStart, bEnd) {
    const length = Math.min(aEnd - aStart, bEnd - bStart);
    for (let i = 0; i < length; i++) {
      const x = a[aStart + i];
      const y = b[bStart + i];
      if (x !== y) return x < y ? -1 : 1;
    }
    const left = aEnd - aStart;
    const right = bEnd - bStart;
    return left < right ? -1 : left > right ? 1 : 0;
  }

  // A start or end index: negative counts from the end, the result is clamped to the length.
  function relative(index, length, fallback) {
    if (index === undefined) return fallback;
    const n = Math.trunc(Number(index)) || 0;
    return n < 0 ? Math.max(length + n, 0) : Math.min(n, length);
  }

  function bytesOf(value, encoding) {
    if (typeof value === "string") return encodeNative(value, encodingOf(encoding));
    if (value instanceof Uint8Array) return value;
    throw invalidArgType('"value" argument', "must be one of type number or string or an instance of Buffer or Uint8Array", value);
  }

  function indexOf(buffer, value, byteOffset, encoding, forward) {
    if (typeof byteOffset === "string") {
      encoding = byteOffset;
      byteOffset = undefined;
    }
    const length = buffer.length;
    let start = byteOffset === undefined ? (forward ? 0 : length) : Math.trunc(Number(byteOffset));
    if (Number.isNaN(start)) start = forward ? 0 : length;
    if (start < 0) start += length;
    if (typeof value === "number") {
      const byte = value & 255;
      if (forward) {
        for (let i = Math.max(start, 0); i < length; i++) if (buffer[i] === byte) return i;
      } else {
        for (let i = Math.min(start, length - 1); i >= 0; i--) if (buffer[i] === byte) return i;
      }
      return -1;
    }
    const needle = bytesOf(value, encoding);
    if (needle.length === 0) return forward ? Math.min(Math.max(start, 0), length) : Math.min(Math.max(start, 0), length);
    const matches = (at) => {
      for (let j = 0; j < needle.length; j++) if (buffer[at + j] !== needle[j]) return false;
      return true;
    };
    if (forward) {
      for (let i = Math.max(start, 0); i + needle.length <= length; i++) if (matches(i)) return i;
    } else {
      for (let i = Math.min(start, length - needle.length); i >= 0; i--) if (matches(i)) return i;
    }
    return -1;
  }

  function write(buffer, text, offset, length, encoding) {
    const available = buffer.length - offset;
    let max = length === undefined ? available : Math.min(Math.max(Math.trunc(Number(length)) || 0, 0), available);
    if (max <= 0) return 0;
    const bytes = encodeNative(text, encoding);
    let count = Math.min(bytes.length, max);
    if (count < bytes.length) {
      // Only whole characters are written.
      if (encoding === "utf8") {
        while (count > 0 && (bytes[count] & 0xc0) === 0x80) count--;
      } else if (encoding === "utf16le") {
        count -= count % 2;
      }
    }
    buffer.set(count === bytes.length ? bytes : bytes.subarray(0, count), offset);
    return count;
  }

  function checkWriteOffset(value, name, length) {
    if (typeof value !== "number") throw invalidArgType(`"${name}" argument`, "must be of type number", value);
    if (!Number.isInteger(value)) throw outOfRange(name, "an integer", value);
    if (value < 0 || value > length) throw outOfRange(name, `>= 0 && <= ${length}`, value);
    return value;
  }

  Object.assign(methods, {
    toString(encoding, start, end) {
      const length = this.length;
      if (arguments.length === 0) return decodeNative(this, 0, length, "utf8");
      const from = start === undefined || start < 0 ? 0 : Math.trunc(start) || 0;
      if (from >= length) return "";
      const to = end === undefined || end > length ? length : Math.trunc(end) || 0;
      if (to <= from) return "";
      return decodeNative(this, from, to, encoding === undefined ? "utf8" : strictEncodingOf(encoding));
    },
    toLocaleString(encoding, start, end) {
      return methods.toString.apply(this, arguments);
    },
    toJSON() {
      return { type: "Buffer", data: Array.from(this) };
    },
    equals(other) {
      if (!(other instanceof Uint8Array)) throw invalidArgType('"otherBuffer" argument', "must be an instance of Buffer or Uint8Array", other);
      return this === other || compareBytes(this, 0, this.length, other, 0, other.length) === 0;
    },
    compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
      if (!(target instanceof Uint8Array)) throw invalidArgType('"target" argument', "must be an instance of Buffer or Uint8Array", target);
      const bound = (value, name, fallback, length) =>
        value === undefined ? fallback : checkWriteOffset(value, name, length);
      const tStart = bound(targetStart, "targetStart", 0, target.length);
      const tEnd = bound(targetEnd, "targetEnd", target.length, target.length);
      const sStart = bound(sourceStart, "sourceStart", 0, this.length);
      const sEnd = bound(sourceEnd, "sourceEnd", this.length, this.length);
      if (sStart >= sEnd) return tStart >= tEnd ? 0 : -1;
      if (tStart >= tEnd) return 1;
      return compareBytes(this, sStart, sEnd, target, tStart, tEnd);
    },
    copy(target, targetStart, sourceStart, sourceEnd) {
      if (!(target instanceof Uint8Array)) throw invalidArgType('"target" argument', "must be an instance of Buffer or Uint8Array", target);
      const tStart = targetStart === undefined ? 0 : Math.trunc(Number(targetStart)) || 0;
      if (tStart < 0) throw outOfRange("targetStart", `>= 0 && <= ${target.length}`, targetStart);
      const sStart = sourceStart === undefined ? 0 : Math.trunc(Number(sourceStart)) || 0;
      if (sStart < 0 || sStart > this.length) throw outOfRange("sourceStart", `>= 0 && <= ${this.length}`, sourceStart);
      let sEnd = sourceEnd === undefined ? this.length : Math.trunc(Number(sourceEnd)) || 0;
      if (sEnd < 0) throw outOfRange("sourceEnd", `>= 0 && <= ${this.length}`, sourceEnd);
      sEnd = Math.min(sEnd, this.length);
      if (tStart >= target.length || sStart >= sEnd) return 0;
      const count = Math.min(sEnd - sStart, target.length - tStart);
      // A copy first when both views share memory, so an overlap reads the old bytes.
      let source = this.subarray(sStart, sStart + count);
      if (source.buffer === target.buffer) source = source.slice();
      target.set(source, tStart);
      return count;
    },
    write(text, offset, length, encoding) {
      if (typeof text !== "string") {
        // Node's native binding throws this one, with a code but the plain `toString`.
        const error = new TypeError("argument must be a string");
        error.code = "ERR_INVALID_ARG_TYPE";
        throw error;
      }
      if (offset === undefined) return write(this, text, 0, undefined, "utf8");
      if (typeof offset === "string") return write(this, text, 0, undefined, encodingOf(offset));
      offset = checkWriteOffset(offset, "offset", this.length);
      if (typeof length === "string") return write(this, text, offset, undefined, encodingOf(length));
      if (length !== undefined) length = checkWriteOffset(length, "length", this.length);
      return write(this, text, offset, length, encodingOf(encoding));
    },
    fill(value, offset, end, encoding) {
      if (typeof offset === "string") {
        encoding = offset;
        offset = 0;
        end = this.length;
      } else if (typeof end === "string") {
        encoding = end;
        end = this.length;
      }
      const from = offset === undefined ? 0 : checkWriteOffset(offset, "offset", this.length);
      const to = end === undefined ? this.length : checkWriteOffset(end, "end", this.length);
      if (to <= from) return this;
      if (typeof value === "number" || typeof value === "boolean") {
        Uint8Array.prototype.fill.call(this, Number(value) & 255, from, to);
        return this;
      }
      const pattern = bytesOf(value, encoding);
      if (pattern.length === 0) {
        if (typeof value === "string" && value.length !== 0) {
          throw nodeError(TypeError, "ERR_INVALID_ARG_VALUE", `The argument 'value' is invalid. Received ${shown(value)}`);
        }
        Uint8Array.prototype.fill.call(this, 0, from, to);
        return this;
      }
      for (let i = from; i < to; i++) this[i] = pattern[(i - from) % pattern.length];
      return this;
    },
    includes(value, byteOffset, encoding) {
      return indexOf(this, value, byteOffset, encoding, true) !== -1;
    },
    indexOf(value, byteOffset, encoding) {
      return indexOf(this, value, byteOffset, encoding, true);
    },
    lastIndexOf(value, byteOffset, encoding) {
      return indexOf(this, value, byteOffset, encoding, false);
    },
    // Node's `slice` is `subarray`: the result shares the buffer's memory.
    slice(start, end) {
      return methods.subarray.call(this, start, end);
    },
    subarray(start, end) {
      const length = this.length;
      const from = relative(start, length, 0);
      const to = Math.max(relative(end, length, length), from);
      return new FastBuffer(this.buffer, this.byteOffset + from, to - from);
    },
    swap16() { return swap(this, 2); },
    swap32() { return swap(this, 4); },
    swap64() { return swap(this, 8); },
  });

  function swap(buffer, size) {
    if (buffer.length % size !== 0) {
      throw nodeError(RangeError, "ERR_INVALID_BUFFER_SIZE", `Buffer size must be a multiple of ${size * 8}-bits`);
    }
    for (let i = 0; i < buffer.length; i += size) {
      for (let j = 0; j < size / 2; j++) {
        const a = buffer[i + j];
        buffer[i + j] = buffer[i + size - 1 - j];
        buffer[i + size - 1 - j] = a;
      }
    }
    return buffer;
  }

  // The per-encoding methods some libraries call directly (`buf.utf8Slice(0, n)`).
  for (const [prefix, encoding] of [["utf8", "utf8"], ["latin1", "latin1"], ["ascii", "ascii"], ["hex", "hex"],
    ["base64", "base64"], ["base64url", "base64url"], ["ucs2", "utf16le"]]) {
    methods[`${prefix}Slice`] = function (start, end) {
      const from = start === undefined ? 0 : Math.max(Math.trunc(start) || 0, 0);
      const to = end === undefined ? this.length : Math.min(Math.trunc(end) || 0, this.length);
      if (from > this.length) throw outOfBounds();
      return to <= from ? "" : decodeNative(this, from, to, encoding);
    };
    methods[`${prefix}Write`] = function (text, offset, length) {
      const at = offset === undefined ? 0 : offset;
      if (at < 0 || at > this.length) throw outOfBounds();
      return write(this, String(text), at, length, encoding);
    };
  }

  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(FastBuffer.prototype, name, { value, writable: true, enumerable: false, configurable: true });
  }

  // ---- process ----

  const process = {
    // No variable of the worker reaches a script: there is no grant of environment
    // variables yet, so `env` is empty (and `process.env.X` is `undefined`).
    env: {},
    nextTick(callback, ...args) {
      if (typeof callback !== "function") {
        throw invalidArgType('"callback" argument', "must be of type function", callback);
      }
      enqueueTick(callback, args);
    },
  };

  holder.Buffer = Buffer;
  holder.process = process;
});
