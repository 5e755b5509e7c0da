import Big from "big.js";
import { checks } from "../lib/checks.mjs";

export default checks({
  arithmetic: () => [new Big("0.1").plus("0.2").toString(), new Big(1).div(3).toString(), new Big("123.456").times("-2.5").toString(), new Big(2).pow(100).toString(), new Big(2).sqrt().toString()],
  rounding: () => [new Big("2.5").round().toString(), new Big("-2.5").round(0, Big.roundHalfEven).toString(), new Big("1.005").toFixed(2), new Big("0.000001").toPrecision(2), new Big("1e21").toFixed()],
  compare: () => [new Big("1.0").eq(1), new Big(3).gt("2.99"), new Big("-0").cmp(0), new Big(7).mod(3).toString()],
  strings: () => [new Big("1e-7").toString(), new Big("1e21").toString(), new Big("12345.6789").toExponential(3), new Big(-0).toJSON()],
  error: () => new Big("not a number"),
  divZero: () => new Big(1).div(0),
});
