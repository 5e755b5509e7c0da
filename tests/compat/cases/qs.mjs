import qs from "qs";
import { checks } from "../lib/checks.mjs";

export default checks({
  parse: () => qs.parse("a[b][c]=d&list[]=1&list[]=2&name=Zo%C3%AB&e=&plus=a+b&arr[1]=x&arr[0]=y"),
  stringify: (p) => [qs.stringify({ a: { b: [1, 2] }, name: p.name, empty: "", nil: null }), qs.stringify({ a: [1, 2] }, { arrayFormat: "brackets", encodeValuesOnly: true }), qs.stringify({ d: new Date(Date.UTC(2024, 1, 29)) })],
  options: () => [qs.parse("?a=1&b=2", { ignoreQueryPrefix: true }), qs.parse("a.b.c=1", { allowDots: true }), qs.parse("a=1;b=2", { delimiter: ";" }), qs.parse("a=%E9", { charset: "iso-8859-1" })],
  limits: () => Object.keys(qs.parse(Array.from({ length: 1100 }, (_, i) => `k${i}=1`).join("&"))).length,
  depth: () => qs.parse("a[b][c][d][e][f][g][h]=i"),
  proto: () => qs.parse("__proto__[polluted]=1&constructor[prototype][x]=1"),
});
