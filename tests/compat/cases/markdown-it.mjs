import MarkdownIt from "markdown-it";
import { checks } from "../lib/checks.mjs";

const md = new MarkdownIt({ html: false, linkify: true, typographer: true });

export default checks({
  render: () => md.render("# Héllo\n\n\"Quotes\" -- and (c) ... www.example.com\n\n* a\n* b\n\n```\n<code>\n```\n\n| x | y |\n|---|---|\n| 1 | 2 |"),
  htmlEscaped: () => md.render("<script>alert(1)</script> & <b>"),
  inline: (p) => md.renderInline(`**${p.name}** ${p.words.join(" · ")}`),
  tokens: () => md.parse("# a\n\nb", {}).map((t) => t.type),
  linkify: () => md.linkify.match("see https://example.com/ä?x=1 and mail@example.org").map((m) => [m.schema, m.url]),
  normalize: () => md.render("[link](javascript:alert(1)) [ok](HTTPS://EXAMPLE.com/%E2%82%AC)"),
  emphasis: () => md.render("*a **b** c* ***d*** _e_f_"),
});
