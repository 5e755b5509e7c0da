export default function () {
  const out = {};
  const cases = {
    literal: () => [/[!#]/v.test("#"), /[.*+?]/v.test("?"), /^[\w.+\-]+$/v.test("a.b+c"), /[^!#]/v.test("!")].join(),
    ctor: () => [new RegExp("[!#]", "v").test("!"), RegExp("[<=>]", "gv").test("="), new RegExp("[!#]", "u").test("#")].join(),
    unchanged: () => [new RegExp("[a&&b]", "v").test("a"), /[\p{L}--[a-z]]/v.test("É"), /[!a#]/v.test("a")].join(),
    doubled: () => { try { new RegExp("[!!]", "v"); return "accepted"; } catch (e) { return e.name; } },
    identity: () => { const r = /x/g; return [RegExp(r) === r, new RegExp(r) === r, RegExp(r, "i") === r, r.constructor === RegExp, r instanceof RegExp].join(); },
    shape: () => [RegExp.name, RegExp.length, typeof RegExp.prototype.exec, RegExp.prototype.constructor === RegExp, RegExp[Symbol.species] === RegExp, Object.getOwnPropertyDescriptor(globalThis, "RegExp").enumerable].join(),
    subclass: () => { class R extends RegExp { exec(s) { return super.exec(s); } } const r = new R("[!#]", "v"); return [r instanceof R, r.test("#"), Object.getPrototypeOf(r) === R.prototype].join(); },
    split: () => "a!b#c".split(/[!#]/v).join("|"),
    replace: () => "a.b*c".replaceAll(new RegExp("[.*]", "gv"), "-"),
    flags: () => new RegExp("[!#]", "v").flags,
    objectPattern: () => new RegExp({ toString() { return "[ab]"; } }, "v").test("b"),
  };
  for (const [k, f] of Object.entries(cases)) { try { out[k] = f(); } catch (e) { out[k] = "throws " + e.name + ": " + e.message; } }
  return out;
}
