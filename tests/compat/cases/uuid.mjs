import { v1, v3, v4, v5, v6, v7, validate, version, parse, stringify, NIL } from "uuid";
import { checks } from "../lib/checks.mjs";

const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export default checks({
  v5: () => [v5("hello", v5.DNS), v5("日本語", v5.URL)],
  v3: () => v3("hello", v3.DNS),
  v4: () => { const id = v4(); return [pattern.test(id), version(id)]; },
  v7: () => { const id = v7(); return [pattern.test(id), version(id)]; },
  v1: () => v1({ node: Uint8Array.of(1, 2, 3, 4, 5, 6), clockseq: 0x1234, msecs: Date.UTC(2024, 1, 29), nsecs: 5678 }),
  v6: () => v6({ node: Uint8Array.of(1, 2, 3, 4, 5, 6), clockseq: 0x1234, msecs: Date.UTC(2024, 1, 29), nsecs: 5678 }),
  validate: () => [validate(NIL), validate("not-a-uuid"), validate("6ba7b810-9dad-11d1-80b4-00c04fd430c8")],
  bytes: () => { const bytes = parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"); return [Array.from(bytes), stringify(bytes)]; },
  seeded: () => v4({ random: Uint8Array.from({ length: 16 }, (_, i) => i * 16) }),
});
