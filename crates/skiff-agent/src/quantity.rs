//! Parsing of Kubernetes resource quantities (`100m`, `64Mi`, `1.5`, `2e3`).

/// Why a quantity could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid quantity {0:?}")]
pub struct QuantityError(pub String);

/// The value of a quantity as a float (`100m` → 0.1, `1Ki` → 1024).
pub fn parse_quantity(q: &str) -> Result<f64, QuantityError> {
    let q = q.trim();
    let err = || QuantityError(q.to_string());
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let num: f64 = num.parse().map_err(|_| err())?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| err())?;
            10f64.powi(exp)
        }
        _ => return Err(err()),
    };
    Ok(num * mult)
}

/// CPU in millicores, rounded up (`0.1` → 100, `1` → 1000).
pub fn parse_millicores(q: &str) -> Result<i64, QuantityError> {
    Ok((parse_quantity(q)? * 1000.0).ceil() as i64)
}

/// A byte (or count) quantity, rounded up.
pub fn parse_int(q: &str) -> Result<i64, QuantityError> {
    Ok(parse_quantity(q)?.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (q, want) in [
            ("100m", 100),
            ("1", 1000),
            ("0.5", 500),
            ("2", 2000),
            ("1e0", 1000),
        ] {
            assert_eq!(parse_millicores(q).ok(), Some(want), "{q}");
        }
        for (q, want) in [
            ("64Mi", 67108864),
            ("1Gi", 1073741824),
            ("1k", 1000),
            ("128974848", 128974848),
        ] {
            assert_eq!(parse_int(q).ok(), Some(want), "{q}");
        }
        assert!(parse_quantity("12x").is_err());
        assert!(parse_quantity("").is_err());
    }
}
