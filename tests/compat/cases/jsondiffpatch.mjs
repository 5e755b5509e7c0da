import { create } from "jsondiffpatch";
import { format as formatJsonPatch } from "jsondiffpatch/formatters/jsonpatch";
import { checks } from "../lib/checks.mjs";

const differ = create({ objectHash: (o, i) => o.id ?? `$$index:${i}` });
const left = { name: "Zoë", list: [{ id: 1, v: "a" }, { id: 2, v: "b" }, { id: 3 }], n: 1, gone: true };
const right = { name: "Zoe", list: [{ id: 2, v: "b" }, { id: 1, v: "A" }, { id: 4 }], n: 2, added: [1] };

export default checks({
  diff: () => differ.diff(left, right),
  patch: () => differ.patch(structuredClone(left), differ.diff(left, right)),
  unpatch: () => differ.unpatch(structuredClone(right), differ.diff(left, right)),
  reverse: () => differ.reverse(differ.diff(left, right)),
  jsonpatch: () => formatJsonPatch(differ.diff(left, right)),
  same: () => differ.diff({ a: [1, 2] }, { a: [1, 2] }) ?? "no difference",
  text: () => create({ textDiff: { minLength: 10 } }).diff({ t: "the quick brown fox jumps" }, { t: "the quick red fox jumped" }),
});
