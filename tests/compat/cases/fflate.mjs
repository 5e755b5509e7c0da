import { deflateSync, inflateSync, gzipSync, gunzipSync, zipSync, unzipSync, strToU8, strFromU8, zlibSync, unzlibSync } from "fflate";
import { checks } from "../lib/checks.mjs";

const text = "Zoë Ångström 日本語 🎉 ".repeat(50);

export default checks({
  deflate: () => { const d = deflateSync(strToU8(text), { level: 9 }); return [d.length, strFromU8(inflateSync(d)) === text]; },
  gzip: () => { const g = gzipSync(strToU8("hello"), { mtime: 0 }); return [Array.from(g), strFromU8(gunzipSync(g))]; },
  zlib: () => strFromU8(unzlibSync(zlibSync(strToU8(text)))).length,
  zip: () => {
    const archive = zipSync({ "a.txt": strToU8("alpha"), "dir/b.txt": [strToU8("béta"), { level: 0 }] }, { mtime: new Date(Date.UTC(2024, 1, 29)) });
    const files = unzipSync(archive);
    return [archive.length, Object.keys(files), strFromU8(files["dir/b.txt"])];
  },
  latin1: () => strFromU8(strToU8("ÿé", true), true),
  corrupt: () => inflateSync(new Uint8Array([255, 255, 255])),
});
