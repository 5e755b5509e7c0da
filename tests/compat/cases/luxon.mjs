import { DateTime, Duration, Interval, Info } from "luxon";
import { checks } from "../lib/checks.mjs";

const base = DateTime.fromISO("2024-02-29T13:05:09.007Z", { zone: "utc" });

export default checks({
  iso: () => [base.toISO(), base.plus({ months: 1 }).toISODate(), base.startOf("week").toISO(), base.toMillis()],
  zones: () => [base.setZone("America/New_York").toISO(), base.setZone("Asia/Kathmandu").toFormat("yyyy-MM-dd HH:mm ZZ"), DateTime.fromISO("2024-03-10T02:30", { zone: "America/New_York" }).toISO()],
  format: () => [base.toFormat("cccc d LLLL yyyy, HH:mm"), base.setLocale("fr").toLocaleString(DateTime.DATE_FULL), base.toRFC2822()],
  durations: () => [Duration.fromObject({ hours: 26, minutes: 3 }).shiftTo("days", "hours", "minutes").toObject(), Duration.fromISO("P1Y2M3DT4H").as("days"), Duration.fromMillis(90061000).toFormat("d'd' hh:mm:ss")],
  intervals: () => { const i = Interval.fromDateTimes(base, base.plus({ days: 10 })); return [i.length("days"), i.splitBy({ days: 4 }).map((x) => x.toISODate())]; },
  relative: () => base.toRelative({ base: base.plus({ days: 3 }) }),
  info: () => [Info.months("short"), Info.weekdays("long", { locale: "de" })],
  invalid: () => { const d = DateTime.fromISO("2024-02-30"); return [d.isValid, d.invalidReason]; },
});
