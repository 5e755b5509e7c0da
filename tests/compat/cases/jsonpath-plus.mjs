import { JSONPath } from "jsonpath-plus";
import { checks } from "../lib/checks.mjs";

const store = { store: { book: [
  { category: "reference", author: "Nigel Rees", title: "Sayings", price: 8.95 },
  { category: "fiction", author: "Zoë Ångström", title: "Café", price: 12.99, isbn: "0-553-21311-3" },
  { category: "fiction", author: "山田太郎", title: "日本語", price: 22.99, isbn: "0-395-19395-8" },
], bicycle: { color: "red", price: 19.95 } } };

export default checks({
  authors: () => JSONPath({ path: "$.store.book[*].author", json: store }),
  recursive: () => JSONPath({ path: "$..price", json: store }),
  filter: () => JSONPath({ path: "$..book[?(@.price < 15)].title", json: store }),
  slices: () => [JSONPath({ path: "$..book[-1:].title", json: store }), JSONPath({ path: "$..book[0,2].title", json: store }), JSONPath({ path: "$..book[?(@.isbn)].isbn", json: store })],
  paths: () => JSONPath({ path: "$..book[1].*", json: store, resultType: "path" }),
  wrap: () => JSONPath({ path: "$.store.bicycle.color", json: store, wrap: false }),
});
