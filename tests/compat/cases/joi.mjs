import Joi from "joi";
import { checks } from "../lib/checks.mjs";

const schema = Joi.object({
  username: Joi.string().alphanum().min(3).max(30).required(),
  birth: Joi.number().integer().min(1900).max(2013),
  email: Joi.string().email({ tlds: false }),
  when: Joi.date().iso(),
  role: Joi.string().valid("admin", "user").default("user"),
  tags: Joi.array().items(Joi.string()).unique(),
}).with("username", "birth");

export default checks({
  valid: () => { const r = schema.validate({ username: "abc", birth: 1994, email: "a@b.co", when: "2024-02-29T10:00:00Z" }); return [r.error ?? null, { ...r.value, when: r.value.when.toISOString() }]; },
  invalid: () => schema.validate({ username: "a!", birth: 2020, email: "x", tags: ["a", "a"], extra: 1 }, { abortEarly: false }).error.details.map((d) => [d.path.join("."), d.type, d.message]),
  convert: () => Joi.number().validate("42").value,
  alternatives: () => Joi.alternatives().try(Joi.number(), Joi.string().isoDate()).validate(true).error.message,
  messages: () => Joi.string().min(2).messages({ "string.min": "{{#label}} is too short ({{#limit}})" }).validate("a").error.message,
  assert: () => Joi.assert(5, Joi.string()),
});
