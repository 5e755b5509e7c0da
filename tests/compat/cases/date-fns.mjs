import { addDays, addMonths, differenceInCalendarDays, eachDayOfInterval, endOfMonth, format, formatDistanceStrict, formatISO, getISOWeek, intervalToDuration, isValid, parse, parseISO, startOfWeek, subBusinessDays, formatDuration, isLeapYear, lightFormat } from "date-fns";
import { fr, ja } from "date-fns/locale";
import { checks } from "../lib/checks.mjs";

const day = new Date(Date.UTC(2024, 1, 29, 13, 5, 9, 7));

export default checks({
  format: () => [format(day, "yyyy-MM-dd'T'HH:mm:ss.SSS EEEE do 'of' MMMM, QQQ, wo"), format(day, "PPPPpppp"), lightFormat(day, "yyyy-MM-dd HH:mm")],
  locales: () => [format(day, "EEEE d MMMM yyyy", { locale: fr }), format(day, "PPPP", { locale: ja })],
  arithmetic: () => [addDays(day, 1).toISOString(), addMonths(day, 12).toISOString(), subBusinessDays(day, 3).toISOString(), endOfMonth(day).toISOString()],
  differences: () => [differenceInCalendarDays(new Date(Date.UTC(2025, 0, 1)), day), getISOWeek(day), isLeapYear(day), startOfWeek(day, { weekStartsOn: 1 }).toISOString()],
  parse: () => [parse("29/02/2024 13:05", "dd/MM/yyyy HH:mm", new Date(0)).toISOString(), parseISO("2024-02-29T13:05:09+05:30").toISOString(), isValid(parse("31/02/2024", "dd/MM/yyyy", new Date(0)))],
  interval: () => eachDayOfInterval({ start: day, end: addDays(day, 3) }).map((d) => formatISO(d, { representation: "date" })),
  durations: () => [formatDistanceStrict(day, addDays(day, 45)), formatDuration(intervalToDuration({ start: day, end: new Date(Date.UTC(2025, 5, 1)) })), formatDistanceStrict(day, addDays(day, 2), { locale: fr })],
  invalid: () => { try { return format(new Date(NaN), "yyyy"); } catch (error) { return error.name + ": " + error.message; } },
});
