import { deflate, inflate, gzip, ungzip, deflateRaw, inflateRaw } from "pako";
import { checks } from "../lib/checks.mjs";

const text = "Zoë Ångström 日本語 🎉 ".repeat(50);

export default checks({
  roundTrip: () => inflate(deflate(text), { to: "string" }) === text,
  deflateBytes: () => Array.from(deflate("hello hello hello hello", { level: 9 })),
  gzip: () => { const z = gzip(text, { header: { mtime: 0 } }); return [z.length, ungzip(z, { to: "string" }).length]; },
  raw: () => Array.from(inflateRaw(deflateRaw(new Uint8Array([1, 2, 3, 1, 2, 3, 1, 2, 3])))),
  levels: () => [0, 1, 6, 9].map((level) => deflate(text, { level }).length),
  corrupt: () => inflate(new Uint8Array([1, 2, 3, 4])),
});
