import he from "he";
import { checks } from "../lib/checks.mjs";

export default checks({
  encode: (p) => [he.encode(p.name), he.encode("foo © bar ≠ baz 𝌆 qux 🎉"), he.encode("<a>&", { useNamedReferences: true }), he.encode("é", { decimal: true })],
  decode: () => [he.decode("foo &copy; bar &ne; baz &#x1D306; qux &amp;amp; &notin &unknown;"), he.decode("&lt;&#60;&#x3c;&LT"), he.decode("&#0;&#x110000;")],
  escape: () => he.escape(`<img src='yo'>"&`),
  strict: () => he.decode("&#xZ;", { strict: true }),
});
