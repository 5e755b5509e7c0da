import Papa from "papaparse";
import { checks } from "../lib/checks.mjs";

const csv = `name,age,city\n"Zoë, Å.",42,"São Paulo"\nBob,7,"line\nbreak"\n"quote ""me""",,日本\n`;

export default checks({
  parse: () => Papa.parse(csv, { header: true, skipEmptyLines: true }),
  dynamicTyping: () => Papa.parse("a;b;c\n1;2.5;true\n0x10;-0;null", { delimiter: ";", dynamicTyping: true }).data,
  guessDelimiter: () => Papa.parse("a\tb\n1\t2").meta.delimiter,
  unparse: () => Papa.unparse([{ a: 1, b: "x,y" }, { a: null, b: 'say "hi"' }, { a: "é", b: "\n" }]),
  errors: () => Papa.parse('a,b\n"unterminated,1\n', { header: true }).errors,
  transform: () => Papa.parse("A,B\n1,2", { header: true, transformHeader: (h) => h.toLowerCase(), transform: (v) => Number(v) * 10 }).data,
});
