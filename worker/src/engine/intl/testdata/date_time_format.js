export default () => {
  const at = new Date(Date.UTC(2024, 6, 4, 16, 5, 9));
  const numeric = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  const parts = (zone, time) => new Intl.DateTimeFormat("en-US", { ...numeric, timeZone: zone, timeZoneName: "short" }).formatToParts(time).map((p) => `${p.type}=${p.value}`).join("|");
  return {
    newYork: new Intl.DateTimeFormat("en-US", { ...numeric, timeZone: "America/New_York" }).format(at),
    kolkata: new Intl.DateTimeFormat("en-US", { ...numeric, timeZone: "Asia/Kolkata" }).format(at),
    newYorkParts: parts("America/New_York", at),
    newYorkWinter: parts("America/New_York", Date.UTC(2024, 0, 15, 5, 30)),
    kolkataParts: parts("Asia/Kolkata", at),
    hour12False: new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", hour12: false }).format(Date.UTC(2024, 0, 1, 5, 7)),
    twelveHour: new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Kolkata", hour: "numeric", minute: "2-digit", timeZoneName: "longOffset" }).format(at),
    era: new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", era: "short", year: "numeric", month: "2-digit", day: "2-digit" }).format(at),
    text: new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Kolkata", weekday: "long", year: "numeric", month: "long", day: "numeric" }).format(at),
    german: new Intl.DateTimeFormat("de-DE", { timeZone: "Asia/Kolkata", weekday: "long", year: "numeric", month: "long", day: "numeric" }).format(at),
    resolved: new Intl.DateTimeFormat("en-US", { timeZone: "america/new_york", hour: "numeric" }).resolvedOptions(),
  };
};
