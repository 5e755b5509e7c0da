import { XMLParser, XMLBuilder, XMLValidator } from "fast-xml-parser";
import { checks } from "../lib/checks.mjs";

const xml = `<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:x="urn:x">
  <book id="bk101" available="true"><author>Gambardella, Matthew</author><title>XML &amp; Développeur's Guide</title><price>44.95</price><x:tag>a</x:tag></book>
  <book id="bk102"><author>日本 太郎</author><title><![CDATA[<Midnight> Rain]]></title><price>5</price></book>
</catalog>`;

export default checks({
  parse: () => new XMLParser().parse(xml),
  attributes: () => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", parseAttributeValue: true, removeNSPrefix: true }).parse(xml),
  preserveOrder: () => new XMLParser({ preserveOrder: true, ignoreAttributes: false }).parse("<a x='1'><b>1</b><c/><b>2</b></a>"),
  build: () => new XMLBuilder({ ignoreAttributes: false, format: true }).build({ root: { "@_lang": "fr", item: [{ name: "café & thé", qty: 2 }, { name: "<b>", qty: 0 }] } }),
  validate: () => [XMLValidator.validate(xml), XMLValidator.validate("<a><b></a>")],
  entities: () => new XMLParser({ processEntities: true, htmlEntities: true }).parse("<p>&lt;&gt;&amp;&quot;&apos; &copy; &#169; &#x263A;</p>"),
});
