import Ajv from "ajv";
import { checks } from "../lib/checks.mjs";

const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true });
const schema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 2, pattern: "^\\p{L}" },
    age: { type: "integer", minimum: 0 },
    tags: { type: "array", items: { type: "string" }, uniqueItems: true },
    kind: { enum: ["a", "b"], default: "a" },
    nested: { type: "object", properties: { x: { type: "number", multipleOf: 0.5 } }, additionalProperties: false },
  },
  required: ["name"],
  additionalProperties: false,
};
const validate = ajv.compile(schema);

export default checks({
  valid: (p) => { const data = { name: p.name, age: 42, tags: ["x", "y"], nested: { x: 1.5 } }; return [validate(data), data]; },
  invalid: () => { const ok = validate({ name: "1", age: -1.5, tags: ["x", "x"], nested: { x: 0.3, y: 1 }, extra: true }); return [ok, validate.errors.map((e) => [e.instancePath, e.keyword, e.message])]; },
  refs: () => {
    const v = ajv.compile({ $id: "tree", type: "object", properties: { value: { type: "number" }, children: { type: "array", items: { $ref: "tree" } } } });
    return [v({ value: 1, children: [{ value: 2, children: [] }] }), v({ value: 1, children: [{ value: "x" }] })];
  },
  conditional: () => { const v = ajv.compile({ if: { properties: { t: { const: "n" } } }, then: { required: ["n"] }, else: { required: ["s"] } }); return [v({ t: "n", n: 1 }), v({ t: "n" }), v({ s: 1 })]; },
  badSchema: () => ajv.compile({ type: "nope" }),
});
