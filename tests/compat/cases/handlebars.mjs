import Handlebars from "handlebars";
import { checks } from "../lib/checks.mjs";

const hb = Handlebars.create();
hb.registerHelper("upper", (s) => String(s).toUpperCase());
hb.registerHelper("eq", (a, b) => a === b);
hb.registerPartial("row", "<li>{{@index}}: {{name}}</li>");

export default checks({
  basic: (p) => hb.compile("Hi {{name}}, {{upper name}}! {{#each words}}[{{this}}]{{/each}}")(p),
  escaping: () => hb.compile("{{html}} {{{html}}}")({ html: `<a href="x">'&'=</a>` }),
  blocks: () => hb.compile("{{#if ok}}yes{{else}}no{{/if}} {{#unless ok}}u{{/unless}} {{#with o}}{{a}}{{/with}} {{#if (eq n 3)}}three{{/if}}")({ ok: false, o: { a: 1 }, n: 3 }),
  partials: () => hb.compile("<ul>{{#each items}}{{> row}}{{/each}}</ul>")({ items: [{ name: "a" }, { name: "b" }] }),
  each: () => hb.compile("{{#each o}}{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}}")({ o: { x: 1, y: 2, z: 3 } }),
  safeString: () => { hb.registerHelper("link", (t) => new hb.SafeString(`<a>${hb.escapeExpression(t)}</a>`)); return hb.compile("{{link t}}")({ t: "<&>" }); },
  precompile: () => hb.precompile("{{a}}").length > 100,
  syntaxError: () => hb.compile("{{#if}}")({}),
});
