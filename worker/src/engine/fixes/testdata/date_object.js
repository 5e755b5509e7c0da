export default function () {
  const out = {};
  const cases = {
    toString: () => [String(new Date(0)), new Date(Date.UTC(2020, 6, 15, 12, 30, 45)).toString(), `${new Date(86400000)}`].join("|"),
    toTimeString: () => new Date(0).toTimeString(),
    invalid: () => [String(new Date(NaN)), new Date("nope").getTime(), new Date("Jan 1st 2024").toString()].join("|"),
    call: () => typeof Date() + ":" + / \(Coordinated Universal Time\)$/.test(Date()),
    ctorString: () => [new Date("Tue, 15 Nov 1994 08:12:31 +0200").getTime(), new Date("11/15/1994 10:20").toISOString(), new Date("2020-01-15 10:30:00").toISOString()].join("|"),
    ctorOther: () => [new Date(2020, 0, 31, 5).toISOString(), new Date(5).getTime(), new Date(new Date(7)).getTime(), new Date("2020-01-01").getTime(), new Date(2020, 1).getMonth()].join("|"),
    roundTrip: () => { const d = new Date(Date.UTC(2021, 2, 3, 4, 5, 6)); return [Date.parse(String(d)) === d.getTime(), Date.parse(d.toUTCString()) === d.getTime(), new Date(d.toString()).getTime() === d.getTime()].join(); },
    shape: () => [Date.name, Date.length, Date.parse.name, Date.parse.length, typeof Date.now(), Date.UTC(2000, 0), Date.prototype.constructor === Date, new Date(0) instanceof Date, Object.prototype.toString.call(new Date(0)), Object.getOwnPropertyDescriptor(globalThis, "Date").enumerable, Date.prototype.toString.name].join(),
    subclass: () => { class D extends Date { year() { return this.getUTCFullYear(); } } const d = new D("Nov 15, 1994"); return [d instanceof D, d instanceof Date, d.year(), String(new D(0))].join("|"); },
    json: () => JSON.stringify({ d: new Date("Tue, 15 Nov 1994 08:12:31 GMT") }),
    parseConversion: () => [Date.parse({ toString() { return "Nov 15 1994 +0100" } }), Date.parse(), Date.parse(0)].join(),
  };
  for (const [k, f] of Object.entries(cases)) { try { out[k] = f(); } catch (e) { out[k] = "throws " + e.name + ": " + e.message; } }
  return out;
}
