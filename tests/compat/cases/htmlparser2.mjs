import { Parser, parseDocument, DomUtils } from "htmlparser2";
import { checks } from "../lib/checks.mjs";

const html = `<!DOCTYPE html><html><body><div id="main" class="a b"><p>Hello <b>wörld</b> &amp; &eacute; &#x1F389;</p><img src="x.png" alt=caf&eacute;><ul><li>1<li>2</ul><script>if (a < b) {}</script><!-- note --></div></body></html>`;

export default checks({
  events: () => {
    const events = [];
    const parser = new Parser({
      onopentag: (name, attrs) => events.push(["open", name, attrs]),
      ontext: (text) => events.push(["text", text]),
      onclosetag: (name, implied) => events.push(["close", name, implied]),
      oncomment: (c) => events.push(["comment", c]),
    }, { decodeEntities: true });
    parser.write(html);
    parser.end();
    return events;
  },
  dom: () => {
    const doc = parseDocument(html);
    const p = DomUtils.findOne((e) => e.name === "p", doc.children);
    return [DomUtils.textContent(p), DomUtils.getElementsByTagName("li", doc).length, DomUtils.getAttributeValue(DomUtils.getElementById("main", doc), "class")];
  },
  xml: () => {
    const doc = parseDocument(`<?xml version="1.0"?><feed><entry id="1"><Title>A &lt; B</Title></entry><entry id="2"/></feed>`, { xmlMode: true });
    return DomUtils.getElementsByTagName("entry", doc).map((e) => [e.attribs.id, DomUtils.textContent(e)]);
  },
});
