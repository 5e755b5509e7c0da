import { create, all } from "mathjs";
import { checks } from "../lib/checks.mjs";

const math = create(all, { number: "number" });

export default checks({
  evaluate: () => [math.evaluate("sqrt(3^2 + 4^2)"), math.evaluate("12.7 cm to inch").toString(), math.evaluate("det([1, 2; 3, 4])")],
  matrix: () => math.multiply(math.matrix([[1, 2], [3, 4]]), math.matrix([[5], [6]])).toArray(),
  fraction: () => math.format(math.add(math.fraction(1, 3), math.fraction(1, 6))),
  bignumber: () => math.format(math.bignumber("0.1").plus(math.bignumber("0.2"))),
  complex: () => math.sqrt(-4).toString(),
  derivative: () => math.derivative("x^2 + 3x + sin(x)", "x").toString(),
  simplify: () => math.simplify("2x + 3x - x").toString(),
  stats: () => [math.mean([1, 2, 3, 4]), math.median([5, 1, 3]), math.std([2, 4, 4, 4, 5, 5, 7, 9])],
  format: () => [math.format(Math.PI, { precision: 5 }), math.format(1e21), math.format(0.000001234, { notation: "engineering" })],
  units: () => math.unit("5 km/h").to("m/s").toString(),
  error: () => math.evaluate("1 +"),
});
