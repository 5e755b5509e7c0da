import slugify from "slugify";
import { checks } from "../lib/checks.mjs";

export default checks({
  basic: (p) => [slugify(p.name), slugify("Hello World!  Ça va?"), slugify("some string", "_")],
  options: () => [slugify("Crème Brûlée & Co.", { lower: true, strict: true }), slugify("a*b+c~d", { remove: /[*+~]/g }), slugify("Ünïcödé", { locale: "de" }), slugify("  trim  me  ", { trim: false })],
  symbols: () => [slugify("I ♥ 100% €uro $"), slugify("日本語 🎉 ok")],
  extend: () => { slugify.extend({ "☢": "radioactive" }); return slugify("unicode ☢ char"); },
});
