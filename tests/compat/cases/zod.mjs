import { z } from "zod";
import { checks } from "../lib/checks.mjs";

const User = z.object({
  name: z.string().min(2).max(40),
  email: z.email(),
  age: z.number().int().nonnegative().optional(),
  tags: z.array(z.string()).default([]),
  role: z.enum(["admin", "user"]),
  joined: z.coerce.date(),
});

export default checks({
  valid: (p) => { const u = User.parse({ name: p.name, email: "zoe@example.com", role: "user", joined: "2024-02-29T00:00:00Z" }); return { ...u, joined: u.joined.toISOString() }; },
  invalid: () => { const r = User.safeParse({ name: "x", email: "nope", age: -1.5, role: "root", joined: "not a date" }); return r.error.issues.map((i) => [i.path.join("."), i.code, i.message]); },
  pretty: () => z.prettifyError(User.safeParse({ name: 1 }).error),
  transform: () => z.string().trim().toLowerCase().transform((s) => s.split(",")).parse("  A,B,C "),
  union: () => [z.union([z.string(), z.number()]).safeParse(true).success, z.discriminatedUnion("k", [z.object({ k: z.literal("a"), a: z.string() }), z.object({ k: z.literal("b"), b: z.number() })]).parse({ k: "b", b: 2 })],
  refine: () => z.object({ a: z.string(), b: z.string() }).refine((v) => v.a === v.b, { message: "must match", path: ["b"] }).safeParse({ a: "x", b: "y" }).error.issues,
  regex: () => [z.uuid().safeParse("123e4567-e89b-12d3-a456-426614174000").success, z.url().safeParse("https://例え.jp/path").success, z.ipv4().safeParse("256.1.1.1").success, z.iso.datetime().safeParse("2024-02-29T10:00:00Z").success],
  jsonSchema: () => z.toJSONSchema(User.omit({ joined: true })),
});
