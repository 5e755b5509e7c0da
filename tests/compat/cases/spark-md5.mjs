import SparkMD5 from "spark-md5";
import { checks } from "../lib/checks.mjs";

export default checks({
  hash: (p) => [SparkMD5.hash(""), SparkMD5.hash("The quick brown fox jumps over the lazy dog"), SparkMD5.hash(p.name), SparkMD5.hash("日本語 🎉")],
  incremental: () => { const s = new SparkMD5(); s.append("hello "); s.append("world"); return s.end(); },
  arrayBuffer: () => { const s = new SparkMD5.ArrayBuffer(); s.append(new TextEncoder().encode("hello world").buffer); return s.end(); },
  raw: () => SparkMD5.hash("abc", true).length,
  big: () => SparkMD5.hash("x".repeat(200000)),
});
