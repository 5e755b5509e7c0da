import { produce, enableMapSet, enablePatches, applyPatches, produceWithPatches, freeze, current, original } from "immer";
import { checks } from "../lib/checks.mjs";

enableMapSet();
enablePatches();

const base = { todos: [{ id: 1, done: false, title: "café" }], meta: { count: 1 } };

export default checks({
  produce: () => {
    const next = produce(base, (draft) => { draft.todos.push({ id: 2, done: true, title: "日本語" }); draft.todos[0].done = true; });
    return [next.todos, base.todos.length, next.meta === base.meta, Object.isFrozen(next)];
  },
  unchanged: () => produce(base, () => {}) === base,
  patches: () => {
    const [next, patches, inverse] = produceWithPatches(base, (draft) => { draft.meta.count += 1; delete draft.todos[0].title; });
    return [next, patches, inverse, applyPatches(next, inverse)];
  },
  mapSet: () => {
    const state = { m: new Map([["a", 1]]), s: new Set([1]) };
    const next = produce(state, (draft) => { draft.m.set("b", 2); draft.s.add(2); draft.s.delete(1); });
    return [[...next.m], [...next.s], [...state.m], [...state.s]];
  },
  currentOriginal: () => {
    let seen;
    produce(base, (draft) => { draft.meta.count = 5; seen = [current(draft).meta.count, original(draft).meta.count]; });
    return seen;
  },
  frozenWrite: () => {
    const frozen = freeze({ a: 1 }, true);
    try { frozen.a = 2; } catch (error) { return ["threw", error instanceof TypeError]; }
    return ["no throw", frozen.a];
  },
  curried: () => { const toggle = produce((draft, id) => { const t = draft.todos.find((x) => x.id === id); t.done = !t.done; }); return toggle(base, 1).todos[0].done; },
});
