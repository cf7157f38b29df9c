//! A small, exact Kubernetes `resource.Quantity`: parse, compare, canonical string.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::ParseError;

/// How a quantity is written; decides its canonical suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// Powers of 1024: Ki, Mi, Gi, Ti, Pi, Ei.
    BinarySI,
    /// Powers of 1000: n, u, m, k, M, G, T, P, E.
    DecimalSI,
    /// `e<n>` / `E<n>` exponents.
    DecimalExponent,
}

/// An exact quantity: `mantissa * 10^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
    format: QuantityFormat,
}

impl Quantity {
    /// Parses the string form (`500m`, `1Gi`, `1e3`, `0.5`).
    pub fn parse(s: &str) -> Result<Quantity, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::QuantityFormat);
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let negative = match bytes[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        let mut mantissa: i128 = 0;
        let mut exp: i32 = 0;
        let mut digits = 0usize;
        let mut seen_dot = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                digits += 1;
                // Digits beyond what i128 holds only matter below nano precision; drop them.
                if let Some(m) = mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(i128::from(c - b'0')))
                {
                    mantissa = m;
                    if seen_dot {
                        exp -= 1;
                    }
                } else if !seen_dot {
                    return Err(ParseError::QuantityRange);
                }
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            i += 1;
        }
        if digits == 0 {
            return Err(ParseError::QuantityFormat);
        }
        let suffix = &s[i..];
        let (format, exp10, pow2) = parse_suffix(suffix)?;
        exp = exp.checked_add(exp10).ok_or(ParseError::QuantityRange)?;
        for _ in 0..pow2 {
            mantissa = mantissa.checked_mul(2).ok_or(ParseError::QuantityRange)?;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut q = Quantity {
            mantissa,
            exp,
            format,
        };
        q.round_to_nano();
        q.normalize();
        Ok(q)
    }

    /// Parses the JSON form: a string, or a bare number as upstream also accepts.
    pub fn from_json(v: &Value) -> Result<Quantity, ParseError> {
        match v {
            Value::String(s) => Quantity::parse(s),
            Value::Number(n) => Quantity::parse(&n.to_string()),
            _ => Err(ParseError::QuantityFormat),
        }
    }

    /// The format the quantity was written in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Upstream rounds anything finer than 1n up (away from zero) on parse.
    fn round_to_nano(&mut self) {
        while self.exp < -9 {
            let rem = self.mantissa % 10;
            self.mantissa /= 10;
            // `rem` carries the sign of the value, so adding its signum rounds away from zero.
            self.mantissa += rem.signum();
            self.exp += 1;
        }
    }

    fn normalize(&mut self) {
        if self.mantissa == 0 {
            self.exp = 0;
            return;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exp += 1;
        }
    }

    /// Canonical string, as upstream `Quantity.String()`.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI {
            let small =
                self.cmp_int(-1024) == Ordering::Greater && self.cmp_int(1024) == Ordering::Less;
            if small || self.exp < 0 {
                format = QuantityFormat::DecimalSI;
            } else if let Some(mut n) = self.as_integer() {
                let mut pow = 0;
                while pow < 6 && n % 1024 == 0 {
                    n /= 1024;
                    pow += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][pow];
                return format!("{n}{suffix}");
            } else {
                format = QuantityFormat::DecimalSI;
            }
        }
        // Exponent rounded down to a multiple of three, mantissa scaled to stay exact.
        let e3 = self.exp.div_euclid(3) * 3;
        let mut m = self.mantissa;
        for _ in 0..(self.exp - e3) {
            m *= 10;
        }
        let suffix = match format {
            QuantityFormat::DecimalExponent => {
                if e3 == 0 {
                    String::new()
                } else {
                    format!("e{e3}")
                }
            }
            _ => match e3 {
                -9 => "n".to_string(),
                -6 => "u".to_string(),
                -3 => "m".to_string(),
                0 => String::new(),
                3 => "k".to_string(),
                6 => "M".to_string(),
                9 => "G".to_string(),
                12 => "T".to_string(),
                15 => "P".to_string(),
                18 => "E".to_string(),
                other => format!("e{other}"),
            },
        };
        format!("{m}{suffix}")
    }

    fn as_integer(&self) -> Option<i128> {
        if self.exp < 0 {
            return None;
        }
        let mut n = self.mantissa;
        for _ in 0..self.exp {
            n = n.checked_mul(10)?;
        }
        Some(n)
    }

    fn cmp_int(&self, n: i64) -> Ordering {
        self.cmp_value(&Quantity {
            mantissa: i128::from(n),
            exp: 0,
            format: QuantityFormat::DecimalSI,
        })
    }

    /// Numeric comparison, independent of format.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        let (a, b) = (self, other);
        let min = a.exp.min(b.exp);
        match (
            scale_up(a.mantissa, a.exp - min),
            scale_up(b.mantissa, b.exp - min),
        ) {
            (Some(x), Some(y)) => x.cmp(&y),
            // Out of exact range: compare approximately, good enough for ordering.
            _ => {
                let fa = a.mantissa as f64 * 10f64.powi(a.exp);
                let fb = b.mantissa as f64 * 10f64.powi(b.exp);
                fa.partial_cmp(&fb).unwrap_or(Ordering::Equal)
            }
        }
    }
}

fn scale_up(m: i128, by: i32) -> Option<i128> {
    let mut m = m;
    for _ in 0..by {
        m = m.checked_mul(10)?;
    }
    Some(m)
}

/// Returns (format, power of ten, power of two).
fn parse_suffix(s: &str) -> Result<(QuantityFormat, i32, u32), ParseError> {
    let dec = |e| Ok((QuantityFormat::DecimalSI, e, 0));
    let bin = |p| Ok((QuantityFormat::BinarySI, 0, p));
    match s {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = s.strip_prefix('e').or_else(|| s.strip_prefix('E'));
            let Some(rest) = rest else {
                return Err(
                    if s.bytes().all(|c| b"eEinumkKMGTP+-0123456789".contains(&c)) {
                        ParseError::QuantitySuffix
                    } else {
                        ParseError::QuantityFormat
                    },
                );
            };
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ParseError::QuantitySuffix);
            }
            let e: i32 = rest.parse().map_err(|_| ParseError::QuantityRange)?;
            if !(-1000..=1000).contains(&e) {
                return Err(ParseError::QuantityRange);
            }
            Ok((QuantityFormat::DecimalExponent, e, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("500m", "500m"),
            ("0.5", "500m"),
            ("1", "1"),
            ("1000", "1k"),
            ("1200", "1200"),
            ("1.5", "1500m"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1500Mi", "1500Mi"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("100Gi", "100Gi"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("0", "0"),
            ("-1", "-1"),
            ("2.5Gi", "2560Mi"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("+3k", "3k"),
        ];
        for (input, want) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.canonical(), want, "{input}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("", ParseError::QuantityFormat),
            ("abc", ParseError::QuantityFormat),
            ("1Gb", ParseError::QuantityFormat),
            ("1kK", ParseError::QuantitySuffix),
            ("1x", ParseError::QuantityFormat),
            (".", ParseError::QuantityFormat),
            ("1e", ParseError::QuantitySuffix),
        ];
        for (input, want) in cases {
            assert_eq!(Quantity::parse(input), Err(want), "{input}");
        }
    }

    #[test]
    fn comparisons() {
        let cases = [
            ("500m", "1", Ordering::Less),
            ("1Gi", "1000Mi", Ordering::Greater),
            ("1k", "1000", Ordering::Equal),
            ("2", "1500m", Ordering::Greater),
            ("-1", "0", Ordering::Less),
        ];
        for (a, b, want) in cases {
            let (qa, qb) = (
                Quantity::parse(a).unwrap_or_else(|e| panic!("{e}")),
                Quantity::parse(b).unwrap_or_else(|e| panic!("{e}")),
            );
            assert_eq!(qa.cmp_value(&qb), want, "{a} vs {b}");
        }
        assert!(
            Quantity::from_json(&serde_json::json!(0.25)).is_ok_and(|q| q.canonical() == "250m")
        );
        assert!(Quantity::parse("-1").is_ok_and(|q| q.is_negative()));
    }
}
