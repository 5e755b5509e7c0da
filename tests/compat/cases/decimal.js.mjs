import Decimal from "decimal.js";
import { checks } from "../lib/checks.mjs";

export default checks({
  arithmetic: () => [new Decimal("0.1").plus("0.2").toString(), new Decimal(1).div(3).toString(), new Decimal("1e-7").times("3").toString(), new Decimal(2).pow(0.5).toFixed(30)],
  precision: () => { const D = Decimal.clone({ precision: 50, rounding: Decimal.ROUND_HALF_EVEN }); return [D.sqrt(2).toString(), new D("2.5").toDecimalPlaces(0).toString(), D.exp(1).toString(), D.ln(10).toSignificantDigits(20).toString()]; },
  formats: () => [new Decimal("123456.789").toExponential(2), new Decimal("-0").toString(), new Decimal("255").toHexadecimal(), new Decimal("1e+30").toFixed(), new Decimal("12.5").toFraction().map(String)],
  compare: () => [new Decimal("1.10").equals("1.1"), Decimal.max("1", "-5", "3.3").toString(), new Decimal(NaN).isNaN(), Decimal.sum(1, 2, 3).toString()],
  trig: () => [Decimal.sin(1).toSignificantDigits(15).toString(), Decimal.atan2(1, 1).toSignificantDigits(15).toString()],
  error: () => new Decimal("12abc"),
});
