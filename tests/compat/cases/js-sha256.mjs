import { sha256, sha224 } from "js-sha256";
import { checks } from "../lib/checks.mjs";

export default checks({
  hex: (p) => [sha256(""), sha256("The quick brown fox jumps over the lazy dog"), sha256(p.name), sha224("abc")],
  bytes: () => sha256.array(Uint8Array.of(0, 1, 2, 255)),
  incremental: () => sha256.create().update("hello ").update("wörld 🎉").hex(),
  hmac: () => [sha256.hmac("key", "The quick brown fox jumps over the lazy dog"), sha256.hmac.hex("日本", "語")],
  long: () => sha256("a".repeat(100000)),
  arrayBuffer: () => Array.from(new Uint8Array(sha256.arrayBuffer("abc"))).slice(0, 8),
});
