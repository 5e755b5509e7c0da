import * as yaml from "js-yaml";
import { checks } from "../lib/checks.mjs";

export default checks({
  load: () => yaml.load("a: 1\nb: [x, 'y', \"z\\u00e9\"]\nc:\n  d: 2024-02-29T10:00:00Z\nf: .NaN\ng: 0b101"),
  dates: () => { const when = yaml.load("when: 2024-02-29T10:00:00+05:00").when; return when instanceof Date ? when.toISOString() : [typeof when, when]; },
  dump: () => yaml.dump({ name: "Zoë", list: [1, "two", null], nested: { "key:colon": "a#b", multi: "one\ntwo" }, n: -0.5, big: 1e21 }, { sortKeys: true }),
  loadAll: () => yaml.loadAll("---\na: 1\n---\n- x\n---\nplain"),
  error: () => yaml.load("a: [1, 2"),
  schema: () => yaml.load("x: yes\ny: 012", { schema: yaml.JSON_SCHEMA }),
});
