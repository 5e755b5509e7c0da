import { diffChars, diffWords, diffLines, createPatch, applyPatch, structuredPatch, diffJson, diffArrays } from "diff";
import { checks } from "../lib/checks.mjs";

const before = "line one\nline two\nline three\ncafé\n";
const after = "line one\nline 2\nline three\ncafé au lait\nnew line\n";

export default checks({
  chars: () => diffChars("naïve café", "naive cafe 🎉").map((c) => [c.added ?? false, c.removed ?? false, c.value]),
  words: () => diffWords("the quick brown fox", "the slow brown dog").map((c) => [c.added, c.removed, c.value]),
  lines: () => diffLines(before, after).map((c) => [c.added, c.removed, c.count]),
  patch: () => createPatch("file.txt", before, after, "old", "new"),
  apply: () => applyPatch(before, createPatch("f", before, after)) === after,
  structured: () => structuredPatch("a", "b", before, after).hunks,
  json: () => diffJson({ a: 1, b: [1, 2] }, { a: 2, b: [1, 2], c: "x" }).map((c) => [c.added, c.removed, c.value]),
  arrays: () => diffArrays([1, 2, 3], [1, 3, 4]).map((c) => [c.added, c.removed, c.value]),
});
