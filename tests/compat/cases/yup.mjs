import * as yup from "yup";
import { checks } from "../lib/checks.mjs";

const schema = yup.object({
  name: yup.string().required().min(2),
  email: yup.string().email(),
  age: yup.number().integer().positive(),
  when: yup.date(),
  tags: yup.array().of(yup.string().trim()).default([]),
});

export default checks({
  valid: async (p) => { const v = await schema.validate({ name: p.name, email: "a@b.co", age: "42", when: "2024-02-29T00:00:00Z", tags: [" x "] }); return { ...v, when: v.when.toISOString() }; },
  invalid: async () => { try { await schema.validate({ name: "x", email: "bad", age: -1.5 }, { abortEarly: false }); return "passed"; } catch (e) { return [e.name, e.errors]; } },
  cast: () => schema.cast({ name: "n", age: "7", tags: ["  a "] }),
  isValidSync: () => [schema.isValidSync({ name: "ok" }), schema.isValidSync({})],
  conditional: async () => { const s = yup.object({ isBig: yup.boolean(), count: yup.number().when("isBig", { is: true, then: (x) => x.min(5) }) }); return [await s.isValid({ isBig: true, count: 3 }), await s.isValid({ isBig: false, count: 3 })]; },
  describe: () => schema.fields.name.describe().tests.map((t) => t.name),
});
