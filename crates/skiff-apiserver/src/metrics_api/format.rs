//! How metrics.k8s.io values print: CPU and memory as canonical resource quantities (what
//! `resource.Quantity` marshals to), windows as Go durations, timestamps as metav1.Time.

/// CPU in nanocores as a canonical DecimalSI quantity: `12345678n`, `12m`, `2`, `1500m`.
pub fn cpu_quantity(nanocores: u64) -> String {
    if nanocores == 0 {
        return "0".into();
    }
    const SUFFIXES: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
    let (mut v, mut i) = (nanocores, 0);
    while v % 1000 == 0 && i + 1 < SUFFIXES.len() {
        v /= 1000;
        i += 1;
    }
    format!("{v}{}", SUFFIXES[i])
}

/// Bytes as a canonical BinarySI quantity: `1234Ki`, `3Mi`; below 1024, or when not a whole
/// number of KiB, the plain number (as `resource.Quantity` does).
pub fn memory_quantity(bytes: u64) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let (mut v, mut i) = (bytes, 0);
    while v % 1024 == 0 && i + 1 < SUFFIXES.len() {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", SUFFIXES[i])
}

/// A duration in milliseconds as Go's `time.Duration.String()`: `500ms`, `10.012s`, `1m5s`.
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{sign}{secs}"),
        (0, m) => format!("{sign}{m}m{secs}"),
        (h, m) => format!("{sign}{h}h{m}m{secs}"),
    }
}

/// Milliseconds since the epoch as metav1.Time JSON (RFC 3339, whole seconds, UTC).
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_canonical_decimal() {
        for (n, want) in [
            (0, "0"),
            (12_345_678, "12345678n"),
            (12_000_000, "12m"),
            (1_500_000_000, "1500m"),
            (2_000_000_000, "2"),
            (1_000, "1u"),
            (3_000_000_000_000, "3k"),
        ] {
            assert_eq!(cpu_quantity(n), want, "{n}");
        }
    }

    #[test]
    fn memory_is_canonical_binary() {
        for (b, want) in [
            (0, "0"),
            (1000, "1000"),
            (5000, "5000"),
            (1234 * 1024, "1234Ki"),
            (3 << 20, "3Mi"),
            (1536 << 10, "1536Ki"),
            (2 << 30, "2Gi"),
        ] {
            assert_eq!(memory_quantity(b), want, "{b}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        for (ms, want) in [
            (0, "0s"),
            (500, "500ms"),
            (10_000, "10s"),
            (10_012, "10.012s"),
            (15_500, "15.5s"),
            (65_000, "1m5s"),
            (3_600_000, "1h0m0s"),
        ] {
            assert_eq!(go_duration(ms), want, "{ms}");
        }
        assert_eq!(timestamp(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
