//! Go's text forms of JSON values, as client-go's jsonpath prints them into
//! string cells: `fmt.Fprint` for scalars and `json.Marshal` for objects/arrays
//! (sorted keys, HTML-safe escaping, Go float formatting).

use serde_json::{Number, Value};

/// fmt.Fprint of a decoded JSON scalar, json.Marshal of a composite.
pub(crate) fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => fmt_number(n),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => marshal(v),
    }
}

/// `%v` of an int64 or float64 from a decoded JSON number.
fn fmt_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    // Values beyond int64 decode as float64 upstream.
    format_float_g(n.as_f64().unwrap_or(0.0))
}

/// Decimal digits and decimal-point position of the shortest round-trip form.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` is the shortest round-trip form, e.g. "1.2345e6".
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// strconv.FormatFloat(f, 'g', -1, 64), which is what `%v` prints.
pub(crate) fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (digits, dp) = shortest_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    let exp = dp - 1;
    // Shortest formatting uses precision 6 for the %e-vs-%f decision.
    if !(-4..6).contains(&exp) {
        format!("{sign}{}", exp_form(&digits, exp))
    } else {
        format!("{sign}{}", fixed_form(&digits, dp))
    }
}

/// d.ddde±XX with at least two exponent digits.
fn exp_form(digits: &str, exp: i32) -> String {
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let mant = if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}.{rest}")
    };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{esign}{:02}", exp.abs())
}

/// Plain decimal notation with exactly the significant digits.
fn fixed_form(digits: &str, dp: i32) -> String {
    if dp <= 0 {
        format!("0.{}{}", "0".repeat(dp.unsigned_abs() as usize), digits)
    } else if dp as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(dp as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        format!("{int}.{frac}")
    }
}

/// encoding/json's float64 form: %f unless the exponent is < -6 or >= 21.
fn marshal_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, dp) = shortest_digits(f);
        let sign = if f < 0.0 { "-" } else { "" };
        let e = exp_form(&digits, dp - 1);
        // Go trims "e-07" to "e-7".
        let e = e.replace("e-0", "e-").replace("e+0", "e+");
        return format!("{sign}{e}");
    }
    let (digits, dp) = shortest_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    if f == 0.0 {
        return "0".to_string();
    }
    format!("{sign}{}", fixed_form(&digits, dp))
}

/// json.Marshal of a decoded JSON value.
pub(crate) fn marshal(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&marshal_float(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go marshals map[string]interface{} with sorted keys.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                if let Some(val) = map.get(k.as_str()) {
                    write_value(out, val);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // HTML-safe escaping and the JS line separators, as encoding/json does.
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go_percent_v() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (3.0, "3"),
            (123456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.25, "-2.25"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float_g(*f), *want, "{f}");
        }
    }

    #[test]
    fn composites_marshal_like_go() {
        let v = json!({"b": [1, 2.5, "x<y"], "a": {"z": true, "c": null}});
        assert_eq!(
            marshal(&v),
            r#"{"a":{"c":null,"z":true},"b":[1,2.5,"x\u003cy"]}"#
        );
        assert_eq!(marshal(&json!(1e21)), "1e+21");
        assert_eq!(marshal(&json!(0.0000001)), "1e-7");
        assert_eq!(marshal(&json!(100.0)), "100");
    }
}
