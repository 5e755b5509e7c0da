// jobvisor: node_compat
import { parse } from "csv-parse/sync";
import { checks } from "../lib/checks.mjs";

export default checks({
  columns: () => parse(`id,name,note\n1,"Zoë",\"multi\nline\"\n2,Bob,"comma, inside"\n`, { columns: true, skip_empty_lines: true }),
  cast: () => parse("1,2.5,2024-02-29T00:00:00Z,x", { cast: true, cast_date: true }).map((row) => row.map((v) => (v instanceof Date ? v.toISOString() : v))),
  delimiter: () => parse("a|b|c\n# comment\nd|e|f", { delimiter: "|", comment: "#" }),
  trim: () => parse("  a , b  \n c,d", { trim: true }),
  relax: () => parse('a,b\n1,2,3\n4', { relax_column_count: true }),
  bom: () => parse("\ufeffh1,h2\nv1,v2", { bom: true, columns: true }),
  error: () => parse('a,"b\n1,2'),
});
