import validator from "validator";
import { checks } from "../lib/checks.mjs";

export default checks({
  email: () => ["a@b.co", "zoë@exämple.com", "bad@", "x@localhost"].map((e) => validator.isEmail(e)),
  url: () => ["https://example.com/a?b=1", "ftp://x.y", "http://localhost:3000", "not a url", "https://例え.jp"].map((u) => validator.isURL(u)),
  ip: () => [validator.isIP("192.168.0.1"), validator.isIP("::1", 6), validator.isIP("256.0.0.1")],
  uuid: () => [validator.isUUID("123e4567-e89b-12d3-a456-426614174000"), validator.isUUID("x")],
  numbers: () => [validator.isInt("-12"), validator.isFloat("1.5e3"), validator.isDecimal("1,5", { locale: "de-DE" }), validator.isNumeric("١٢٣")],
  dates: () => [validator.isISO8601("2024-02-29T10:00:00Z"), validator.isISO8601("2023-02-29", { strict: true }), validator.isDate("2024/02/29")],
  strings: (p) => [validator.isAlpha("Zoë", "fr-FR"), validator.isAlpha(p.name.replace(" ", ""), "sv-SE"), validator.escape("<a href='x'>&</a>"), validator.normalizeEmail("Foo.Bar+tag@GMail.com"), validator.isSlug("a-b-c")],
  misc: () => [validator.isJSON('{"a":1}'), validator.isCreditCard("4111111111111111"), validator.isHexColor("#fff"), validator.isJWT("a.b.c"), validator.isMobilePhone("+33612345678", "fr-FR"), validator.isBase64("aGVsbG8=")],
});
