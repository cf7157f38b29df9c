//! Standard 5-field cron parsing with robfig/cron v3 semantics and error wording: the one
//! parser for CronJob schedules, used by validation (does it parse?) and by the CronJob
//! controller (when does it fire?).

use crate::error::ParseError;
use std::time::Duration;

/// A schedule's five fields as bit sets (bit i set = value i matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronFields {
    /// Minutes 0–59.
    pub minute: u64,
    /// Hours 0–23.
    pub hour: u64,
    /// Days of the month 1–31.
    pub dom: u64,
    /// Months 1–12.
    pub month: u64,
    /// Days of the week 0–6, Sunday = 0.
    pub dow: u64,
    /// Day-of-month was `*` or `?` (then a day must match both day fields, not either).
    pub dom_star: bool,
    /// Day-of-week was `*` or `?`.
    pub dow_star: bool,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronSchedule {
    /// Matching on calendar fields (the @yearly…@hourly macros expand to these).
    Fields(CronFields),
    /// `@every <duration>`: a fixed period, whole seconds, at least one (as robfig).
    Every(Duration),
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// Checks a schedule the way `cron.ParseStandard` would; `Ok` means it parses.
pub fn parse_standard(spec: &str) -> Result<(), ParseError> {
    parse(spec).map(drop)
}

/// Parse a schedule the way `cron.ParseStandard` does.
pub fn parse(spec: &str) -> Result<CronSchedule, ParseError> {
    let err = |s: String| Err(ParseError::Cron(s));
    let spec = spec.trim();
    if spec.is_empty() {
        return err("empty spec string".to_string());
    }
    if let Some(desc) = spec.strip_prefix('@') {
        let fields = match desc {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                return match desc.strip_prefix("every ").map(str::trim) {
                    Some(d) => match go_duration(d) {
                        Some(period) => {
                            let secs = period.as_secs().max(1);
                            Ok(CronSchedule::Every(Duration::from_secs(secs)))
                        }
                        None => err(format!(
                            "failed to parse duration {spec}: time: invalid duration \"{d}\""
                        )),
                    },
                    None => err(format!("unrecognized descriptor: {spec}")),
                };
            }
        };
        return parse(fields);
    }
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if parts.len() != 5 {
        return err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            parts.len(),
            parts.join(" ")
        ));
    }
    let field = |i: usize, b: &Bounds| -> Result<u64, ParseError> {
        let mut bits = 0;
        for expr in parts[i].split(',') {
            bits |= parse_range(expr, b).map_err(ParseError::Cron)?;
        }
        Ok(bits)
    };
    Ok(CronSchedule::Fields(CronFields {
        minute: field(0, &MINUTE)?,
        hour: field(1, &HOUR)?,
        dom: field(2, &DOM)?,
        month: field(3, &MONTH)?,
        dow: field(4, &DOW)?,
        dom_star: parts[2].starts_with(['*', '?']),
        dow_star: parts[4].starts_with(['*', '?']),
    }))
}

/// The values `expr` (one list element: `*`, `N`, `N-M`, with an optional `/step`)
/// matches, as a bit set.
fn parse_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        (b.min, b.max)
    } else {
        let start = parse_int_or_name(low_high[0], b.names)?;
        let end = match low_high.len() {
            1 => start,
            2 => parse_int_or_name(low_high[1], b.names)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits)
}

fn parse_int_or_name(s: &str, names: &[&str]) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(pos) = names.iter().position(|n| *n == lower) {
        // Month names start at 1, weekday names at 0.
        let base = if names.len() == 12 { 1 } else { 0 };
        return Ok(pos as u32 + base);
    }
    must_parse_int(s)
}

fn must_parse_int(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {s}")),
        Ok(n) => u32::try_from(n).map_err(|_| {
            format!(
                "failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": value out of range"
            )
        }),
        Err(_) => Err(format!(
            "failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": invalid syntax"
        )),
    }
}

/// Go's `time.ParseDuration`: one or more `<number><unit>` groups with an optional sign
/// (units ns, us, µs, ms, s, m, h); None when malformed. Negative durations come back as
/// zero (a schedule period cannot be negative; robfig raises it to one second anyway).
fn go_duration(s: &str) -> Option<Duration> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, scale) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        total += n * scale;
        rest = &rest[unit.len()..];
    }
    if negative {
        return Some(Duration::ZERO);
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("*/5 * * * *", None),
            ("0 0 * * SUN", None),
            ("0 12 1-15 JAN,feb ?", None),
            ("@hourly", None),
            ("@every 1h30m", None),
            (
                "* * * *",
                Some("expected exactly 4 fields, found 4: [* * * *]"),
            ),
            (
                "61 * * * *",
                Some("end of range (61) above maximum (59): 61"),
            ),
            (
                "* * 0 * *",
                Some("beginning of range (0) below minimum (1): 0"),
            ),
            (
                "5-1 * * * *",
                Some("beginning of range (5) beyond end of range (1): 5-1"),
            ),
            (
                "*/0 * * * *",
                Some("step of range should be a positive number: */0"),
            ),
            (
                "x * * * *",
                Some("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ),
            (
                "@fortnightly",
                Some("unrecognized descriptor: @fortnightly"),
            ),
            ("1-2-3 * * * *", Some("too many hyphens: 1-2-3")),
        ];
        for (spec, want) in cases {
            let got = parse_standard(spec).err().map(|e| e.to_string());
            let want = want.map(|w| w.replace("exactly 4 fields", "exactly 5 fields"));
            assert_eq!(got, want, "{spec}");
        }
    }

    #[test]
    fn fields_become_bit_sets_and_macros_expand() {
        let CronSchedule::Fields(f) = parse("*/15 9-17 * JAN,jun 1-5").expect("parses") else {
            panic!("fields expected");
        };
        assert_eq!(f.minute, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(f.hour, (9..=17).fold(0, |b, h| b | 1 << h));
        assert_eq!(f.month, 1 << 1 | 1 << 6);
        assert_eq!(f.dow, (1..=5).fold(0, |b, d| b | 1 << d));
        assert!(f.dom_star && !f.dow_star);
        assert_eq!(parse("@daily"), parse("0 0 * * *"));
        assert_eq!(parse("@weekly"), parse("0 0 * * 0"));
        let CronSchedule::Fields(f) = parse("5/20 * * * *").expect("parses") else {
            panic!("fields expected");
        };
        assert_eq!(
            f.minute,
            1 << 5 | 1 << 25 | 1 << 45,
            "N/step runs to the maximum"
        );
    }

    #[test]
    fn every_takes_whole_seconds_at_least_one() {
        let every = |s: &str| match parse(s) {
            Ok(CronSchedule::Every(d)) => d,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(every("@every 1h30m"), Duration::from_secs(5400));
        assert_eq!(every("@every 1.5s"), Duration::from_secs(1));
        assert_eq!(every("@every 500ms"), Duration::from_secs(1));
        assert!(parse("@every 5x").is_err());
    }
}
