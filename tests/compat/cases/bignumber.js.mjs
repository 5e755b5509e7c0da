import BigNumber from "bignumber.js";
import { checks } from "../lib/checks.mjs";

export default checks({
  arithmetic: () => [new BigNumber("0.1").plus("0.2").toString(), new BigNumber(1).div(3).toString(), new BigNumber(2).pow(200).toString(), new BigNumber("1e-20").times("3").toString(), new BigNumber(2).sqrt().toString()],
  bases: () => [new BigNumber(255).toString(16), new BigNumber("ff", 16).toString(), new BigNumber("0.1").toString(2), new BigNumber("zz", 36).toNumber()],
  format: () => [new BigNumber("1234567.891").toFormat(2), new BigNumber("-1234.5").toFormat({ groupSeparator: " ", decimalSeparator: ",", groupSize: 3 }), new BigNumber("1e25").toFixed(), new BigNumber("123.456").toPrecision(4)],
  config: () => { const B = BigNumber.clone({ DECIMAL_PLACES: 5, ROUNDING_MODE: BigNumber.ROUND_HALF_EVEN }); return [new B(2).div(3).toString(), new B("2.5").integerValue().toString()]; },
  special: () => [new BigNumber(NaN).toString(), new BigNumber(-Infinity).toString(), new BigNumber(-0).isNegative(), BigNumber.maximum(1, "5", -2).toString()],
  error: () => { BigNumber.config({ DEBUG: true }); try { return new BigNumber("abc").toString(); } finally { BigNumber.config({ DEBUG: false }); } },
});
