import pluralize from "pluralize";
import { checks } from "../lib/checks.mjs";

export default checks({
  plural: () => ["person", "child", "octopus", "sheep", "matrix", "analysis", "quiz", "Index", "CAT"].map((w) => pluralize(w)),
  singular: () => ["people", "mice", "statuses", "criteria", "wolves", "Boxes"].map((w) => pluralize.singular(w)),
  counts: () => [pluralize("test", 1, true), pluralize("test", 5, true), pluralize("test", 0)],
  rules: () => { pluralize.addIrregularRule("café", "cafés-x"); pluralize.addUncountableRule("paper"); return [pluralize("café"), pluralize("paper"), pluralize.isPlural("geese"), pluralize.isSingular("goose")]; },
});
