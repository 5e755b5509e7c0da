import { ulid, monotonicFactory, decodeTime, isValid, encodeTime } from "ulid";
import { checks } from "../lib/checks.mjs";

export default checks({
  ulid: () => { const id = ulid(Date.UTC(2024, 1, 29)); return [id.length, id.slice(0, 10), isValid(id)]; },
  seeded: () => ulid(1469918176385, () => 0.96),
  monotonic: () => { const next = monotonicFactory(() => 0.5); return [next(1469918176385), next(1469918176385), next(1469918176385)]; },
  decode: () => [decodeTime("01ARYZ6S41TSV4RRFFQ69G5FAV"), encodeTime(1469918176385, 10)],
  invalid: () => isValid("not a ulid"),
});
