import ms from "ms";
import { checks } from "../lib/checks.mjs";

export default checks({
  parse: () => ["2 days", "1d", "10h", "2.5 hrs", "1m", "5s", "1y", "100", "-3h", "1.5w", "nope"].map((s) => ms(s) ?? null),
  format: () => [60000, 2 * 60000, -3 * 60000, ms("10 hours"), 1500, 365.25 * 864e5].map((n) => ms(n)),
  long: () => [ms(60000, { long: true }), ms(2 * 3600000, { long: true }), ms(1000, { long: true })],
  error: () => ms(""),
});
