import { formatInTimeZone, fromZonedTime, toZonedTime, getTimezoneOffset } from "date-fns-tz";
import { checks } from "../lib/checks.mjs";

const instant = new Date(Date.UTC(2024, 2, 10, 6, 30));

export default checks({
  formatInTimeZone: () => [formatInTimeZone(instant, "America/New_York", "yyyy-MM-dd HH:mm zzz XXX"), formatInTimeZone(instant, "Asia/Kolkata", "yyyy-MM-dd HH:mm XXX"), formatInTimeZone(instant, "Europe/Paris", "PPpp")],
  dstGap: () => [formatInTimeZone(new Date(Date.UTC(2024, 2, 10, 7, 30)), "America/New_York", "HH:mm XXX"), formatInTimeZone(new Date(Date.UTC(2024, 10, 3, 6, 30)), "America/New_York", "HH:mm XXX")],
  fromZoned: () => [fromZonedTime("2024-07-01 09:00", "Europe/Berlin").toISOString(), fromZonedTime(new Date(Date.UTC(2024, 0, 1, 9)), "Australia/Sydney").toISOString()],
  toZoned: () => toZonedTime(instant, "Asia/Tokyo").toISOString(),
  offsets: () => [getTimezoneOffset("America/Los_Angeles", instant), getTimezoneOffset("Asia/Kathmandu", instant), getTimezoneOffset("UTC", instant)],
});
