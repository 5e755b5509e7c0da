import jmespath from "jmespath";
import { checks } from "../lib/checks.mjs";

const data = { people: [{ name: "Zoë", age: 42, tags: ["a"] }, { name: "Bob", age: 7, tags: [] }, { name: "日本", age: 30, tags: ["b", "c"] }], meta: { "key-with-dash": 1 } };

export default checks({
  project: () => jmespath.search(data, "people[*].name"),
  filter: () => jmespath.search(data, "people[?age > `20`].{n: name, t: length(tags)}"),
  functions: () => [jmespath.search(data, "sort_by(people, &age)[*].name"), jmespath.search(data, "max_by(people, &age).name"), jmespath.search(data, "join(', ', people[].name)"), jmespath.search(data, "sum(people[].age)")],
  pipes: () => jmespath.search(data, "people[].tags[] | [0]"),
  quoted: () => jmespath.search(data, 'meta."key-with-dash"'),
  error: () => jmespath.search(data, "people[?"),
});
