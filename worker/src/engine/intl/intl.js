// jobvisor's `Intl.DateTimeFormat`, `Intl.supportedValuesOf`, percent and currency
// formatting and the `toLocale*String` methods of dates and numbers, in front of the
// engine's (see mod.rs).
//
// English (`en`, `en-US`, ...) dates are formatted here as node 20 formats them: numeric
// and 2-digit fields, English month and weekday names, eras, hour cycles (with node's
// `hour12: false` giving `h24`), fractional seconds and time-zone names, with
// `formatToParts`. Other locales, `dateStyle` / `timeStyle` and the few combinations not
// written out below go to the engine's formatter. Time zones come from the worker's
// bundled IANA database (`native.zone`, `native.offset`): no file is read.
//
// The file evaluates to a function of the native helpers and of the object that receives
// what it builds (not `Intl` itself: see mod.rs).
(function (native, target) {
  "use strict";

  const EngineDateTimeFormat = native.DateTimeFormat;
  const EngineNumberFormat = native.NumberFormat;
  const engineNumberToLocaleString = native.numberToLocaleString;
  const slots = new WeakMap();
  const DateUTC = Date.UTC;
  const utc = (name) => Function.prototype.call.bind(Date.prototype[`getUTC${name}`]);
  const fields = {
    year: utc("FullYear"), month: utc("Month"), day: utc("Date"), weekday: utc("Day"),
    hour: utc("Hours"), minute: utc("Minutes"), second: utc("Seconds"), ms: utc("Milliseconds"),
  };
  const dateValue = Function.prototype.call.bind(Date.prototype.getTime);

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const ERAS = { long: ["Before Christ", "Anno Domini"], short: ["BC", "AD"], narrow: ["B", "A"] };
  // CLDR's English names of the zones of the United States; every other zone is named by
  // its offset, as `en-US` does for zones it has no common abbreviation of.
  const US_ZONE_NAMES = {
    EST: "Eastern Standard Time", EDT: "Eastern Daylight Time",
    CST: "Central Standard Time", CDT: "Central Daylight Time",
    MST: "Mountain Standard Time", MDT: "Mountain Daylight Time",
    PST: "Pacific Standard Time", PDT: "Pacific Daylight Time",
    AKST: "Alaska Standard Time", AKDT: "Alaska Daylight Time",
    HST: "Hawaii-Aleutian Standard Time", HDT: "Hawaii-Aleutian Daylight Time",
  };
  const UTC_NAMES = new Set(["UTC", "ETC/UTC", "ETC/UCT", "UCT", "ETC/UNIVERSAL", "UNIVERSAL",
    "ETC/ZULU", "ZULU", "GMT", "ETC/GMT", "GMT0", "ETC/GMT0", "GMT+0", "GMT-0", "ETC/GMT+0",
    "ETC/GMT-0", "GREENWICH", "ETC/GREENWICH"]);

  const COMPONENTS = [
    ["weekday", ["narrow", "short", "long"]],
    ["era", ["narrow", "short", "long"]],
    ["year", ["2-digit", "numeric"]],
    ["month", ["2-digit", "numeric", "narrow", "short", "long"]],
    ["day", ["2-digit", "numeric"]],
    ["dayPeriod", ["narrow", "short", "long"]],
    ["hour", ["2-digit", "numeric"]],
    ["minute", ["2-digit", "numeric"]],
    ["second", ["2-digit", "numeric"]],
    ["fractionalSecondDigits", null],
    ["timeZoneName", ["short", "long", "shortOffset", "longOffset", "shortGeneric", "longGeneric"]],
  ];
  const STYLES = ["full", "long", "medium", "short"];

  const option = (options, name, values) => {
    const value = options[name];
    if (value === undefined) return undefined;
    const text = String(value);
    if (values !== null && !values.includes(text)) {
      throw new RangeError(`Value ${text} out of range for Intl.DateTimeFormat options property ${name}`);
    }
    return text;
  };

  // A time zone's name as node reports it, or a RangeError naming what was given.
  const resolveZone = (given) => {
    const text = String(given);
    if (UTC_NAMES.has(text.toUpperCase())) return "UTC";
    const name = native.zone(text);
    if (name === undefined) throw new RangeError(`Invalid time zone specified: ${text}`);
    return name;
  };

  const offsetName = (seconds, long) => {
    if (seconds === 0) return "GMT";
    const sign = seconds < 0 ? "-" : "+";
    const minutes = Math.round(Math.abs(seconds) / 60);
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (long) return `GMT${sign}${String(hours).padStart(2, "0")}:${String(rest).padStart(2, "0")}`;
    return rest === 0 ? `GMT${sign}${hours}` : `GMT${sign}${hours}:${String(rest).padStart(2, "0")}`;
  };

  const zoneName = (style, zone, offset, abbreviation) => {
    if (style === "shortOffset") return offsetName(offset, false);
    if (style === "longOffset") return offset === 0 ? "GMT" : offsetName(offset, true);
    if (zone === "UTC") return style === "long" || style === "longGeneric" ? "Coordinated Universal Time" : "UTC";
    const american = Object.hasOwn(US_ZONE_NAMES, abbreviation);
    if (style === "long") return american ? US_ZONE_NAMES[abbreviation] : offsetName(offset, true);
    return american ? abbreviation : offsetName(offset, false);
  };

  const pad2 = (n) => String(n).padStart(2, "0");

  // Whether the English formatter below writes this combination out (node's output for
  // each was checked); the rest goes to the engine.
  const writtenOut = (f) => {
    const given = (name) => f[name] !== undefined;
    // Styles, day periods and narrow months: the engine's patterns.
    if (given("dateStyle") || given("timeStyle") || given("dayPeriod") || f.month === "narrow") return false;
    const textMonth = f.month === "long" || f.month === "short";
    // An era follows a numeric year only.
    if (given("era") && (!given("year") || textMonth)) return false;
    // A weekday, a month's name and a year without the day; a day and a year without the month.
    if (textMonth && given("weekday") && given("year") && !given("day")) return false;
    if (given("day") && given("year") && !given("month")) return false;
    if (given("hour")) {
      // Seconds follow minutes.
      if (given("second") && !given("minute")) return false;
    } else if (given("minute") || given("second")) {
      // A minute or a second is written out alone only.
      if ((given("minute") && given("second")) || hasDate(f) || given("weekday")) return false;
    }
    if (given("fractionalSecondDigits") && !given("second")) return false;
    // A weekday with a time of hours and minutes, without a date.
    if (given("weekday") && !hasDate(f) && given("minute")) return false;
    return true;
  };
  const hasDate = (f) => f.year !== undefined || f.month !== undefined || f.day !== undefined;

  // The parts of `time` in the written-out English formats, as node 20 gives them.
  const englishParts = (f, time) => {
    const info = native.offset(f.timeZone, time);
    const offset = info[0];
    const local = new Date(time + offset * 1000);
    const year = fields.year(local);
    const month = fields.month(local);
    const day = fields.day(local);
    const out = [];
    const push = (type, value) => out.push({ type, value: String(value) });
    const literal = (value) => push("literal", value);
    const textMonth = f.month === "long" || f.month === "short";
    const monthName = textMonth ? (f.month === "long" ? MONTHS[month] : MONTHS[month].slice(0, 3)) : undefined;
    const weekdayName = (() => {
      if (f.weekday === undefined) return undefined;
      const name = WEEKDAYS[fields.weekday(local)];
      return f.weekday === "long" ? name : f.weekday === "short" ? name.slice(0, 3) : name[0];
    })();
    const yearText = f.year === "2-digit" ? pad2(((year % 100) + 100) % 100) : String(year <= 0 ? 1 - year : year);
    const eraText = f.era === undefined ? undefined : ERAS[f.era][year <= 0 ? 0 : 1];

    // The date.
    if (weekdayName !== undefined) {
      push("weekday", weekdayName);
      if (hasDate(f)) literal(", ");
    }
    if (textMonth) {
      push("month", monthName);
      if (f.day !== undefined) {
        literal(" ");
        push("day", f.day === "2-digit" ? pad2(day) : day);
      }
      if (f.year !== undefined) {
        literal(f.day !== undefined ? ", " : " ");
        push("year", yearText);
      }
    } else if (hasDate(f)) {
      const numeric = [];
      if (f.month !== undefined) numeric.push(["month", f.month === "2-digit" ? pad2(month + 1) : month + 1]);
      if (f.day !== undefined) numeric.push(["day", f.day === "2-digit" ? pad2(day) : day]);
      if (f.year !== undefined) numeric.push(["year", yearText]);
      numeric.forEach(([type, value], index) => {
        if (index > 0) literal("/");
        push(type, value);
      });
      if (eraText !== undefined) {
        literal(" ");
        push("era", eraText);
      }
    }

    // The time.
    const hasTime = f.hour !== undefined || f.minute !== undefined || f.second !== undefined;
    if (hasTime) {
      if (out.length > 0) literal(f.weekday !== undefined && !hasDate(f) ? " " : f.month === "long" ? " at " : ", ");
      const hours = fields.hour(local);
      if (f.hour === undefined) {
        // A minute or a second alone.
        push(f.minute !== undefined ? "minute" : "second", f.minute !== undefined ? fields.minute(local) : fields.second(local));
      } else {
        const cycle = f.hourCycle;
        let shown;
        if (cycle === "h11") shown = hours % 12;
        else if (cycle === "h12") shown = hours % 12 === 0 ? 12 : hours % 12;
        else if (cycle === "h24") shown = hours === 0 ? 24 : hours;
        else shown = hours;
        const twelve = cycle === "h11" || cycle === "h12";
        push("hour", !twelve || f.hour === "2-digit" ? pad2(shown) : shown);
        if (f.minute !== undefined) {
          literal(":");
          push("minute", pad2(fields.minute(local)));
          if (f.second !== undefined) {
            literal(":");
            push("second", pad2(fields.second(local)));
            if (f.fractionalSecondDigits !== undefined) {
              literal(".");
              push("fractionalSecond", String(fields.ms(local)).padStart(3, "0").slice(0, f.fractionalSecondDigits));
            }
          }
        }
        if (twelve) {
          literal(" ");
          push("dayPeriod", hours < 12 ? "AM" : "PM");
        }
      }
    }
    if (f.timeZoneName !== undefined) {
      literal(hasTime ? " " : ", ");
      push("timeZoneName", zoneName(f.timeZoneName, f.timeZone, offset, info[1]));
    }
    return out;
  };

  // The engine's text for the other formats, with node's plain spaces (the engine's data
  // puts a narrow no-break space before AM/PM and in ranges, which V8 does not print).
  const engineText = (slot, time) => String(slot.engine.format(time)).replace(/\u202f/g, " ");

  const enginePartsOf = (slot, time) => {
    const value = engineText(slot, time);
    const requested = COMPONENTS.map(([name]) => name).filter((name) => slot.format[name] !== undefined);
    const type = requested.length === 1 ? (requested[0] === "fractionalSecondDigits" ? "fractionalSecond" : requested[0]) : "literal";
    return [{ type, value }];
  };

  const timeOf = (date) => {
    const time = date === undefined ? Date.now() : Number(date);
    if (!Number.isFinite(time) || Math.abs(time) > 8.64e15) throw new RangeError("Invalid time value");
    return Math.trunc(time) + 0;
  };

  const partsOf = (slot, date) => {
    const time = timeOf(date);
    return slot.english ? englishParts(slot.format, time) : enginePartsOf(slot, time);
  };
  const textOf = (slot, date) => {
    const time = timeOf(date);
    if (!slot.english) return engineText(slot, time);
    return englishParts(slot.format, time).map((part) => part.value).join("");
  };

  // CreateDateTimeFormat: `required` and `defaults` as ECMA-402 gives them for the
  // constructor ("any", "date") and the three `toLocale*String` methods.
  const create = (self, locales, given, required, defaults) => {
    if (given === null) throw new TypeError("Cannot convert undefined or null to object");
    const options = given === undefined ? Object.create(null) : Object(given);
    option(options, "localeMatcher", ["lookup", "best fit"]);
    const calendar = option(options, "calendar", null);
    const numberingSystem = option(options, "numberingSystem", null);
    const hour12 = options.hour12 === undefined ? undefined : Boolean(options.hour12);
    const hourCycle = option(options, "hourCycle", ["h11", "h12", "h23", "h24"]);
    const timeZone = options.timeZone === undefined ? "UTC" : resolveZone(options.timeZone);
    const format = { timeZone };
    for (const [name, values] of COMPONENTS) {
      if (name === "fractionalSecondDigits") {
        const value = options[name];
        if (value !== undefined) {
          const digits = Number(value);
          if (!(digits >= 1 && digits <= 3)) throw new RangeError(`fractionalSecondDigits value is out of range.`);
          format[name] = Math.floor(digits);
        }
      } else {
        format[name] = option(options, name, values);
      }
    }
    option(options, "formatMatcher", ["basic", "best fit"]);
    const dateStyle = option(options, "dateStyle", STYLES);
    const timeStyle = option(options, "timeStyle", STYLES);
    if (dateStyle !== undefined || timeStyle !== undefined) {
      const explicit = COMPONENTS.find(([name]) => format[name] !== undefined);
      if (explicit !== undefined) {
        throw new TypeError(`Can't set option ${explicit[0]} when ${dateStyle !== undefined ? "dateStyle" : "timeStyle"} is used`);
      }
      if (required === "date" && timeStyle !== undefined) throw new TypeError("Invalid option : timeStyle");
      if (required === "time" && dateStyle !== undefined) throw new TypeError("Invalid option : dateStyle");
      format.dateStyle = dateStyle;
      format.timeStyle = timeStyle;
    } else {
      let needDefaults = true;
      if (required !== "time" && ["weekday", "year", "month", "day"].some((n) => format[n] !== undefined)) needDefaults = false;
      if (required !== "date" && ["dayPeriod", "hour", "minute", "second", "fractionalSecondDigits"].some((n) => format[n] !== undefined)) needDefaults = false;
      if (needDefaults && defaults !== "time") format.year = format.month = format.day = "numeric";
      if (needDefaults && defaults !== "date") format.hour = format.minute = format.second = "numeric";
    }

    // The engine resolves the locale and formats what is not written out here.
    // (The engine knows no `h24`.)
    const engineOptions = { ...format, calendar, numberingSystem, hour12, hourCycle: hourCycle === "h24" ? "h23" : hourCycle };
    if (engineOptions.timeZoneName !== undefined) delete engineOptions.timeZoneName;
    const engine = new EngineDateTimeFormat(locales, engineOptions);
    const engineResolvedOptions = engine.resolvedOptions.bind(engine);
    const resolved = engineResolvedOptions();
    const locale = resolved.locale;
    const english = locale === "en" || locale === "en-US";
    const usesHour = format.hour !== undefined || format.timeStyle !== undefined;
    if (usesHour) {
      // en's own cycle is h12; `hour12: false` gives h24 in node 20 (ICU's `k` pattern).
      const localeCycle = english ? "h12" : resolved.hourCycle ?? "h23";
      if (hour12 === true) format.hourCycle = localeCycle === "h11" || localeCycle === "h23" ? "h11" : "h12";
      else if (hour12 === false) format.hourCycle = english ? "h24" : "h23";
      else format.hourCycle = hourCycle ?? localeCycle;
      if (format.hour !== undefined && (format.hourCycle === "h23" || format.hourCycle === "h24")) format.hour = "2-digit";
    }
    if (format.hour === undefined && (format.minute === undefined) !== (format.second === undefined)) {
      // A minute or a second alone is a plain number.
      if (format.minute !== undefined) format.minute = "numeric";
      if (format.second !== undefined) format.second = "numeric";
    }
    if (format.minute !== undefined && format.hour !== undefined) format.minute = "2-digit";
    if (format.second !== undefined && format.minute !== undefined && format.hour !== undefined) format.second = "2-digit";
    slots.set(self, {
      format,
      engine,
      english: english && writtenOut(format),
      locale,
      calendar: resolved.calendar,
      numberingSystem: resolved.numberingSystem,
      bound: undefined,
    });
    return self;
  };

  const slotOf = (value, method) => {
    const slot = typeof value === "object" && value !== null ? slots.get(value) : undefined;
    if (slot === undefined) {
      throw new TypeError(`Method Intl.DateTimeFormat.prototype.${method} called on incompatible receiver ${String(value)}`);
    }
    return slot;
  };

  function DateTimeFormat(locales, options) {
    const self = new.target === undefined ? Object.create(DateTimeFormat.prototype) : this;
    return create(self, locales, options, "any", "date");
  }
  const methods = {
    get format() {
      const slot = slotOf(this, "format");
      if (slot.bound === undefined) {
        const format = (date) => textOf(slot, date);
        Object.defineProperty(format, "name", { value: "" });
        slot.bound = format;
      }
      return slot.bound;
    },
    formatToParts(date) {
      return partsOf(slotOf(this, "formatToParts"), date);
    },
    resolvedOptions() {
      const slot = slotOf(this, "resolvedOptions");
      const f = slot.format;
      const out = { locale: slot.locale, calendar: slot.calendar, numberingSystem: slot.numberingSystem, timeZone: f.timeZone };
      if (f.hourCycle !== undefined) {
        out.hourCycle = f.hourCycle;
        out.hour12 = f.hourCycle === "h11" || f.hourCycle === "h12";
      }
      for (const [name] of COMPONENTS) if (f[name] !== undefined) out[name] = f[name];
      if (f.dateStyle !== undefined) out.dateStyle = f.dateStyle;
      if (f.timeStyle !== undefined) out.timeStyle = f.timeStyle;
      return out;
    },
  };
  Object.defineProperties(DateTimeFormat.prototype, {
    format: { get: Object.getOwnPropertyDescriptor(methods, "format").get, enumerable: false, configurable: true },
    formatToParts: { value: methods.formatToParts, writable: true, enumerable: false, configurable: true },
    resolvedOptions: { value: methods.resolvedOptions, writable: true, enumerable: false, configurable: true },
    [Symbol.toStringTag]: { value: "Intl.DateTimeFormat", configurable: true },
  });
  Object.defineProperty(DateTimeFormat, "supportedLocalesOf", {
    value: function supportedLocalesOf(locales, options) {
      return EngineDateTimeFormat.supportedLocalesOf(locales, options);
    },
    writable: true, enumerable: false, configurable: true,
  });
  Object.defineProperty(DateTimeFormat, "prototype", { writable: false, enumerable: false, configurable: false });
  // Both arguments are optional: `length` is 0, as ECMA-402 gives it.
  Object.defineProperty(DateTimeFormat, "length", { value: 0 });
  target.DateTimeFormat = DateTimeFormat;

  // Date.prototype.toLocaleString, toLocaleDateString, toLocaleTimeString.
  const dateMethod = (name, required, defaults) => {
    const method = {
      [name](locales, options) {
        const time = dateValue(this);
        if (Number.isNaN(time)) return "Invalid Date";
        const format = create(Object.create(DateTimeFormat.prototype), locales, options, required, defaults);
        return textOf(slots.get(format), time);
      },
    }[name];
    target[`Date.${name}`] = method;
  };
  dateMethod("toLocaleString", "any", "all");
  dateMethod("toLocaleDateString", "date", "date");
  dateMethod("toLocaleTimeString", "time", "time");

  // Percent: the engine formats the fraction itself (0.256 as "0"); the value is scaled
  // by 100 exactly, on its decimal digits, and given the locale's percent sign.
  const PERCENT_AFTER_NO_BREAK_SPACE = ["de", "es", "ru", "sv", "nb", "no", "da", "fi", "cs", "sk", "pl", "uk", "ca", "el", "hu", "ro", "bg", "hr", "sl", "lt", "lv", "et"];
  const percentSign = (locale) => {
    const language = locale.split("-")[0];
    if (language === "fr") return ["", "\u202f%"];
    if (language === "tr") return ["%", ""];
    if (PERCENT_AFTER_NO_BREAK_SPACE.includes(language)) return ["", "\u00a0%"];
    return ["", "%"];
  };
  const times100 = (value) => {
    if (typeof value === "bigint") return `${value}00`;
    const number = Number(value);
    if (!Number.isFinite(number)) return number * 100;
    const [mantissa, exponentText] = String(number).split("e");
    const negative = mantissa.startsWith("-");
    const digitsText = negative ? mantissa.slice(1) : mantissa;
    const [whole, fraction = ""] = digitsText.split(".");
    const exponent = (exponentText === undefined ? 0 : Number(exponentText)) + 2;
    let digits = whole + fraction;
    let point = whole.length + exponent;
    if (point <= 0) {
      digits = "0".repeat(1 - point) + digits;
      point = 1;
    } else if (point > digits.length) {
      digits += "0".repeat(point - digits.length);
    }
    const text = `${digits.slice(0, point)}.${digits.slice(point)}`.replace(/\.$/, "").replace(/^0+(?=\d)/, "");
    return negative ? `-${text}` : text;
  };
  // Currency: the engine throws "unimplemented". For `en` and `en-US` the amount is the
  // engine's decimal formatting with the currency's minor-unit digits (ISO 4217, as CLDR
  // has them), and the symbol, narrow symbol or code goes where node puts it, with a
  // no-break space after one that ends in a letter or a point, and parentheses for
  // `currencySign: "accounting"`. The symbols are CLDR's for en-US: a currency without one
  // is shown by its code, as node shows it.
  const CURRENCY_SYMBOLS = { AUD: "A$", BRL: "R$", CAD: "CA$", CNY: "CN¥", EUR: "€", GBP: "£",
    HKD: "HK$", ILS: "₪", INR: "₹", JPY: "¥", KRW: "₩", MXN: "MX$", NZD: "NZ$", PHP: "₱",
    TWD: "NT$", USD: "$", VND: "₫", XAF: "FCFA", XCD: "EC$", XCG: "Cg.", XOF: "F\u202fCFA", XPF: "CFPF" };
  const NARROW_SYMBOLS = { AFN: "؋", AMD: "֏", AOA: "Kz", ARS: "$", AUD: "$", AZN: "₼", BAM: "KM",
    BBD: "$", BDT: "৳", BMD: "$", BND: "$", BOB: "Bs", BSD: "$", BWP: "P", BZD: "$", CAD: "$",
    CLP: "$", CNY: "¥", COP: "$", CRC: "₡", CUC: "$", CUP: "$", CZK: "Kč", DKK: "kr", DOP: "$",
    EGP: "E£", FJD: "$", FKP: "£", GEL: "₾", GHS: "GH₵", GIP: "£", GNF: "FG", GTQ: "Q", GYD: "$",
    HKD: "$", HNL: "L", HRK: "kn", HUF: "Ft", IDR: "Rp", ISK: "kr", JMD: "$", KGS: "⃀", KHR: "៛",
    KMF: "CF", KPW: "₩", KYD: "$", KZT: "₸", LAK: "₭", LBP: "L£", LKR: "Rs", LRD: "$", MGA: "Ar",
    MMK: "K", MNT: "₮", MUR: "Rs", MXN: "$", MYR: "RM", NAD: "$", NGN: "₦", NIO: "C$", NOK: "kr",
    NPR: "Rs", NZD: "$", PKR: "Rs", PLN: "zł", PYG: "₲", RON: "lei", RUB: "₽", RWF: "RF", SBD: "$",
    SEK: "kr", SGD: "$", SHP: "£", SRD: "$", SSP: "£", STN: "Db", SYP: "£", THB: "฿", TOP: "T$",
    TRY: "₺", TTD: "$", TWD: "$", UAH: "₴", UYU: "$", XCD: "$", ZAR: "R", ZMW: "ZK" };
  const CURRENCY_DIGITS = { AFN: 0, ALL: 0, BHD: 3, BIF: 0, CLP: 0, COP: 0, DJF: 0, GNF: 0, HUF: 0,
    IDR: 0, IQD: 0, IRR: 0, ISK: 0, JOD: 3, JPY: 0, KMF: 0, KPW: 0, KRW: 0, KWD: 3, LAK: 0, LBP: 0,
    LYD: 3, MGA: 0, MMK: 0, OMR: 3, PKR: 0, PYG: 0, RWF: 0, SLL: 0, SOS: 0, SYP: 0, TND: 3, UGX: 0,
    VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0, YER: 0 };
  const CURRENCY_DISPLAYS = ["symbol", "narrowSymbol", "code", "name"];
  const optionOf = (options, name) => (options[name] === undefined ? undefined : String(options[name]));
  // The currency options, read and checked as node checks them, and the options the
  // engine's decimal formatter gets instead.
  const currencyOptions = (options) => {
    const currency = optionOf(options, "currency");
    if (currency === undefined) throw new TypeError("Currency code is required with currency style.");
    if (!/^[A-Za-z]{3}$/.test(currency)) throw new RangeError(`Invalid currency code : ${currency}`);
    const display = optionOf(options, "currencyDisplay") ?? "symbol";
    if (!CURRENCY_DISPLAYS.includes(display)) throw new RangeError(`Value ${display} out of range for Intl.NumberFormat options property currencyDisplay`);
    const sign = optionOf(options, "currencySign") ?? "standard";
    if (sign !== "standard" && sign !== "accounting") throw new RangeError(`Value ${sign} out of range for Intl.NumberFormat options property currencySign`);
    const code = currency.toUpperCase();
    const decimal = { ...options, style: "decimal" };
    delete decimal.currency;
    delete decimal.currencyDisplay;
    delete decimal.currencySign;
    const significant = options.minimumSignificantDigits !== undefined || options.maximumSignificantDigits !== undefined;
    if (!significant) {
      const digits = CURRENCY_DIGITS[code] ?? 2;
      const min = options.minimumFractionDigits;
      const max = options.maximumFractionDigits;
      if (min === undefined && max === undefined) {
        decimal.minimumFractionDigits = digits;
        decimal.maximumFractionDigits = digits;
      } else if (min === undefined) {
        decimal.minimumFractionDigits = Math.min(digits, Number(max));
      } else if (max === undefined) {
        decimal.maximumFractionDigits = Math.max(digits, Number(min));
      }
    }
    return { code, display, sign, decimal };
  };
  const currencyLabel = (code, display) => {
    if (display === "code") return code;
    const symbol = CURRENCY_SYMBOLS[code] ?? code;
    return display === "narrowSymbol" ? (NARROW_SYMBOLS[code] ?? symbol) : symbol;
  };
  // NaN and the infinities, which the engine's formatter refuses ("Magnitude or number of
  // digits exceeded") where node prints them.
  const nonFinite = (value, signDisplay) => {
    if (typeof value === "bigint") return undefined;
    const number = Number(value);
    if (Number.isFinite(number)) return undefined;
    if (Number.isNaN(number)) return "NaN";
    if (number < 0) return signDisplay === "never" ? "∞" : "-∞";
    return signDisplay === "always" || signDisplay === "exceptZero" ? "+∞" : "∞";
  };
  function NumberFormat(locales, options) {
    const given = options === undefined || options === null ? undefined : Object(options);
    const style = given === undefined ? undefined : given.style;
    const currency = String(style) === "currency" ? currencyOptions(given) : undefined;
    const engineOptions = currency === undefined ? options : currency.decimal;
    const engine = new.target === undefined ? EngineNumberFormat(locales, engineOptions) : Reflect.construct(EngineNumberFormat, [locales, engineOptions], new.target);
    const engineResolvedOptions = engine.resolvedOptions.bind(engine);
    const resolved = engineResolvedOptions();
    const signDisplay = resolved.signDisplay;
    const engineFormat = engine.format;
    let format = (value) => nonFinite(value, signDisplay) ?? engineFormat(value);
    if (String(style) === "percent") {
      const [before, after] = percentSign(resolved.locale);
      format = (value) => {
        const text = String(nonFinite(value, signDisplay) ?? engineFormat(times100(value)));
        return text.startsWith("-") ? `-${before}${text.slice(1)}${after}` : `${before}${text}${after}`;
      };
    } else if (currency !== undefined) {
      // The requested tag, not the resolved one: the engine resolves en-GB to en, whose
      // symbols differ (node's en-GB writes US$ for USD).
      const first = locales === undefined ? undefined : (Array.isArray(locales) ? locales[0] : locales);
      const tag = first === undefined ? resolved.locale : String(first);
      if (!["en", "en-us"].includes(tag.toLowerCase().split("-u-")[0])) {
        throw new RangeError(`Intl.NumberFormat: currency formatting is available for the locales en and en-US only, not ${tag}`);
      }
      if (currency.display === "name") {
        throw new RangeError('Intl.NumberFormat: currencyDisplay "name" is not available in this engine (use "symbol", "narrowSymbol" or "code")');
      }
      const label = currencyLabel(currency.code, currency.display);
      const spaced = /[^\p{S}]$/u.test(label) ? `${label}\u00a0` : label;
      format = (value) => {
        const text = String(nonFinite(value, signDisplay) ?? engineFormat(value));
        const sign = text.startsWith("-") || text.startsWith("+") ? text[0] : "";
        const amount = `${spaced}${text.slice(sign.length)}`;
        if (sign === "-" && currency.sign === "accounting") return `(${amount})`;
        return `${sign}${amount}`;
      };
      const resolvedOptions = () => {
        const { locale, numberingSystem, ...rest } = engineResolvedOptions();
        delete rest.style;
        return { locale, numberingSystem, style: "currency", currency: currency.code,
          currencyDisplay: currency.display, currencySign: currency.sign, ...rest };
      };
      Object.defineProperty(engine, "resolvedOptions", { value: resolvedOptions, writable: true, configurable: true });
    }
    Object.defineProperty(engine, "format", { get: () => format, configurable: true });
    return engine;
  }
  Object.defineProperty(NumberFormat, "prototype", { value: EngineNumberFormat.prototype, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(NumberFormat, "supportedLocalesOf", {
    value: function supportedLocalesOf(locales, options) {
      return EngineNumberFormat.supportedLocalesOf(locales, options);
    },
    writable: true, enumerable: false, configurable: true,
  });
  Object.defineProperty(NumberFormat, "length", { value: 0 });
  target.NumberFormat = NumberFormat;
  target["Number.toLocaleString"] = function toLocaleString(locales, options) {
    const style = options === undefined || options === null ? undefined : Object(options).style;
    if (String(style) === "percent" || String(style) === "currency") return new NumberFormat(locales, options).format(this);
    return engineNumberToLocaleString.call(this, locales, options);
  };

  // Intl.RelativeTimeFormat, which the engine lacks: English (`en`, `en-US`) as node 20
  // writes it, in the three styles, with `numeric: "auto"`'s words (yesterday, next week,
  // now), `formatToParts` and `resolvedOptions`. The number is the engine's en-US decimal.
  const RELATIVE_UNITS = ["second", "minute", "hour", "day", "week", "month", "quarter", "year"];
  // [singular, plural] of each unit, per style; narrow units follow the number directly.
  const RELATIVE_NAMES = {
    long: { second: ["second", "seconds"], minute: ["minute", "minutes"], hour: ["hour", "hours"],
      day: ["day", "days"], week: ["week", "weeks"], month: ["month", "months"],
      quarter: ["quarter", "quarters"], year: ["year", "years"] },
    short: { second: ["sec.", "sec."], minute: ["min.", "min."], hour: ["hr.", "hr."],
      day: ["day", "days"], week: ["wk.", "wk."], month: ["mo.", "mo."],
      quarter: ["qtr.", "qtrs."], year: ["yr.", "yr."] },
    narrow: { second: ["s", "s"], minute: ["m", "m"], hour: ["h", "h"], day: ["d", "d"],
      week: ["w", "w"], month: ["mo", "mo"], quarter: ["q", "q"], year: ["y", "y"] },
  };
  // `numeric: "auto"`: the words for -1, 0 and 1, per style ("long" or the abbreviated).
  const RELATIVE_WORDS = {
    long: { second: [, "now"], minute: [, "this minute"], hour: [, "this hour"],
      day: ["yesterday", "today", "tomorrow"], week: ["last week", "this week", "next week"],
      month: ["last month", "this month", "next month"],
      quarter: ["last quarter", "this quarter", "next quarter"],
      year: ["last year", "this year", "next year"] },
    short: { second: [, "now"], minute: [, "this minute"], hour: [, "this hour"],
      day: ["yesterday", "today", "tomorrow"], week: ["last wk.", "this wk.", "next wk."],
      month: ["last mo.", "this mo.", "next mo."], quarter: ["last qtr.", "this qtr.", "next qtr."],
      year: ["last yr.", "this yr.", "next yr."] },
  };
  const relativeSlots = new WeakMap();
  const englishTag = (locales, name) => {
    const first = locales === undefined ? undefined : (Array.isArray(locales) ? locales[0] : locales);
    const tag = first === undefined ? "en-US" : String(first);
    const base = tag.toLowerCase().split("-u-")[0];
    if (base !== "en" && base !== "en-us") {
      throw new RangeError(`Intl.${name}: available for the locales en and en-US only, not ${tag}`);
    }
    return base === "en" ? "en" : "en-US";
  };
  const choice = (options, name, allowed, fallback) => {
    const value = options[name] === undefined ? fallback : String(options[name]);
    if (!allowed.includes(value)) throw new RangeError(`Value ${value} out of range for Intl.RelativeTimeFormat options property ${name}`);
    return value;
  };
  const relativeSlot = (format, method) => {
    const slot = typeof format === "object" && format !== null ? relativeSlots.get(format) : undefined;
    if (slot === undefined) {
      const receiver = typeof format === "object" && format !== null ? `#<${format.constructor?.name || "Object"}>` : String(format);
      throw new TypeError(`Method Intl.RelativeTimeFormat.prototype.${method} called on incompatible receiver ${receiver}`);
    }
    return slot;
  };
  // The parts of a relative time: the number's (integer, group, decimal, fraction) with
  // the unit, and the words around it.
  const relativeParts = (slot, value, unit, method) => {
    const text = String(unit);
    const singular = text.endsWith("s") ? text.slice(0, -1) : text;
    if (!RELATIVE_UNITS.includes(singular)) throw new RangeError(`Invalid unit argument for Intl.RelativeTimeFormat.prototype.${method}() '${text}'`);
    const number = Number(value);
    if (!Number.isFinite(number)) throw new RangeError(`Value need to be finite number for Intl.RelativeTimeFormat.prototype.${method}()`);
    const past = number < 0 || Object.is(number, -0);
    if (slot.numeric === "auto" && (number === 1 || number === 0 || number === -1)) {
      const words = RELATIVE_WORDS[slot.style === "long" ? "long" : "short"][singular][number + 1];
      if (words !== undefined) return [{ type: "literal", value: words }];
    }
    const magnitude = Math.abs(number);
    const digits = slot.number.format(magnitude);
    const numberParts = [];
    for (const piece of digits.match(/\d+|[^\d]/g)) {
      if (/^\d/.test(piece)) {
        const afterPoint = numberParts.some((p) => p.type === "decimal");
        numberParts.push({ type: afterPoint ? "fraction" : "integer", value: piece, unit: singular });
      } else {
        numberParts.push({ type: piece === "." ? "decimal" : "group", value: piece, unit: singular });
      }
    }
    const names = RELATIVE_NAMES[slot.style][singular];
    const name = names[magnitude === 1 ? 0 : 1];
    const space = slot.style === "narrow" ? "" : " ";
    return past
      ? [...numberParts, { type: "literal", value: `${space}${name} ago` }]
      : [{ type: "literal", value: "in " }, ...numberParts, { type: "literal", value: `${space}${name}` }];
  };
  function RelativeTimeFormat(locales, options) {
    if (new.target === undefined) throw new TypeError("Constructor Intl.RelativeTimeFormat requires 'new'");
    const locale = englishTag(locales, "RelativeTimeFormat");
    const given = options === undefined ? {} : Object(options);
    const style = choice(given, "style", ["long", "short", "narrow"], "long");
    const numeric = choice(given, "numeric", ["always", "auto"], "always");
    const format = Object.create(new.target.prototype);
    relativeSlots.set(format, { locale, style, numeric, number: new EngineNumberFormat("en-US", { maximumFractionDigits: 3 }) });
    return format;
  }
  Object.defineProperty(RelativeTimeFormat, "length", { value: 0 });
  const relativeMethods = {
    format(value, unit) {
      return relativeParts(relativeSlot(this, "format"), value, unit, "format").map((p) => p.value).join("");
    },
    formatToParts(value, unit) {
      return relativeParts(relativeSlot(this, "formatToParts"), value, unit, "formatToParts");
    },
    resolvedOptions() {
      const { locale, style, numeric } = relativeSlot(this, "resolvedOptions");
      return { locale, style, numeric, numberingSystem: "latn" };
    },
  };
  for (const [name, method] of Object.entries(relativeMethods)) {
    Object.defineProperty(RelativeTimeFormat.prototype, name, { value: method, writable: true, enumerable: false, configurable: true });
  }
  Object.defineProperty(RelativeTimeFormat.prototype, Symbol.toStringTag, { value: "Intl.RelativeTimeFormat", configurable: true });
  Object.defineProperty(RelativeTimeFormat, "supportedLocalesOf", {
    value: function supportedLocalesOf(locales) {
      const list = locales === undefined ? [] : (Array.isArray(locales) ? locales : [locales]);
      return list.map(String).filter((tag) => ["en", "en-us"].includes(tag.toLowerCase()))
        .map((tag) => (tag.toLowerCase() === "en" ? "en" : "en-US"));
    },
    writable: true, enumerable: false, configurable: true,
  });
  target.RelativeTimeFormat = RelativeTimeFormat;

  // Intl.supportedValuesOf: the bundled database's time zones; the calendars and
  // numbering systems the formatters above use.
  const SUPPORTED = { calendar: ["gregory"], numberingSystem: ["latn"] };
  target.supportedValuesOf = function supportedValuesOf(key) {
    const text = String(key);
    if (text === "timeZone") return native.zones();
    if (Object.hasOwn(SUPPORTED, text)) return [...SUPPORTED[text]];
    if (["collation", "currency", "unit"].includes(text)) {
      throw new RangeError(`Intl.supportedValuesOf: the values of ${text} are not available in this engine`);
    }
    throw new RangeError(`Invalid key : ${text}`);
  };
})
