import jsonpatch from "fast-json-patch";
import { checks } from "../lib/checks.mjs";

const doc = { name: "Zoë", tags: ["a", "b"], nested: { n: 1, arr: [{ id: 1 }] } };

export default checks({
  apply: () => jsonpatch.applyPatch(structuredClone(doc), [{ op: "replace", path: "/name", value: "日本" }, { op: "add", path: "/tags/-", value: "c" }, { op: "remove", path: "/nested/n" }, { op: "copy", from: "/tags/0", path: "/first" }, { op: "move", from: "/nested/arr/0", path: "/moved" }]).newDocument,
  compare: () => jsonpatch.compare(doc, { name: "Zoe", tags: ["b"], nested: { n: 2, arr: [{ id: 1 }], x: null } }),
  test: () => { try { jsonpatch.applyPatch(structuredClone(doc), [{ op: "test", path: "/name", value: "nope" }], true); return "passed"; } catch (e) { return [e.name, e.message.split("\n")[0]]; } },
  validate: () => { const e = jsonpatch.validate([{ op: "bogus", path: "/x" }], doc); return e ? [e.name, e.message.split("\n")[0]] : null; },
  observe: () => { const copy = structuredClone(doc); const observer = jsonpatch.observe(copy); copy.name = "changed"; copy.tags.push("z"); return jsonpatch.generate(observer); },
  pointer: () => [jsonpatch.getValueByPointer(doc, "/nested/arr/0/id"), jsonpatch.escapePathComponent("a/b~c")],
});
