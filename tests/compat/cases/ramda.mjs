import * as R from "ramda";
import { checks } from "../lib/checks.mjs";

export default checks({
  pipe: () => R.pipe(R.map(R.multiply(2)), R.filter((n) => n > 4), R.sum)([1, 2, 3, 4]),
  curry: () => { const add3 = R.curry((a, b, c) => a + b + c); return [add3(1)(2)(3), add3(1, 2)(3), add3(R.__, 2, 3)(1)]; },
  lenses: () => { const l = R.lensPath(["a", "b"]); return [R.view(l, { a: { b: 1 } }), R.over(l, R.inc, { a: { b: 1 } }), R.set(l, 9, {})]; },
  groupBy: () => R.groupBy((s) => (s.score >= 90 ? "A" : "B"), [{ n: "x", score: 95 }, { n: "y", score: 70 }]),
  sortWith: () => R.sortWith([R.descend(R.prop("age")), R.ascend(R.prop("name"))], [{ name: "b", age: 1 }, { name: "a", age: 1 }, { name: "c", age: 3 }]),
  evolve: () => R.evolve({ count: R.inc, tags: R.append("new") }, { count: 1, tags: ["a"], other: true }),
  equals: () => [R.equals({ a: [1, new Set([2])] }, { a: [1, new Set([2])] }), R.equals(-0, 0), R.equals(NaN, NaN)],
  strings: (p) => [R.toUpper(p.name), R.split(" ", p.words[3]), R.join("|", p.words)],
  transduce: () => R.transduce(R.compose(R.map(R.inc), R.take(2)), R.flip(R.append), [], [1, 2, 3, 4]),
  toString: () => [R.toString({ a: [1, "x", null], d: new Date(0) }), R.toString(new Map())],
  mergeDeep: () => R.mergeDeepRight({ a: { b: 1, c: [1] } }, { a: { c: [2], d: 3 } }),
  range: () => [R.range(0, 5), R.aperture(2, [1, 2, 3, 4]), R.xprod([1, 2], ["a", "b"])],
});
