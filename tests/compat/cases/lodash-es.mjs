import { chunk, cloneDeep, debounce, get, groupBy, isEqual, kebabCase, merge, orderBy, template, uniqBy, words, deburr, camelCase, set, sortBy, memoize, zipObject, range, escape } from "lodash-es";
import { checks } from "../lib/checks.mjs";

export default checks({
  chunk: () => chunk([1, 2, 3, 4, 5], 2),
  cloneDeep: () => {
    const source = { a: [1, { b: new Date(Date.UTC(2024, 1, 29)) }], m: new Map([["k", 1]]) };
    const copy = cloneDeep(source);
    return [copy.a[1].b.toISOString(), copy.a[1] !== source.a[1], copy.m.get("k"), copy.m !== source.m];
  },
  get: () => [get({ a: [{ b: { c: 3 } }] }, "a[0].b.c"), get({}, "x.y", "default")],
  set: () => set({}, "a[0].b", "deep"),
  groupBy: () => groupBy([6.1, 4.2, 6.3], Math.floor),
  isEqual: () => [isEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), isEqual(NaN, NaN), isEqual([1], ["1"])],
  merge: () => merge({ a: [{ b: 2 }, { d: 4 }] }, { a: [{ c: 3 }, { e: 5 }] }),
  orderBy: () => orderBy([{ u: "fred", a: 48 }, { u: "barney", a: 34 }, { u: "fred", a: 40 }], ["u", "a"], ["asc", "desc"]),
  sortByStable: () => sortBy([{ k: 1, i: 0 }, { k: 0, i: 1 }, { k: 1, i: 2 }, { k: 0, i: 3 }], "k"),
  strings: (p) => [kebabCase("Foo Bar_baz"), camelCase("--foo-bar--"), deburr(p.name), words("fred, barney, & pebbles"), words(p.words.join(" "))],
  template: () => template("hello <%= user %>! <%- html %>")({ user: "Zoë", html: "<b>&</b>" }),
  escape: () => escape(`<a href="x">'&'</a>`),
  uniqBy: () => uniqBy([2.1, 1.2, 2.3], Math.floor),
  memoize: () => {
    let calls = 0;
    const f = memoize((n) => (calls += 1, n * 2));
    return [f(2), f(2), f(3), calls];
  },
  zipObject: () => zipObject(["a", "b"], [1, 2]),
  range: () => [range(4), range(0, 20, 5), range(1, 4, 0)],
  debounce: () => new Promise((resolve) => {
    let calls = 0;
    const f = debounce(() => { calls += 1; }, 20);
    f(); f(); f();
    setTimeout(() => resolve(calls), 80);
  }),
});
