// Intl.RelativeTimeFormat in English: every unit in the three styles, numeric "always" and
// "auto", fractions, negative zero, plural unit names, formatToParts, resolvedOptions and
// the errors. Compared with node 20 in worker/src/engine/intl/tests.rs.
export default () => {
  const out = [];
  for (const style of ["long", "short", "narrow"]) {
    for (const numeric of ["always", "auto"]) {
      const f = new Intl.RelativeTimeFormat("en", { style, numeric });
      for (const u of ["second", "minute", "hour", "day", "week", "month", "quarter", "year"]) {
        for (const v of [-2, -1, 0, 1, 2, 1.5, -0]) out.push(f.format(v, u));
      }
    }
  }
  const f = new Intl.RelativeTimeFormat("en-US");
  out.push(f.format(1234.5, "days"), f.format(-1, "years"), f.format("3", "hours"), f.format(1.23456, "minute"));
  out.push(JSON.stringify(f.formatToParts(-1234.5, "days")));
  out.push(JSON.stringify(new Intl.RelativeTimeFormat("en", { numeric: "auto" }).formatToParts(-1, "day")));
  out.push(JSON.stringify(new Intl.RelativeTimeFormat("en", { style: "narrow" }).resolvedOptions()));
  out.push(Intl.RelativeTimeFormat.length, Object.prototype.toString.call(f), f instanceof Intl.RelativeTimeFormat);
  for (const make of [() => f.format(1, "Day"), () => f.format(1, "decade"), () => f.format(NaN, "day"),
    () => new Intl.RelativeTimeFormat("en", { style: "tiny" }), () => Intl.RelativeTimeFormat("en"),
    () => Intl.RelativeTimeFormat.prototype.format.call({}, 1, "day")]) {
    try { make(); out.push("no error"); } catch (e) { out.push(`${e.name}: ${e.message}`); }
  }
  return out;
};
