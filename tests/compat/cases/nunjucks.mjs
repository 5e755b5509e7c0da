import nunjucks from "nunjucks";
import { checks } from "../lib/checks.mjs";

const env = new nunjucks.Environment(null, { autoescape: true });
env.addFilter("shout", (s) => s.toUpperCase() + "!");

export default checks({
  basic: (p) => env.renderString("Hi {{ name }} {% for w in words %}[{{ w | upper }}]{% endfor %}", p),
  escape: () => env.renderString("{{ h }} {{ h | safe }}", { h: "<i>&</i>" }),
  filters: () => env.renderString("{{ items | join(', ') }} {{ n | round(1) }} {{ 'a b' | title }} {{ s | shout }} {{ xs | sort | first }}", { items: [1, 2], n: 3.14159, s: "hey", xs: [3, 1, 2] }),
  macros: () => env.renderString("{% macro tag(name, v='x') %}<{{name}}>{{v}}{% endmacro %}{{ tag('b') }}{{ tag('i', v='y') }}", {}),
  control: () => env.renderString("{% set total = 0 %}{% for i in range(0, 5) %}{% if i is odd %}{{ i }}{% endif %}{% endfor %}{{ 'yes' if x else 'no' }}", { x: 1 }),
  error: () => env.renderString("{% if %}", {}),
});
