import dayjs from "dayjs";
import utc from "dayjs/plugin/utc.js";
import timezone from "dayjs/plugin/timezone.js";
import relativeTime from "dayjs/plugin/relativeTime.js";
import customParseFormat from "dayjs/plugin/customParseFormat.js";
import duration from "dayjs/plugin/duration.js";
import isoWeek from "dayjs/plugin/isoWeek.js";
import "dayjs/locale/de.js";
import { checks } from "../lib/checks.mjs";

dayjs.extend(utc);
dayjs.extend(timezone);
dayjs.extend(relativeTime);
dayjs.extend(customParseFormat);
dayjs.extend(duration);
dayjs.extend(isoWeek);

const base = dayjs.utc("2024-02-29T13:05:09.007Z");

export default checks({
  format: () => [base.format("YYYY-MM-DD HH:mm:ss.SSS dddd MMMM [week] W"), base.locale("de").format("dddd, D. MMMM YYYY"), base.add(1, "year").toISOString()],
  manipulate: () => [base.startOf("month").toISOString(), base.endOf("week").toISOString(), base.subtract(3, "day").isoWeekday(), base.diff(dayjs.utc("2024-01-01"), "day", true)],
  parse: () => [dayjs.utc("29-02-2024 13:05", "DD-MM-YYYY HH:mm").toISOString(), dayjs("2024-13-45", "YYYY-MM-DD", true).isValid()],
  relative: () => [base.from(base.add(3, "hour")), base.to(base.add(2, "month")), dayjs.duration(90061, "seconds").format("D[d] HH:mm:ss")],
  timezone: () => [base.tz("America/New_York").format("YYYY-MM-DD HH:mm Z"), dayjs.tz("2024-07-01 09:00", "Europe/Berlin").toISOString(), base.tz("Asia/Kolkata").utcOffset()],
});
