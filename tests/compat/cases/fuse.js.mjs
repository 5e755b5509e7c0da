import Fuse from "fuse.js";
import { checks } from "../lib/checks.mjs";

const books = [
  { title: "Old Man's War", author: { name: "John Scalzi", tags: ["sci-fi"] } },
  { title: "The Lock Artist", author: { name: "Steve Hamilton", tags: ["thriller"] } },
  { title: "Café Society", author: { name: "Zoë Ångström", tags: ["drama"] } },
  { title: "日本語の本", author: { name: "山田太郎", tags: ["本"] } },
  { title: "The Martian", author: { name: "Andy Weir", tags: ["sci-fi", "space"] } },
];

export default checks({
  fuzzy: () => new Fuse(books, { keys: ["title", "author.name"], includeScore: true }).search("marian").map((r) => [r.item.title, Number(r.score.toFixed(6))]),
  extended: () => new Fuse(books, { keys: ["title"], useExtendedSearch: true }).search("^The !Martian").map((r) => r.item.title),
  matches: () => new Fuse(books, { keys: ["author.name"], includeMatches: true, threshold: 0.4 }).search("zoe").map((r) => [r.item.title, r.matches.map((m) => m.indices)]),
  unicode: () => new Fuse(books, { keys: ["title", "author.tags"] }).search("本").map((r) => r.item.title),
  logical: () => new Fuse(books, { keys: ["title", "author.tags"] }).search({ $and: [{ "author.tags": "sci" }, { title: "war" }] }).map((r) => r.item.title),
  ignoreDiacritics: () => new Fuse(books, { keys: ["author.name"], ignoreDiacritics: true }).search("Zoe Angstrom").map((r) => r.item.title),
});
