// Compares what node and `jobvisor run` returned for each case, prints the table and the
// pass rate, and checks the outcome against known-failures.txt: a failure not listed
// there, or a listed case that passes, fails the suite (exit 1) so the list stays true.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [out, knownFile, ...cases] = process.argv.slice(2);
const casesDir = fileURLToPath(new URL("../cases/", import.meta.url));

function read(file) {
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

function firstLine(text) {
  return text.trim().split("\n").find((line) => line.trim() !== "")?.trim() ?? "";
}

function short(value) {
  const text = value === undefined ? "(absent)" : JSON.stringify(value);
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

// library | one-line reproduction | cause
function loadKnown(file) {
  const known = new Map();
  read(file).split("\n").forEach((line, index) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const fields = line.split(" | ");
    if (fields.length !== 3 || fields.some((f) => f.trim() === "")) {
      throw new Error(`${file}:${index + 1}: expected "library | reproduction | cause", got: ${line}`);
    }
    known.set(fields[0].trim(), { reproduction: fields[1].trim(), cause: fields[2].trim() });
  });
  return known;
}

// Where the two results part: the checks (top-level keys) whose values differ.
function difference(node, jobvisor) {
  if (node === null || jobvisor === null || typeof node !== "object" || typeof jobvisor !== "object") {
    return `result ${short(jobvisor)}, node ${short(node)}`;
  }
  const keys = [...new Set([...Object.keys(node), ...Object.keys(jobvisor)])];
  const differing = keys.filter((k) => JSON.stringify(node[k]) !== JSON.stringify(jobvisor[k]));
  if (differing.length === 0) return "same values, different key order";
  const [first] = differing;
  const more = differing.length > 1 ? ` (and ${differing.slice(1).join(", ")})` : "";
  return `${first}: ${short(jobvisor[first])}, node ${short(node[first])}${more}`;
}

function judge(name) {
  const bundleError = firstLine(read(join(out, `${name}.bundle.err`)));
  if (!existsSync(join(out, `${name}.js`))) return { pass: false, reason: `bundle: ${bundleError}` };
  const nodeText = read(join(out, `${name}.node.json`));
  if (nodeText.trim() === "") {
    const err = read(join(out, `${name}.node.err`)).trim().split("\n");
    return { pass: false, reason: `node failed: ${err.find((l) => /Error/.test(l)) ?? err.at(-1)}` };
  }
  const jobvisorText = read(join(out, `${name}.jobvisor.json`));
  let report;
  try {
    report = JSON.parse(jobvisorText);
  } catch {
    return { pass: false, reason: `jobvisor printed no report: ${firstLine(read(join(out, `${name}.jobvisor.err`)))}` };
  }
  if (report.outcome !== "completed") {
    const error = report.error ?? {};
    return { pass: false, reason: `${report.outcome}: ${error.name}: ${firstLine(error.message ?? "")}` };
  }
  const node = JSON.parse(nodeText);
  if (JSON.stringify(node) === JSON.stringify(report.result)) return { pass: true, reason: "" };
  return { pass: false, reason: difference(node, report.result) };
}

let known;
try {
  known = loadKnown(knownFile);
} catch (error) {
  console.error(`compat: ${error.message}`);
  process.exit(2);
}
for (const name of known.keys()) {
  if (!existsSync(join(casesDir, `${name}.mjs`))) {
    console.error(`compat: ${knownFile} lists ${name}, which has no case in cases/`);
    process.exit(2);
  }
}

const rows = cases.map((name) => ({ name, ...judge(name), known: known.has(name) }));
const width = Math.max(...rows.map((r) => r.name.length), "library".length);
console.log(`${"library".padEnd(width)}  node == jobvisor  reason`);
for (const row of rows) {
  const verdict = row.pass ? (row.known ? "yes (UNEXPECTED)" : "yes") : row.known ? "no (known)" : "no (UNEXPECTED)";
  console.log(`${row.name.padEnd(width)}  ${verdict.padEnd(16)}  ${row.reason}`);
}

const passes = rows.filter((r) => r.pass).length;
const unexpectedFailures = rows.filter((r) => !r.pass && !r.known);
const unexpectedPasses = rows.filter((r) => r.pass && r.known);
const rate = rows.length === 0 ? 0 : (100 * passes) / rows.length;
console.log(`pass rate: ${passes}/${rows.length} cases (${rate.toFixed(1)}%); known failures: ${rows.length - passes - unexpectedFailures.length}; unexpected: ${unexpectedFailures.length + unexpectedPasses.length}`);
for (const row of unexpectedFailures) {
  console.log(`compat: ${row.name} fails and is not in ${knownFile}: ${row.reason}`);
}
for (const row of unexpectedPasses) {
  console.log(`compat: ${row.name} passes but ${knownFile} lists it as failing: remove its line`);
}
process.exit(unexpectedFailures.length + unexpectedPasses.length === 0 ? 0 : 1);
