// JSON.parse against node: values, key order, numbers, strings, nesting, errors, reviver.
export default () => {
  const out = {};
  const show = (text) => {
    try {
      const v = JSON.parse(text);
      return typeof v === "object" && v !== null ? [Object.keys(v).join(","), JSON.stringify(v)].join("|") : `${typeof v}:${Object.is(v, -0) ? "-0" : String(v)}`;
    } catch (e) {
      return `throws ${e.name}`;
    }
  };
  out.values = ["5", " true ", "null", '"x"', "[]", "{}", "[1,[2,[3]]]", '{"a":{"b":[1,{"c":null}]}}'].map(show);
  out.order = ['{"b":1,"a":2,"c":3}', '{"2":1,"1":2,"a":3,"0":4}', '{"a":1,"b":2,"a":3}', '{"__proto__":1,"x":2}'].map(show);
  out.proto = Object.getPrototypeOf(JSON.parse('{"__proto__":{"y":1}}')) === Object.prototype;
  out.ownProto = Object.prototype.hasOwnProperty.call(JSON.parse('{"__proto__":{"y":1}}'), "__proto__");
  out.numbers = ["0", "-0", "-0.0", "1e-0", "0.1", "0.30000000000000004", "1e21", "1E5", "-1.5e-7", "9007199254740993", "18446744073709551617",
    "123456789012345678901234567890", "2.2250738585072011e-308", "4.9e-324", "1e-400", "1.7976931348623157e308",
    "0.1e1", "100000000000000000000000000000000000000000000001", "3.141592653589793238462643383279"].map(show);
  out.strings = ['"\\u00e9\\n\\t\\"\\\\\\/"', '"\\ud83d\\ude00"', '"é😀"', '"\u2028\u2029"'].map(show);
  const deep = (n) => "[".repeat(n) + "]".repeat(n);
  out.deep = show(deep(100)).length;
  out.errors = ["", " ", "01", "[1,]", "{'a':1}", '{"a":1,}', "undefined", "\ufeff1", "NaN", "1 2", '"\t"', "tru", "[", "-", "1.", ".5", "+1"].map(show);
  out.input = [JSON.parse(5), JSON.parse(null), JSON.parse({ toString: () => "[7]" })[0], JSON.parse(new String('"s"'))];
  let calls = 0;
  out.reviver = JSON.stringify(JSON.parse('{"a":1,"b":[2,3]}', function (k, v) { calls++; return typeof v === "number" ? v * 10 : v; }));
  out.reviverCalls = calls;
  out.notCallableReviver = JSON.stringify(JSON.parse('{"a":1}', 5));
  out.shape = [JSON.parse.name, JSON.parse.length, typeof JSON.parse, Object.getOwnPropertyDescriptor(JSON, "parse").enumerable, JSON.parse("{}") instanceof Object, Array.isArray(JSON.parse("[]"))];
  const big = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i, name: "item " + i, v: i / 7, tags: ["a", "b"], ok: i % 2 === 0 })));
  out.roundTrip = JSON.stringify(JSON.parse(big)) === big;
  return out;
};
