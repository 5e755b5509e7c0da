// Evaluated once per context; the function it evaluates to is called with the native
// form-urlencoded parser and serialiser, so they stay out of the global scope.
(function (parseQuery, encode) {
  "use strict";
  const states = new WeakMap();
  const paramsOfUrl = new WeakMap();
  const usv = (value) => String(value).toWellFormed();

  function stateOf(params, method) {
    const state = states.get(params);
    if (state === undefined) {
      throw new TypeError(`URLSearchParams.prototype.${method} called on an object that is not a URLSearchParams`);
    }
    // A URL's search params follow its query, however it was changed since.
    if (state.url !== null && state.url.search !== state.seen) {
      state.seen = state.url.search;
      state.list = pairsOf(state.seen.slice(1));
    }
    return state;
  }

  function pairsOf(query) {
    const flat = parseQuery(query);
    const pairs = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
    return pairs;
  }

  function serialize(list) {
    return list.map(([name, value]) => `${encode(name)}=${encode(value)}`).join("&");
  }

  function update(state) {
    if (state.url === null) return;
    state.url.search = serialize(state.list);
    state.seen = state.url.search;
  }

  function requireArgs(count, needed, method) {
    if (count < needed) {
      throw new TypeError(`URLSearchParams.prototype.${method} needs ${needed} argument${needed === 1 ? "" : "s"}, got ${count}`);
    }
  }

  function pairsFromInit(init) {
    if ((typeof init === "object" && init !== null) || typeof init === "function") {
      const iterator = init[Symbol.iterator];
      if (iterator !== undefined) {
        if (typeof iterator !== "function") {
          throw new TypeError("URLSearchParams: the init object's Symbol.iterator is not a function");
        }
        const pairs = [];
        for (const pair of init) {
          if ((typeof pair !== "object" || pair === null) && typeof pair !== "function") {
            throw new TypeError("URLSearchParams: each entry of the init sequence must be a [name, value] pair");
          }
          const items = [...pair];
          if (items.length !== 2) {
            throw new TypeError(`URLSearchParams: each entry of the init sequence must have exactly 2 items, one has ${items.length}`);
          }
          pairs.push([usv(items[0]), usv(items[1])]);
        }
        return pairs;
      }
      return Object.keys(init).map((key) => [usv(key), usv(init[key])]);
    }
    const text = usv(init);
    return pairsOf(text.startsWith("?") ? text.slice(1) : text);
  }

  function* iterate(params, method, pick) {
    const state = stateOf(params, method);
    for (let i = 0; i < stateOf(params, method).list.length; i++) {
      yield pick(state.list[i]);
    }
  }

  class URLSearchParams {
    constructor(init = "") {
      states.set(this, { list: pairsFromInit(init), url: null, seen: "" });
    }

    get size() {
      return stateOf(this, "size").list.length;
    }

    append(name, value) {
      requireArgs(arguments.length, 2, "append");
      const state = stateOf(this, "append");
      state.list.push([usv(name), usv(value)]);
      update(state);
    }

    delete(name, value = undefined) {
      requireArgs(arguments.length, 1, "delete");
      const state = stateOf(this, "delete");
      name = usv(name);
      if (value === undefined) {
        state.list = state.list.filter((pair) => pair[0] !== name);
      } else {
        value = usv(value);
        state.list = state.list.filter((pair) => pair[0] !== name || pair[1] !== value);
      }
      update(state);
    }

    get(name) {
      requireArgs(arguments.length, 1, "get");
      name = usv(name);
      const pair = stateOf(this, "get").list.find((pair) => pair[0] === name);
      return pair === undefined ? null : pair[1];
    }

    getAll(name) {
      requireArgs(arguments.length, 1, "getAll");
      name = usv(name);
      return stateOf(this, "getAll").list.filter((pair) => pair[0] === name).map((pair) => pair[1]);
    }

    has(name, value = undefined) {
      requireArgs(arguments.length, 1, "has");
      name = usv(name);
      const list = stateOf(this, "has").list;
      if (value === undefined) return list.some((pair) => pair[0] === name);
      value = usv(value);
      return list.some((pair) => pair[0] === name && pair[1] === value);
    }

    set(name, value) {
      requireArgs(arguments.length, 2, "set");
      const state = stateOf(this, "set");
      name = usv(name);
      value = usv(value);
      const first = state.list.findIndex((pair) => pair[0] === name);
      if (first === -1) {
        state.list.push([name, value]);
      } else {
        state.list[first][1] = value;
        state.list = state.list.filter((pair, i) => i <= first || pair[0] !== name);
      }
      update(state);
    }

    sort() {
      const state = stateOf(this, "sort");
      // Stable, by UTF-16 code units of the names, as the standard says.
      state.list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      update(state);
    }

    forEach(callback, thisArg = undefined) {
      requireArgs(arguments.length, 1, "forEach");
      if (typeof callback !== "function") {
        throw new TypeError("URLSearchParams.prototype.forEach: the callback is not a function");
      }
      for (let i = 0; i < stateOf(this, "forEach").list.length; i++) {
        const [name, value] = stateOf(this, "forEach").list[i];
        callback.call(thisArg, value, name, this);
      }
    }

    keys() {
      return iterate(this, "keys", (pair) => pair[0]);
    }

    values() {
      return iterate(this, "values", (pair) => pair[1]);
    }

    entries() {
      return iterate(this, "entries", (pair) => [pair[0], pair[1]]);
    }

    toString() {
      return serialize(stateOf(this, "toString").list);
    }
  }

  Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
    value: URLSearchParams.prototype.entries,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(URLSearchParams.prototype, Symbol.toStringTag, {
    value: "URLSearchParams",
    configurable: true,
  });
  Object.defineProperty(globalThis, "URLSearchParams", {
    value: URLSearchParams,
    writable: true,
    configurable: true,
  });

  if (typeof URL === "function") {
    Object.defineProperty(URL.prototype, "searchParams", {
      get() {
        let params = paramsOfUrl.get(this);
        if (params === undefined) {
          const search = this.search;
          params = new URLSearchParams(search);
          const state = states.get(params);
          state.url = this;
          state.seen = search;
          paramsOfUrl.set(this, params);
        }
        return params;
      },
      enumerable: true,
      configurable: true,
    });
  }
});
