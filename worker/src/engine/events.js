// Evaluated once per context: `DOMException`, `Event`, `EventTarget`, and
// `AbortController` / `AbortSignal` built on them (replacing the engine runtime's
// versions, which are not event targets and lack `timeout` and `any`). They are put on
// `target`, the holder the global accessors answer from (see events.rs).
(function (target) {
  "use strict";
  const define = (target, name, value) =>
    Object.defineProperty(target, name, { value, writable: true, configurable: true });
  const tag = (target, name) =>
    Object.defineProperty(target.prototype, Symbol.toStringTag, { value: name, configurable: true });

  // The legacy `code` of each DOMException name that has one.
  const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12,
    InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
    InvalidNodeTypeError: 24, DataCloneError: 25,
  };

  class DOMException extends Error {
    #name;
    constructor(message = "", options = "Error") {
      super(String(message));
      // The second argument is a name, or (newer) `{ name, cause }`.
      if (typeof options === "object" && options !== null) {
        this.#name = "name" in options ? String(options.name) : "Error";
        if ("cause" in options) define(this, "cause", options.cause);
      } else {
        this.#name = String(options);
      }
    }
    get name() {
      return this.#name;
    }
    get code() {
      return legacyCodes[this.#name] ?? 0;
    }
  }
  Object.defineProperty(DOMException.prototype, "message", {
    value: "", writable: true, configurable: true,
  });
  for (const [name, code] of Object.entries(legacyCodes)) {
    const constant = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/_ERROR$/, "_ERR");
    Object.defineProperty(DOMException, constant, { value: code, enumerable: true });
  }
  tag(DOMException, "DOMException");

  const NONE = 0, AT_TARGET = 2;
  const dispatching = new WeakSet();

  class Event {
    #type; #bubbles; #cancelable; #composed; #timeStamp;
    #target = null; #currentTarget = null; #phase = NONE;
    #canceled = false; #stopped = false; #inPassive = false;
    constructor(type, options = {}) {
      if (arguments.length === 0) throw new TypeError("Event: the event type is required");
      this.#type = String(type);
      this.#bubbles = Boolean(options?.bubbles);
      this.#cancelable = Boolean(options?.cancelable);
      this.#composed = Boolean(options?.composed);
      this.#timeStamp = typeof performance === "object" ? performance.now() : Date.now();
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#canceled; }
    get returnValue() { return !this.#canceled; }
    get cancelBubble() { return this.#stopped !== false; }
    get isTrusted() { return false; }
    get timeStamp() { return this.#timeStamp; }
    composedPath() { return this.#currentTarget === null ? [] : [this.#currentTarget]; }
    preventDefault() { if (this.#cancelable && !this.#inPassive) this.#canceled = true; }
    stopPropagation() { if (this.#stopped === false) this.#stopped = true; }
    stopImmediatePropagation() { this.#stopped = "immediately"; }

    // Used by EventTarget's dispatch: the event's state during and after a dispatch.
    static begin(event, target) {
      event.#target = target;
      event.#currentTarget = target;
      event.#phase = AT_TARGET;
    }
    static end(event) {
      event.#currentTarget = null;
      event.#phase = NONE;
      event.#stopped = false;
    }
    static stoppedImmediately(event) { return event.#stopped === "immediately"; }
    static passive(event, passive) { event.#inPassive = passive; }
  }
  const { begin, end, stoppedImmediately, passive: setPassive } = Event;
  for (const name of ["begin", "end", "stoppedImmediately", "passive"]) delete Event[name];
  for (const [name, value] of [["NONE", 0], ["CAPTURING_PHASE", 1], ["AT_TARGET", 2], ["BUBBLING_PHASE", 3]]) {
    Object.defineProperty(Event, name, { value, enumerable: true });
    Object.defineProperty(Event.prototype, name, { value, enumerable: true });
  }
  tag(Event, "Event");

  const flattenCapture = (options) =>
    typeof options === "boolean" ? options : Boolean(options?.capture);

  class EventTarget {
    // type -> [{ callback, capture, once, passive, removed }]
    #listeners = new Map();

    addEventListener(type, callback, options = {}) {
      if (arguments.length < 2) throw new TypeError("EventTarget.addEventListener: the type and the listener are required");
      if (callback === null || callback === undefined) return;
      if (typeof callback !== "function" && typeof callback !== "object") {
        throw new TypeError("EventTarget.addEventListener: the listener must be a function or an object with handleEvent");
      }
      type = String(type);
      const capture = flattenCapture(options);
      const once = typeof options === "object" && options !== null && Boolean(options.once);
      const passive = typeof options === "object" && options !== null && Boolean(options.passive);
      const signal = typeof options === "object" && options !== null ? options.signal : undefined;
      if (signal !== undefined && signal.aborted) return;
      let list = this.#listeners.get(type);
      if (list === undefined) this.#listeners.set(type, (list = []));
      if (list.some((l) => l.callback === callback && l.capture === capture)) return;
      const listener = { callback, capture, once, passive, removed: false };
      list.push(listener);
      if (signal !== undefined) {
        signal.addEventListener("abort", () => this.removeEventListener(type, callback, { capture }));
      }
    }

    removeEventListener(type, callback, options = {}) {
      if (arguments.length < 2) throw new TypeError("EventTarget.removeEventListener: the type and the listener are required");
      const list = this.#listeners.get(String(type));
      if (list === undefined) return;
      const capture = flattenCapture(options);
      const index = list.findIndex((l) => l.callback === callback && l.capture === capture);
      if (index !== -1) {
        list[index].removed = true;
        list.splice(index, 1);
      }
    }

    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError("EventTarget.dispatchEvent: the argument is not an Event");
      if (dispatching.has(event)) {
        throw new DOMException("The event is already being dispatched", "InvalidStateError");
      }
      dispatching.add(event);
      begin(event, this);
      try {
        const list = this.#listeners.get(event.type);
        // Listeners added during the dispatch do not run; removed ones do not either.
        for (const listener of list === undefined ? [] : [...list]) {
          if (listener.removed) continue;
          if (listener.once) this.removeEventListener(event.type, listener.callback, { capture: listener.capture });
          setPassive(event, listener.passive);
          try {
            if (typeof listener.callback === "function") {
              listener.callback.call(this, event);
            } else {
              const handle = listener.callback.handleEvent;
              if (typeof handle !== "function") throw new TypeError("the listener object has no handleEvent method");
              handle.call(listener.callback, event);
            }
          } catch (err) {
            // As in browsers: one failing listener is reported and the others still run.
            console.error("Uncaught", err);
          }
          setPassive(event, false);
          if (stoppedImmediately(event)) break;
        }
      } finally {
        end(event);
        dispatching.delete(event);
      }
      return !event.defaultPrevented;
    }
  }
  tag(EventTarget, "EventTarget");

  const constructing = Symbol("AbortSignal");
  const abortSignal = new WeakMap(); // signal -> { aborted, reason }

  class AbortSignal extends EventTarget {
    #onabort = null;
    constructor(token) {
      if (token !== constructing) throw new TypeError("Illegal constructor");
      super();
      abortSignal.set(this, { aborted: false, reason: undefined });
    }
    get aborted() { return state(this).aborted; }
    get reason() { return state(this).reason; }
    get onabort() { return this.#onabort; }
    set onabort(handler) {
      if (this.#onabort !== null) this.removeEventListener("abort", this.#onabort);
      this.#onabort = typeof handler === "function" ? handler : null;
      if (this.#onabort !== null) this.addEventListener("abort", this.#onabort);
    }
    throwIfAborted() {
      if (state(this).aborted) throw state(this).reason;
    }
    static abort(reason = undefined) {
      const signal = new AbortSignal(constructing);
      signalAbort(signal, reason);
      return signal;
    }
    static timeout(milliseconds) {
      const ms = Number(milliseconds);
      if (!Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`AbortSignal.timeout: the delay must be a non-negative number of milliseconds, not ${String(milliseconds)}`);
      }
      const signal = new AbortSignal(constructing);
      setTimeout(() => signalAbort(signal, new DOMException("The operation was aborted due to timeout", "TimeoutError")), ms);
      return signal;
    }
    static any(signals) {
      const sources = [...signals];
      for (const source of sources) {
        if (!abortSignal.has(source)) throw new TypeError("AbortSignal.any: every entry must be an AbortSignal");
      }
      const signal = new AbortSignal(constructing);
      const first = sources.find((source) => source.aborted);
      if (first !== undefined) {
        signalAbort(signal, first.reason);
        return signal;
      }
      for (const source of sources) {
        source.addEventListener("abort", () => signalAbort(signal, source.reason), { once: true });
      }
      return signal;
    }
  }
  tag(AbortSignal, "AbortSignal");

  function state(signal) {
    const found = abortSignal.get(signal);
    if (found === undefined) throw new TypeError("the receiver is not an AbortSignal");
    return found;
  }

  function signalAbort(signal, reason) {
    const s = state(signal);
    if (s.aborted) return;
    s.aborted = true;
    s.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    signal.dispatchEvent(new Event("abort"));
  }

  class AbortController {
    #signal = new AbortSignal(constructing);
    get signal() { return this.#signal; }
    abort(reason = undefined) { signalAbort(this.#signal, reason); }
  }
  tag(AbortController, "AbortController");

  for (const [name, value] of Object.entries({ DOMException, Event, EventTarget, AbortSignal, AbortController })) {
    define(target, name, value);
  }
});
