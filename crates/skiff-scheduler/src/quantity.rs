//! Parsing Kubernetes resource quantities ("100m", "1.5", "128Mi", "2G", "1e3").

use thiserror::Error;

/// A quantity string that is not a Kubernetes quantity.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid quantity {0:?}")]
pub struct QuantityError(pub String);

/// Binary and decimal suffixes, longest first so "Mi" wins over "M".
const SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

/// The value of `q` in thousandths of a unit, rounded up like `Quantity.MilliValue()`.
pub fn parse_milli(q: &str) -> Result<i64, QuantityError> {
    let v = parse_f64(q)?;
    Ok(round_up(v * 1000.0))
}

/// The value of `q` in whole units, rounded up like `Quantity.Value()`.
pub fn parse_value(q: &str) -> Result<i64, QuantityError> {
    let v = parse_f64(q)?;
    Ok(round_up(v))
}

fn round_up(v: f64) -> i64 {
    // Float noise (0.1 * 1000 = 100.00000000000001) must not round 100m up to 101m.
    let r = v.round();
    if (v - r).abs() < 1e-6 {
        r as i64
    } else {
        v.ceil() as i64
    }
}

fn parse_f64(q: &str) -> Result<f64, QuantityError> {
    let bad = || QuantityError(q.to_string());
    let s = q.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let (number, multiplier) = match SUFFIXES.iter().find(|(sfx, _)| s.ends_with(sfx)) {
        Some((sfx, mult)) => (&s[..s.len() - sfx.len()], *mult),
        None => match s.find(['e', 'E']) {
            Some(pos) => {
                let exp: i32 = s[pos + 1..].parse().map_err(|_| bad())?;
                (&s[..pos], 10f64.powi(exp))
            }
            None => (s, 1.0),
        },
    };
    if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '+' || c == '-')
    {
        return Err(bad());
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    Ok(n * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_upstream() {
        let cases: &[(&str, i64, i64)] = &[
            ("100m", 100, 1),
            ("1", 1000, 1),
            ("1.5", 1500, 2),
            ("0.1", 100, 1),
            ("128Mi", 134_217_728_000, 134_217_728),
            ("2G", 2_000_000_000_000, 2_000_000_000),
            ("1e3", 1_000_000, 1000),
            ("1Ki", 1_024_000, 1024),
            ("250u", 1, 1),
        ];
        for (q, milli, value) in cases {
            assert_eq!(parse_milli(q), Ok(*milli), "milli of {q}");
            assert_eq!(parse_value(q), Ok(*value), "value of {q}");
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for q in ["", "abc", "1Qi", "Mi"] {
            assert!(parse_milli(q).is_err(), "{q}");
        }
    }
}
