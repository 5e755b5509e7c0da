//! The date strings V8 reads beyond ECMAScript's own format, read the way V8 reads them.
//!
//! ECMAScript requires `Date.parse` to read its Date Time String Format
//! (`2024-01-15T10:30:00Z`) and what `toString`/`toUTCString` print, and lets engines
//! read more. The engine reads only those; V8 reads a loose mix of forms npm libraries and
//! real data rely on: RFC 2822 with an offset (`Tue, 15 Nov 1994 08:12:31 +0200`), month
//! names (`Nov 15, 1994 10:00 PM`), slashes (`11/15/1994`, `1994/11/15`), a space for the
//! `T` (`2024-01-15 10:30:00`), US zone names (`EST`, `PDT`), comments in parentheses.
//! [`parse`] gives the fields of such a string, or `None` where V8 gives NaN; it is
//! asked only when the engine found no date.
//!
//! How V8 reads them: an ISO-style prefix (`2024-01-15`, then `T` and a time) is read
//! first; the rest, or the whole string when it has no such prefix, is a sequence of
//! tokens: a number followed by `:` is part of the time, a number after a time or a zone
//! name with a sign before it is an offset, other numbers are parts of the date (up to
//! three; month, day, year unless the first is no possible day, then year, month, day);
//! a word is a month by its first three letters, `am`/`pm`, a zone name, or ignored while
//! no number was read (a weekday); anything else after a number makes the string invalid.

/// The fields of a date string: a calendar date, a time of day and, when the string has
/// one, its offset from UTC in minutes (none: local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fields {
    pub(super) year: i64,
    /// 1 to 12.
    pub(super) month: i64,
    /// 1 to 31; days past the month's end run into the next month, as in `Date.UTC`.
    pub(super) day: i64,
    pub(super) hour: i64,
    pub(super) minute: i64,
    pub(super) second: i64,
    pub(super) millisecond: i64,
    pub(super) offset_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A run of ASCII digits: its value (saturated) and how many digits.
    Number(i64, usize),
    /// A run of letters, lower-cased.
    Word(String),
    /// Any other single character.
    Symbol(char),
    Space,
    /// A comment in parentheses, or a character that cannot start anything else.
    Unknown,
    End,
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            let mut value: i64 = 0;
            while i < chars.len() && chars[i].is_ascii_digit() {
                value = value
                    .saturating_mul(10)
                    .saturating_add(i64::from(chars[i] as u8 - b'0'));
                i += 1;
            }
            out.push(Token::Number(value, i - start));
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            out.push(Token::Word(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            out.push(Token::Space);
        } else if c == '(' {
            let mut depth = 0_usize;
            while i < chars.len() {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            out.push(Token::Unknown);
        } else {
            out.push(Token::Symbol(c));
            i += 1;
        }
    }
    out.push(Token::End);
    out
}

/// What a word means in a date.
enum Keyword {
    /// 1 to 12.
    Month(i64),
    /// 0 for `am`, 12 for `pm`.
    HalfDay(i64),
    /// A zone name's offset from UTC in hours.
    Zone(i64),
    /// `t`, which separates date and time in the ISO form.
    TimeSeparator,
}

fn keyword(word: &str) -> Option<Keyword> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    // A month matches by its first three letters, whatever follows them.
    if let Some(prefix) = word.get(..3)
        && let Some(index) = MONTHS.iter().position(|m| *m == prefix)
    {
        return Some(Keyword::Month(index as i64 + 1));
    }
    Some(match word {
        "am" => Keyword::HalfDay(0),
        "pm" => Keyword::HalfDay(12),
        "ut" | "utc" | "gmt" | "z" => Keyword::Zone(0),
        "edt" => Keyword::Zone(-4),
        "est" | "cdt" => Keyword::Zone(-5),
        "cst" | "mdt" => Keyword::Zone(-6),
        "mst" | "pdt" => Keyword::Zone(-7),
        "pst" => Keyword::Zone(-8),
        "t" => Keyword::TimeSeparator,
        _ => return None,
    })
}

const NONE: i64 = i64::MIN;

/// Up to three numbers of a date, and a month given by name.
#[derive(Default)]
struct DateParts {
    numbers: Vec<i64>,
    named_month: Option<i64>,
    /// Read from the ISO-style prefix: year, month, day in that order, years as written.
    iso: bool,
}

impl DateParts {
    fn add(&mut self, n: i64) -> bool {
        if self.numbers.len() == 3 {
            return false;
        }
        self.numbers.push(n);
        true
    }

    /// Year, month (1-based) and day. Missing numbers count as 1 (so a missing year is
    /// 2001), as in V8.
    fn resolve(&self) -> Option<(i64, i64, i64)> {
        if self.numbers.is_empty() {
            return None;
        }
        let mut n = self.numbers.clone();
        n.resize(3, 1);
        let (mut year, month, day) = match self.named_month {
            None if self.iso || !is_day(n[0]) => (n[0], n[1], n[2]),
            None => (n[2], n[0], n[1]),
            Some(month) if !is_day(n[0]) => (n[0], month, n[1]),
            Some(month) => (n[1], month, n[0]),
        };
        if !self.iso {
            // Two-digit years, as RFC 2822 says.
            if (0..=49).contains(&year) {
                year += 2000;
            } else if (50..=99).contains(&year) {
                year += 1900;
            }
        }
        ((1..=12).contains(&month) && is_day(day)).then_some((year, month, day))
    }
}

fn is_day(n: i64) -> bool {
    (1..=31).contains(&n)
}

/// Hour, minute, second, millisecond, filled in order, and a 12-hour clock's half.
#[derive(Default)]
struct TimeParts {
    parts: Vec<i64>,
    half_day: Option<i64>,
}

impl TimeParts {
    fn add(&mut self, n: i64) -> bool {
        if self.parts.len() == 4 {
            return false;
        }
        self.parts.push(n);
        true
    }

    /// Adds the last part: the ones after it are zero.
    fn add_final(&mut self, n: i64) -> bool {
        if !self.add(n) {
            return false;
        }
        self.parts.resize(4, 0);
        true
    }

    /// Whether `n` can be the next part after those read (minute, second, millisecond).
    fn expects(&self, n: i64) -> bool {
        match self.parts.len() {
            1 => (0..=59).contains(&n),
            2 => (0..=59).contains(&n),
            3 => (0..=999).contains(&n),
            _ => false,
        }
    }

    fn resolve(&self) -> Option<(i64, i64, i64, i64)> {
        let at = |i: usize| self.parts.get(i).copied().unwrap_or(0);
        let (mut hour, minute, second, ms) = (at(0), at(1), at(2), at(3));
        if let Some(half) = self.half_day {
            if !(0..=12).contains(&hour) {
                return None;
            }
            hour = hour % 12 + half;
        }
        let midnight_after = hour == 24 && minute == 0 && second == 0 && ms == 0;
        let valid = ((0..=23).contains(&hour) || midnight_after)
            && (0..=59).contains(&minute)
            && (0..=59).contains(&second)
            && (0..=999).contains(&ms);
        valid.then_some((hour, minute, second, ms))
    }
}

/// The offset: a sign, hours and minutes, any of them not yet read.
struct ZoneParts {
    sign: i64,
    hour: i64,
    minute: i64,
}

impl Default for ZoneParts {
    fn default() -> Self {
        ZoneParts {
            sign: NONE,
            hour: NONE,
            minute: NONE,
        }
    }
}

impl ZoneParts {
    fn set_hours(&mut self, offset_hours: i64) {
        self.sign = if offset_hours < 0 { -1 } else { 1 };
        self.hour = offset_hours.abs();
        self.minute = 0;
    }

    fn is_utc(&self) -> bool {
        self.hour == 0 && self.minute == 0
    }

    fn expects_minute(&self, n: i64) -> bool {
        self.hour != NONE && self.minute == NONE && (0..=59).contains(&n)
    }

    fn resolve(&self) -> Option<Option<i64>> {
        if self.sign == NONE {
            return Some(None);
        }
        let minute = if self.minute == NONE { 0 } else { self.minute };
        let hour = if self.hour == NONE { 0 } else { self.hour };
        Some(Some(self.sign * (hour * 60 + minute)))
    }
}

/// The fields of `text`, or `None` where V8's `Date.parse` gives NaN.
pub(super) fn parse(text: &str) -> Option<Fields> {
    let tokens = tokens(text);
    let (mut date, mut time, mut zone) = Default::default();
    let start = iso_prefix(&tokens, &mut date, &mut time, &mut zone)?;
    if start < tokens.len() {
        rest(&tokens[start..], &mut date, &mut time, &mut zone)?;
    }
    let (year, month, day) = date.resolve()?;
    let (hour, minute, second, millisecond) = time.resolve()?;
    let offset_minutes = zone.resolve()?;
    Some(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millisecond,
        offset_minutes,
    })
}

/// Reads an ISO-style `YYYY[-MM[-DD]][THH:mm[:ss[.sss]][Z|±HH:mm]]` at the start.
/// Returns where the rest starts (`tokens.len()` when it is all read), or `None` when the
/// string cannot be a date (a broken time after the `T`).
fn iso_prefix(
    tokens: &[Token],
    date: &mut DateParts,
    time: &mut TimeParts,
    zone: &mut ZoneParts,
) -> Option<usize> {
    let fixed = |i: usize, len: usize| match tokens.get(i) {
        Some(Token::Number(value, digits)) if *digits == len => Some(*value),
        _ => None,
    };
    let symbol = |i: usize, c: char| tokens.get(i) == Some(&Token::Symbol(c));
    let first_sign = match tokens.first() {
        Some(Token::Symbol(c @ ('+' | '-'))) => Some(*c),
        _ => None,
    };
    let mut i = if let Some(sign) = first_sign {
        // An expanded year: a sign and six digits, never -000000.
        let year = fixed(1, 6)?;
        if sign == '-' && year == 0 {
            return None;
        }
        date.add(if sign == '-' { -year } else { year });
        2
    } else if let Some(year) = fixed(0, 4) {
        date.add(year);
        1
    } else {
        return Some(0);
    };
    for limit in [12, 31] {
        if !symbol(i, '-') {
            break;
        }
        match fixed(i + 1, 2) {
            Some(n) if (1..=limit).contains(&n) => {
                date.add(n);
                i += 2;
            }
            // `2024-1-5`: the rest is read as loose parts.
            _ => return Some(i + 1),
        }
    }
    let is_separator = matches!(&tokens[i], Token::Word(w) if w == "t");
    if !is_separator {
        return Some(if tokens[i] == Token::End {
            tokens.len()
        } else {
            i
        });
    }
    i += 1;
    let hour = fixed(i, 2).filter(|h| (0..=24).contains(h))?;
    let minute = fixed(i + 2, 2).filter(|m| (0..=59).contains(m) && symbol(i + 1, ':'))?;
    time.add(hour);
    time.add(minute);
    i += 3;
    if symbol(i, ':') {
        let second = fixed(i + 1, 2).filter(|s| (0..=59).contains(s))?;
        time.add(second);
        i += 2;
        if symbol(i, '.') {
            let Some(Token::Number(value, digits)) = tokens.get(i + 1) else {
                return None;
            };
            time.add(milliseconds(*value, *digits));
            i += 2;
        }
    }
    if hour == 24 && time.parts.iter().skip(1).any(|&p| p != 0) {
        return None;
    }
    match &tokens[i] {
        Token::Word(w) if w == "z" => {
            zone.set_hours(0);
            i += 1;
        }
        Token::Symbol(sign @ ('+' | '-')) => {
            let sign = if *sign == '-' { -1 } else { 1 };
            if let (Some(h), true, Some(m)) = (fixed(i + 1, 2), symbol(i + 2, ':'), fixed(i + 3, 2))
            {
                (zone.sign, zone.hour, zone.minute) = (sign, h, m);
                i += 4;
            } else if let Some(hhmm) = fixed(i + 1, 4) {
                (zone.sign, zone.hour, zone.minute) = (sign, hhmm / 100, hhmm % 100);
                i += 2;
            } else {
                return None;
            }
        }
        _ => {}
    }
    if tokens[i] != Token::End {
        return None;
    }
    date.iso = true;
    if zone.sign == NONE && time.parts.is_empty() {
        zone.set_hours(0);
    }
    Some(tokens.len())
}

/// A fraction of a second written with `digits` digits, in whole milliseconds.
fn milliseconds(value: i64, digits: usize) -> i64 {
    match digits {
        1 => value * 100,
        2 => value * 10,
        3 => value,
        _ => {
            let excess = u32::try_from(digits - 3).unwrap_or(u32::MAX);
            10_i64.checked_pow(excess).map_or(0, |scale| value / scale)
        }
    }
}

/// Reads the loose parts after the ISO-style prefix, or the whole string.
fn rest(
    tokens: &[Token],
    date: &mut DateParts,
    time: &mut TimeParts,
    zone: &mut ZoneParts,
) -> Option<()> {
    let mut read_number = !date.numbers.is_empty();
    let mut i = 0;
    let peek = |i: usize| tokens.get(i).unwrap_or(&Token::End);
    while i < tokens.len() {
        let token = &tokens[i];
        i += 1;
        match token {
            Token::End => break,
            Token::Number(n, _) => {
                let n = *n;
                read_number = true;
                if peek(i) == &Token::Symbol(':') {
                    i += 1;
                    if peek(i) == &Token::Symbol(':') {
                        // `10::`: hour and a zero minute.
                        i += 1;
                        if !time.parts.is_empty() {
                            return None;
                        }
                        time.add(n);
                        time.add(0);
                    } else {
                        if !time.add(n) {
                            return None;
                        }
                        if peek(i) == &Token::Symbol('.') {
                            i += 1;
                        }
                    }
                } else if peek(i) == &Token::Symbol('.') && time.expects(n) {
                    i += 1;
                    time.add(n);
                    let Token::Number(value, digits) = peek(i) else {
                        return None;
                    };
                    i += 1;
                    if !time.add_final(milliseconds(*value, *digits)) {
                        return None;
                    }
                } else if zone.expects_minute(n) {
                    zone.minute = n;
                } else if time.expects(n) {
                    time.add_final(n);
                    // A time's last part ends at white space, a zone or the end.
                    let next = peek(i);
                    let ends = matches!(next, Token::End | Token::Space | Token::Symbol('+' | '-'))
                        || matches!(next, Token::Word(w) if w == "z");
                    if !ends {
                        return None;
                    }
                } else {
                    if !date.add(n) {
                        return None;
                    }
                    if peek(i) == &Token::Symbol('-') {
                        i += 1;
                    }
                }
            }
            Token::Word(word) => match keyword(word) {
                Some(Keyword::HalfDay(half)) if !time.parts.is_empty() => {
                    time.half_day = Some(half);
                }
                Some(Keyword::Month(month)) => {
                    date.named_month = Some(month);
                    if peek(i) == &Token::Symbol('-') {
                        i += 1;
                    }
                }
                Some(Keyword::Zone(hours)) if read_number => zone.set_hours(hours),
                _ => {
                    // Other words (weekdays) only before the first number, and apart
                    // from it.
                    if read_number || matches!(peek(i), Token::Number(..)) {
                        return None;
                    }
                }
            },
            Token::Symbol(sign @ ('+' | '-')) if zone.is_utc() || !time.parts.is_empty() => {
                zone.sign = if *sign == '-' { -1 } else { 1 };
                // The offset's digits follow the sign right away, at most four of them
                // (their values are not checked: `+0099` is 99 minutes).
                let (n, digits) = match peek(i) {
                    Token::Number(n, digits) if *digits <= 4 => {
                        i += 1;
                        (*n, *digits)
                    }
                    _ => return None,
                };
                read_number = true;
                if peek(i) == &Token::Symbol(':') {
                    (zone.hour, zone.minute) = (n, NONE);
                } else if digits <= 2 {
                    (zone.hour, zone.minute) = (n, 0);
                } else {
                    (zone.hour, zone.minute) = (n / 100, n % 100);
                }
            }
            Token::Symbol('+' | '-' | ')') if read_number => return None,
            Token::Symbol(_) | Token::Space | Token::Unknown => {}
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::{Fields, parse};

    /// Year, month, day, hour, minute, second, millisecond, offset.
    type Parts = (i64, i64, i64, i64, i64, i64, i64, Option<i64>);

    fn utc(text: &str) -> Option<Parts> {
        parse(text).map(|f: Fields| {
            (
                f.year,
                f.month,
                f.day,
                f.hour,
                f.minute,
                f.second,
                f.millisecond,
                f.offset_minutes,
            )
        })
    }

    #[test]
    fn fields_of_the_forms_v8_reads() {
        assert_eq!(
            utc("Tue, 15 Nov 1994 08:12:31 +0200"),
            Some((1994, 11, 15, 8, 12, 31, 0, Some(120)))
        );
        assert_eq!(
            utc("Nov 15, 1994 10:00 PM"),
            Some((1994, 11, 15, 22, 0, 0, 0, None))
        );
        assert_eq!(utc("11/15/94"), Some((1994, 11, 15, 0, 0, 0, 0, None)));
        assert_eq!(
            utc("2020-01-15T10:30:00+0200"),
            Some((2020, 1, 15, 10, 30, 0, 0, Some(120)))
        );
        assert_eq!(utc("Jan 1 2024 10:00 +5:30").unwrap().7, Some(330));
        assert_eq!(utc("Jan 1st 2024"), None);
        assert_eq!(utc("Jan 1 2024 -0130"), None);
        assert_eq!(utc("13:00 PM"), None);
        assert_eq!(utc(""), None);
    }
}
