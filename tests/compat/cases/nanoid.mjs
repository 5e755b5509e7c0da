import { nanoid, customAlphabet, customRandom, urlAlphabet } from "nanoid";
import { checks } from "../lib/checks.mjs";

export default checks({
  default: () => { const id = nanoid(); return [id.length, /^[A-Za-z0-9_-]+$/.test(id)]; },
  sized: () => nanoid(8).length,
  alphabet: () => { const id = customAlphabet("abc", 12)(); return [id.length, /^[abc]+$/.test(id)]; },
  customRandom: () => { let seed = 7; const next = customRandom("0123456789abcdef", 10, (size) => Uint8Array.from({ length: size }, () => (seed = (seed * 31 + 11) % 256))); return next(); },
  urlAlphabet: () => urlAlphabet,
});
