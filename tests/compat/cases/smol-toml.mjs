import { parse, stringify } from "smol-toml";
import { checks } from "../lib/checks.mjs";

const text = `
title = "TOML \\u00e9 日本"
[owner]
name = "Tom"
dob = 1979-05-27T07:32:00-08:00
[database]
ports = [ 8000, 8001, 8002 ]
enabled = true
temp_targets = { cpu = 79.5, case = 72.0 }
[[products]]
name = "Hammer"
sku = 738594937
[[products]]
name = "Nail"
hex = 0xDEADBEEF
local = 07:32:00
`;

export default checks({
  parse: () => { const doc = parse(text); return [doc.title, doc.owner.dob.toISOString(), doc.database, doc.products.map((p) => [p.name, p.sku ?? p.hex, p.local ? p.local.toISOString() : null])]; },
  stringify: () => stringify({ a: 1, s: "quote \" and \n", arr: [1, 2], nested: { t: true, f: 1.5 }, list: [{ x: 1 }, { x: 2 }] }),
  error: () => parse("a = \n"),
  duplicate: () => parse("a = 1\na = 2"),
  bigints: () => String(parse("big = 9007199254740993", { integersAsBigInt: true }).big),
});
