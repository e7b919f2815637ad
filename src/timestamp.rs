//! Timestamps as billing exports really write them, parsed to UTC microseconds.
//!
//! FOCUS asks for ISO 8601 with `T` and `Z`; real files also use a space, drop
//! the zone, add milliseconds or write a bare date. All of those are accepted
//! and reported as normalised so a user can see how far a file is from spec.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Microseconds since the Unix epoch, UTC.
    pub micros: i64,
    /// False when the text was not strict `YYYY-MM-DDTHH:MM:SS[.f]Z`.
    pub strict: bool,
}

/// Parses `2023-11-01T00:00:00Z`, `2023-11-01T00:00:00.000Z`, `2023-11-01 00:00:00`,
/// `2023-11-01T00:00:00+01:00`, `2023-11-01T00:00`, `2023-11-01` and
/// Azure's `11/1/2023` (M/D/YYYY, optionally followed by a time).
pub fn parse(text: &str) -> Result<Parsed, String> {
    let s = text.trim();
    if s.contains('/') {
        return parse_month_day_year(s);
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(format!("not a date/time: {text:?}"));
    }
    let date = parse_date(&s[..10]).ok_or_else(|| format!("invalid date: {text:?}"))?;
    if b.len() == 10 {
        return Ok(Parsed { micros: micros(date.and_time(NaiveTime::MIN)), strict: false });
    }
    let separator = b[10];
    if separator != b'T' && separator != b' ' {
        return Err(format!("not a date/time: {text:?}"));
    }
    let rest = &s[11..];
    // Split the zone suffix off: Z, +HH:MM, -HH:MM, or nothing (taken as UTC).
    // BigQuery's CSV export writes `2026-03-01 00:00:00 UTC`.
    let (time_text, offset_seconds, has_zone) =
        if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix(" UTC")) {
            (t, 0i64, true)
        } else if let Some(pos) = rest.rfind(['+', '-']) {
            let (t, zone) = rest.split_at(pos);
            (t, parse_offset(zone).ok_or_else(|| format!("invalid time zone in {text:?}"))?, true)
        } else {
            (rest, 0, false)
        };
    let time = parse_time(time_text).ok_or_else(|| describe_bad_time(text, time_text))?;
    let utc = micros(date.and_time(time)) - offset_seconds * 1_000_000;
    Ok(Parsed { micros: utc, strict: separator == b'T' && has_zone && offset_seconds == 0 && time_text.len() >= 8 })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let year = s.get(0..4)?.parse().ok()?;
    let month = s.get(5..7)?.parse().ok()?;
    let day = s.get(8..10)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let (hms, fraction) = match s.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = match parts.next() {
        Some(sec) => sec.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let micro = match fraction {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            let padded = format!("{f:0<6}");
            padded[..6].parse().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    NaiveTime::from_hms_micro_opt(hour, minute, second, micro)
}

fn describe_bad_time(text: &str, time_text: &str) -> String {
    if let Some(hour) = time_text.split(':').next().and_then(|h| h.parse::<u32>().ok())
        && hour > 23
    {
        return format!("hour {hour} out of range in {text:?}");
    }
    format!("invalid time in {text:?}")
}

fn parse_offset(zone: &str) -> Option<i64> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Azure's `M/D/YYYY` with an optional `H:MM[:SS] [AM|PM]`.
fn parse_month_day_year(s: &str) -> Result<Parsed, String> {
    let (date_text, time_text) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut parts = date_text.split('/');
    let (Some(m), Some(d), Some(y), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("not a date/time: {s:?}"));
    };
    let (Ok(month), Ok(day), Ok(year)) = (m.parse::<u32>(), d.parse::<u32>(), y.parse::<i32>()) else {
        return Err(format!("not a date/time: {s:?}"));
    };
    // Two-digit years (`5/1/25`, as spreadsheets save them) are this century.
    let year = if y.len() == 2 { 2000 + year } else { year };
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| format!("invalid date: {s:?}"))?;
    let time = match time_text {
        None => NaiveTime::MIN,
        Some(t) => {
            let (clock, meridiem) = match t.rsplit_once(' ') {
                Some((c, ampm)) => (c, Some(ampm.to_ascii_uppercase())),
                None => (t, None),
            };
            let mut time = parse_time(clock).ok_or_else(|| format!("invalid time in {s:?}"))?;
            match meridiem.as_deref() {
                Some("PM") if time.format("%H").to_string() != "12" => {
                    time += chrono::Duration::hours(12);
                }
                Some("AM") if time.format("%H").to_string() == "12" => {
                    time -= chrono::Duration::hours(12);
                }
                Some("AM") | Some("PM") | None => {}
                Some(other) => return Err(format!("invalid time suffix {other:?} in {s:?}")),
            }
            time
        }
    };
    Ok(Parsed { micros: micros(date.and_time(time)), strict: false })
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// The first instant a billing date may name: 2000-01-01T00:00:00Z. No cloud
/// billed anything before it (AWS began billing in 2006); earlier dates, year
/// 0000 among them, are typing or export errors.
pub const EARLIEST: i64 = 946_684_800_000_000;
/// The first instant past the accepted range: 2100-01-01T00:00:00Z. Far enough
/// for any commitment's end, near enough that `9999-12-31` is refused.
pub const LATEST: i64 = 4_102_444_800_000_000;

/// How far a charge may start before its billing period (corrections and
/// credits for earlier usage) and after it ends, in microseconds: 366 days and 31 days.
pub const CHARGE_BEFORE_PERIOD: i64 = 366 * 86_400_000_000;
pub const CHARGE_AFTER_PERIOD: i64 = 31 * 86_400_000_000;

/// `None` when `micros` is in the accepted range [`EARLIEST`, [`LATEST`]), else why not.
pub fn out_of_range(micros: i64) -> Option<String> {
    (!(EARLIEST..LATEST).contains(&micros))
        .then(|| format!("{} is outside the dates tally accepts (2000-01-01 to 2099-12-31)", iso(micros)))
}

/// `2023-11-01T00:00:00Z`, or the raw microseconds when chrono cannot show them.
pub fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map_or_else(|| format!("{micros} µs"), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        parse(text).unwrap().micros
    }

    #[test]
    fn bigquery_csv_timestamps_name_utc() {
        assert_eq!(utc("2026-03-01 00:00:00 UTC"), utc("2026-03-01T00:00:00Z"));
    }

    #[test]
    fn accepted_range() {
        assert_eq!(parse("2000-01-01T00:00:00Z").unwrap().micros, EARLIEST);
        assert_eq!(parse("2100-01-01T00:00:00Z").unwrap().micros, LATEST);
        assert_eq!(out_of_range(EARLIEST), None);
        assert!(out_of_range(LATEST).is_some());
        let y0 = parse("0000-01-01").unwrap().micros;
        assert_eq!(
            out_of_range(y0).unwrap(),
            "0000-01-01T00:00:00Z is outside the dates tally accepts (2000-01-01 to 2099-12-31)"
        );
    }

    #[test]
    fn strict_iso() {
        let p = parse("2023-11-01T00:00:00Z").unwrap();
        assert!(p.strict);
        assert_eq!(p.micros, 1_698_796_800_000_000);
        assert!(parse("2023-11-01T00:00:00.000Z").unwrap().strict);
    }

    #[test]
    fn lenient_forms_agree() {
        let expected = 1_698_796_800_000_000;
        for text in [
            "2023-11-01 00:00:00",
            "2023-11-01 00:00:00.000",
            "2023-11-01",
            "2023-11-01T00:00",
            "2023-11-01T01:00:00+01:00",
            "11/1/2023",
            "11/01/2023 12:00:00 AM",
        ] {
            let p = parse(text).unwrap();
            assert_eq!(p.micros, expected, "{text}");
            assert!(!p.strict, "{text}");
        }
        assert_eq!(utc("11/1/2023 1:30:00 PM"), expected + (13 * 3600 + 1800) * 1_000_000);
        assert_eq!(utc("11/1/23"), expected);
    }

    #[test]
    fn invalid_hour_is_named() {
        let err = parse("2023-02-01T30:00:00Z").unwrap_err();
        assert_eq!(err, "hour 30 out of range in \"2023-02-01T30:00:00Z\"");
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "NULL", "2023-13-01", "2023-02-30T00:00:00Z", "yesterday", "2023-11-01X00"] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn year_month_of_timestamp() {
        assert_eq!(crate::calendar::year_month(utc("2023-11-30T23:59:59Z")), "2023-11");
    }
}
