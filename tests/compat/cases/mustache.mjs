import Mustache from "mustache";
import { checks } from "../lib/checks.mjs";

export default checks({
  basic: (p) => Mustache.render("Hello {{name}}! {{#words}}[{{.}}]{{/words}} {{^missing}}none{{/missing}}", p),
  escaping: () => Mustache.render("{{html}} {{{html}}} {{&html}}", { html: `<b class="x">&'</b>` }),
  partials: () => Mustache.render("{{>item}}{{#list}}, {{>item}}{{/list}}", { name: "first", list: [{ name: "a" }, { name: "b" }] }, { item: "<{{name}}>" }),
  lambdas: () => Mustache.render("{{#bold}}Hi {{name}}{{/bold}}", { name: "Zoë", bold: () => (text, render) => `<b>${render(text)}</b>` }),
  delimiters: () => Mustache.render("{{=<% %>=}}<% a %> {{a}}", { a: 1 }),
  dotted: () => Mustache.render("{{a.b.c}} {{#a}}{{b.c}}{{/a}}", { a: { b: { c: "deep" } } }),
  parse: () => Mustache.parse("{{#a}}x{{/a}}").length,
  unclosed: () => Mustache.render("{{#a}}open", {}),
});
