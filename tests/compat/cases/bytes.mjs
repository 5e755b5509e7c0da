import bytes from "bytes";
import { checks } from "../lib/checks.mjs";

export default checks({
  format: () => [bytes(1024), bytes(1000), bytes(1048576 * 1.5), bytes(1099511627776 * 3), bytes(0), bytes(-2048), bytes(1e21)],
  options: () => [bytes(1024, { unitSeparator: " " }), bytes(1000, { thousandsSeparator: "," , unit: "B" }), bytes(1536, { decimalPlaces: 0 }), bytes(1024, { fixedDecimals: true })],
  parse: () => ["1KB", "1.5mb", "  2 GB ", "1024", "1TB", "nope", "-1kb"].map((s) => bytes.parse(s)),
});
