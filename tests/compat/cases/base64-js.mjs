import { byteLength, toByteArray, fromByteArray } from "base64-js";
import { checks } from "../lib/checks.mjs";

export default checks({
  encode: (p) => [fromByteArray(new TextEncoder().encode(p.name)), fromByteArray(Uint8Array.of(0, 255, 128, 1)), fromByteArray(new Uint8Array(0))],
  decode: () => [Array.from(toByteArray("AP+AAQ==")), new TextDecoder().decode(toByteArray("5pel5pys6Kqe8J+OiQ=="))],
  urlSafe: () => Array.from(toByteArray("-_8=")),
  byteLength: () => [byteLength("AAAA"), byteLength("AA=="), byteLength("AAA=")],
  invalid: () => toByteArray("abc"),
});
