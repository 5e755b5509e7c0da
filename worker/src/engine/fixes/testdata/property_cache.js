// Property reads at one place in the code (`read*`) around getters that redefine or delete
// properties, and prototypes changed after such a read. The engine's property cache keeps
// a slot it found before the change; node's answers are in the test that runs these.
function attempt(f) { try { return f(); } catch (e) { return `${e.name}: ${e.message}`; } }
const readP = (x) => x.p;
const readQ = (x) => x.q;
const readR = (x) => x.r;
const readS = (x) => x.s;
const readC = (x) => x.c;
const readValue = (x) => x.value;
const readX = (x) => x.x;
class Lazy { get value() { const v = {}; Object.defineProperty(this, "value", { value: v }); return v; } }
const cases = {
  // a getter turns its own property into a data property holding an object
  ownGetter: () => { const o = { get p() { Object.defineProperty(this, "p", { value: {} }); return 0; } }; return [readP(o), JSON.stringify(readP(o))]; },
  // the same through Object.defineProperties and Reflect.defineProperty
  defineProperties: () => { const o = { get q() { Object.defineProperties(this, { q: { value: [1] } }); return 0; } }; return [readQ(o), readQ(o)]; },
  reflectDefineProperty: () => { const o = { get r() { Reflect.defineProperty(this, "r", { value: { r: 1 } }); return 0; } }; return [readR(o), readR(o)]; },
  // the new value is a function: a stale read calls it
  functionValue: () => { const o = { get s() { Object.defineProperty(this, "s", { value() { return "called"; } }); return 0; } }; readS(o); return typeof readS(o); },
  // a prototype's memoising getter defines the value on the instance
  prototypeGetter: () => { const lazy = new Lazy(); return readValue(lazy) === readValue(lazy); },
  // the getter also deletes and adds other properties
  otherProperties: () => { const o = { a: 1, b: 2, get c() { Object.defineProperty(this, "c", { value: 7, configurable: true }); delete this.a; delete this.b; this.d = 4; return 3; } }; return [readC(o), readC(o), readC(o), Object.keys(o)]; },
  // no getter involved: the prototype is changed between two reads through an instance
  prototypeRedefined: () => { const proto = { get x() { return 1; } }; const o = Object.create(proto); readX(o); Object.defineProperty(proto, "x", { value: { y: 1 } }); return readX(o); },
  prototypeShifted: () => { const proto = { a: 1, get x() { return 1; } }; const o = Object.create(proto); readX(o); delete proto.a; return readX(o); },
};
