import { getProperty, setProperty, hasProperty, deleteProperty, escapePath, deepKeys } from "dot-prop";
import { checks } from "../lib/checks.mjs";

export default checks({
  get: () => [getProperty({ a: { b: [{ c: 1 }] } }, "a.b[0].c"), getProperty({ "a.b": 1 }, "a\\.b"), getProperty({}, "x.y", "default"), getProperty({ a: null }, "a.b")],
  set: () => { const o = {}; setProperty(o, "a.b.c", 1); setProperty(o, "list[1].x", "y"); return o; },
  hasDelete: () => { const o = { a: { b: 1, c: 2 } }; return [hasProperty(o, "a.b"), deleteProperty(o, "a.b"), hasProperty(o, "a.b"), o]; },
  escape: () => escapePath("a.b[0]\\c"),
  deepKeys: () => deepKeys({ a: { b: 1, c: [1, { d: 2 }] }, "x.y": 3 }),
  proto: () => { const o = {}; setProperty(o, "__proto__.polluted", true); return [({}).polluted ?? null, Object.keys(o)]; },
});
