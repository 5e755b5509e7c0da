import queryString from "query-string";
import { checks } from "../lib/checks.mjs";

export default checks({
  parse: () => queryString.parse("?foo=bar&n=1&n=2&flag&name=Zo%C3%AB&emoji=%F0%9F%8E%89"),
  parseTyped: () => queryString.parse("a=1&b=true&c=x", { parseNumbers: true, parseBooleans: true }),
  stringify: (p) => [queryString.stringify({ b: 2, a: [1, 2], name: p.name, skip: undefined, nil: null }), queryString.stringify({ a: [1, 2] }, { arrayFormat: "bracket" }), queryString.stringify({ a: [1, 2] }, { arrayFormat: "comma" })],
  url: () => [queryString.parseUrl("https://example.com/path?x=1&y=%20#frag", { parseFragmentIdentifier: true }), queryString.stringifyUrl({ url: "https://example.com/?a=1", query: { b: "c d" } })],
  pick: () => [queryString.pick("https://x.y/?a=1&b=2&c=3", ["a", "c"]), queryString.exclude("https://x.y/?a=1&b=2", ["a"])],
  extract: () => queryString.extract("https://example.com?a=1#h"),
});
