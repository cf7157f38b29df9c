//! Storage quantities ("10Gi", "100G", "1.5Ti", "5e9") compared exactly, in bytes.

/// The value of a quantity in whole bytes, rounded up as `Quantity.Value()` does; `None`
/// if `q` is not a quantity. Integer arithmetic, so "1Gi" and "1073741824" compare equal.
pub fn bytes(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let (negative, num) = match num.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    // mantissa × 10^exp10 × 2^exp2
    let mantissa: i128 = format!("{int}{frac}").parse().ok()?;
    let mut exp10 = -(frac.len() as i32);
    let mut exp2 = 0u32;
    match suffix {
        "" => {}
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let i = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .iter()
                .position(|s| *s == suffix)?;
            exp2 = 10 * (i as u32 + 1);
        }
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        s if s.starts_with(['e', 'E']) => exp10 += s[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    let mut v = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    if exp10 >= 0 {
        v = v.checked_mul(10i128.checked_pow(exp10 as u32)?)?;
    } else {
        let d = 10i128.checked_pow(exp10.unsigned_abs())?;
        v = (v + d - 1) / d;
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn table() {
        let cases = [
            ("10Gi", Some(10 << 30)),
            ("1Gi", Some(1 << 30)),
            ("1073741824", Some(1 << 30)),
            ("100G", Some(100_000_000_000)),
            ("1.5Gi", Some(3 << 29)),
            ("5e3", Some(5000)),
            ("500m", Some(1)),
            ("2k", Some(2000)),
            ("abc", None),
            ("1Xi", None),
            ("", None),
        ];
        for (q, want) in cases {
            assert_eq!(bytes(q), want, "{q}");
        }
    }
}
