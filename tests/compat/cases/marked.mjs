import { marked, Marked } from "marked";
import { checks } from "../lib/checks.mjs";

const doc = `# Title with *emphasis*

Some **bold**, \`code\`, [a link](https://example.com "t") and <span>html</span>.

- one
- two
  - nested

1. first
2. second

| a | b |
|---|:-:|
| 1 | 日本語 |

\`\`\`js
const x = 1 < 2;
\`\`\`

> quote
`;

export default checks({
  parse: () => marked.parse(doc),
  inline: () => marked.parseInline("**Zoë** _naïve_ ~~gone~~ <b>&amp;</b> & 🎉"),
  lexer: () => marked.lexer("# h\n\ntext").map((t) => [t.type, t.raw]),
  gfmOff: () => new Marked({ gfm: false }).parse("| a |\n|---|\n| 1 |\n\nwww.example.com"),
  renderer: () => new Marked({ renderer: { heading({ tokens, depth }) { return `<h${depth} class="x">${this.parser.parseInline(tokens)}</h${depth}>\n`; } } }).parse("## hi *there*"),
  breaks: () => marked.parse("line one\nline two", { breaks: true }),
});
