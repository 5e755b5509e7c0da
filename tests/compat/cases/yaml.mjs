import YAML, { parseDocument, stringify } from "yaml";
import { checks } from "../lib/checks.mjs";

const text = `# config
name: Zoë
list: [1, 2.5, "three", null, true]
nested:
  deep: { key: value }
  when: 2024-02-29
multi: |
  line one
  line two
folded: >
  folded
  text
anchors:
  base: &b { a: 1 }
  copy: *b
unicode: "\\u65E5\\u672C 🎉"
`;

export default checks({
  parse: () => YAML.parse(text),
  stringify: () => stringify({ a: [1, { b: "x: y" }], "key with space": "multi\nline", n: 1e21, empty: {}, date: "2024-02-29" }),
  document: () => { const doc = parseDocument(text); doc.set("added", 1); doc.deleteIn(["nested", "deep"]); return doc.toString(); },
  errors: () => parseDocument("a: b: c\n  - x").errors.map((e) => [e.code, e.message.split("\n")[0]]),
  yaml11: () => YAML.parse("a: yes\nb: 0o17\nc: 0x1F\nd: .inf\ne: ~", { version: "1.1" }),
  bigint: () => String(YAML.parse("n: 123456789012345678901234567890", { intAsBigInt: true }).n),
});
