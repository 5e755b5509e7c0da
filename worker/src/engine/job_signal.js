// The maker of `ctx.signal` (see host_api.rs), evaluated once per context on the first
// read of `ctx.signal`; it puts `makeSignal` on the holder it is called with.
(function (target) {
  "use strict";
  const global = (name) => Reflect.get(globalThis, name);
  const domException = (message, name) => new (global("DOMException"))(message, name);

  const REASONS = {
    cancelled: () => domException("the job was cancelled", "AbortError"),
    shutdown: () => domException("the supervisor is shutting down", "AbortError"),
    deadline: () => domException("the job's deadline is near", "TimeoutError"),
  };

  // A fresh job signal and the function that aborts it with the reason named.
  function makeSignal() {
    const controller = new (global("AbortController"))();
    const abort = (reason) => controller.abort((REASONS[reason] ?? REASONS.cancelled)());
    return [controller.signal, abort];
  }

  Object.defineProperty(target, "makeSignal", { value: makeSignal, writable: true, configurable: true });
});
