import { decode, encode, decodeHTML, decodeXML, encodeXML, escapeUTF8, encodeNonAsciiHTML, DecodingMode } from "entities";
import { checks } from "../lib/checks.mjs";

export default checks({
  decode: () => [decode("&amp;&lt;&gt;&quot;&apos;&eacute;&#x1F389;&#233;&NotNestedGreaterGreater;"), decodeHTML("&amp &copy2024 &notit;"), decodeXML("&amp;&eacute;")],
  encode: (p) => [encode(`<a href="x">${p.name} 🎉</a>`), encodeXML("'\"<>&é"), escapeUTF8("<é>"), encodeNonAsciiHTML("naïve 日本 🎉")],
  modes: () => [decodeHTML("&amp=x", DecodingMode.Attribute), decodeHTML("&ampx", DecodingMode.Strict)],
  numeric: () => decode("&#0; &#xD800; &#128; &#x10FFFF;"),
});
