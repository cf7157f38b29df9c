//! Standard 5-field cron parsing with robfig/cron v3 error wording (CronJob schedules).

use crate::error::ParseError;

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
    let err = |s: String| Err(ParseError::Cron(s));
    let spec = spec.trim();
    if spec.is_empty() {
        return err("empty spec string".to_string());
    }
    if let Some(desc) = spec.strip_prefix('@') {
        return match desc {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ => match desc.strip_prefix("every ") {
                Some(d) if valid_go_duration(d.trim()) => Ok(()),
                Some(d) => err(format!(
                    "failed to parse duration {spec}: time: invalid duration \"{}\"",
                    d.trim()
                )),
                None => err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in fields.iter().zip([MINUTE, HOUR, DOM, MONTH, DOW]) {
        for expr in field.split(',') {
            parse_range(expr, &bounds).map_err(ParseError::Cron)?;
        }
    }
    Ok(())
}

fn parse_range(expr: &str, b: &Bounds) -> Result<(), String> {
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
    Ok(())
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

/// Go `time.ParseDuration` shape: one or more `<number><unit>` groups.
fn valid_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return false;
        }
        rest = &rest[num_len..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .find(|u| rest.starts_with(**u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
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
}
