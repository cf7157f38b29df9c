//! Text forms of meta/v1 Time, MicroTime and Duration, as Go prints them.

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
pub(crate) const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// Format Unix seconds (plus optional microseconds) as RFC 3339 in UTC.
///
/// `micros = None` gives Go's `time.RFC3339` ("2006-01-02T15:04:05Z"); `Some` gives the
/// six-digit form metav1.MicroTime uses ("2006-01-02T15:04:05.000000Z").
pub(crate) fn rfc3339(seconds: i64, micros: Option<u32>) -> String {
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    match micros {
        None => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
        Some(us) => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}Z"),
    }
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Format nanoseconds the way Go's `time.Duration.String` does ("1h2m3.5s", "1.5ms", "0s").
pub(crate) fn go_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Below one second Go switches to the largest unit that keeps an integer part.
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let frac = fraction(&mut u, prec);
        out.push_str(&u.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let frac = fraction(&mut u, 9);
        let secs = u % 60;
        let minutes = u / 60;
        if minutes > 0 {
            let hours = minutes / 60;
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{}m", minutes % 60));
        }
        out.push_str(&format!("{secs}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Split off the low `prec` decimal digits of `v` as ".ddd" without trailing zeros
/// (empty when they are all zero), leaving the integer part in `v`.
fn fraction(v: &mut u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let low = *v % scale;
    *v /= scale;
    if low == 0 {
        return String::new();
    }
    let digits = format!("{low:0width$}", width = prec as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_go() {
        let cases: &[(i64, Option<u32>, &str)] = &[
            (0, None, "1970-01-01T00:00:00Z"),
            (1_704_164_645, None, "2024-01-02T03:04:05Z"),
            (951_782_400, None, "2000-02-29T00:00:00Z"),
            (1_709_251_199, None, "2024-02-29T23:59:59Z"),
            (-1, None, "1969-12-31T23:59:59Z"),
            (253_402_300_799, None, "9999-12-31T23:59:59Z"),
            (GO_ZERO_TIME_UNIX, None, "0001-01-01T00:00:00Z"),
            (1_704_164_645, Some(123_456), "2024-01-02T03:04:05.123456Z"),
            (1_704_164_645, Some(0), "2024-01-02T03:04:05.000000Z"),
        ];
        for (secs, micros, want) in cases {
            assert_eq!(rfc3339(*secs, *micros), *want, "seconds {secs}");
        }
    }

    #[test]
    fn duration_matches_go_string() {
        // Expected values are what Go's time.Duration(n).String() prints.
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_001, "1h2m3.000000001s"),
            (-1_500_000_000, "-1.5s"),
            (-999, "-999ns"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (i64::MAX, "2562047h47m16.854775807s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(go_duration(*nanos), *want, "nanos {nanos}");
        }
    }
}
