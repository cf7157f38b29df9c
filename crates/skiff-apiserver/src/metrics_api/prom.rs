//! A parser for the Prometheus text exposition format, enough for kubelet's
//! `/metrics/resource`: samples with labels, values and optional millisecond timestamps.

/// Why a line could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PromError {
    /// The line is not `name{labels} value [timestamp]`.
    #[error("line {line}: {why}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        why: String,
    },
}

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Label pairs in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch, when given.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of label `name` ("" when absent, as Prometheus treats it).
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Parse `{a="x",b="y"}` starting at `rest` (just after `{`); returns the pairs and the text
/// after the closing brace.
fn parse_labels(mut rest: &str) -> Result<(Vec<(String, String)>, &str), String> {
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| "label without '='".to_string())?;
        let name = name.trim();
        if name.is_empty() {
            return Err("empty label name".into());
        }
        let mut chars = after
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: value not quoted"))?
            .char_indices();
        let body = after.trim_start().get(1..).unwrap_or_default();
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("label {name}: unterminated value"))?;
        labels.push((name.to_string(), value));
        rest = body.get(end..).unwrap_or_default().trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parse a whole page; comments and blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Sample>, PromError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |why: String| PromError::Syntax { line: i + 1, why };
        let name_end = line
            .find(|c: char| c == '{' || c.is_whitespace())
            .ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(after) => parse_labels(after).map_err(err)?,
            None => (Vec::new(), &line[name_end..]),
        };
        let mut fields = rest.split_whitespace();
        let value = fields
            .next()
            .and_then(parse_value)
            .ok_or_else(|| err("bad value".into()))?;
        let timestamp_ms = match fields.next() {
            Some(t) => Some(
                t.parse::<i64>()
                    .map_err(|_| err(format!("bad timestamp {t:?}")))?,
            ),
            None => None,
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
            timestamp_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubelet_resource_metrics() {
        let page = "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time\n\
            # TYPE node_cpu_usage_seconds_total counter\n\
            node_cpu_usage_seconds_total 1234.5 1700000000000\n\
            container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web\"} 1.3750272e+07 1700000000123\n\
            container_start_time_seconds{container=\"a\\\"b\",namespace=\"x\\\\y\",pod=\"p\\n\"} 1.7e+09\n\
            \n\
            scrape_error 0\n";
        let s = parse(page).expect("parses");
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "node_cpu_usage_seconds_total");
        assert!(s[0].labels.is_empty());
        assert_eq!(s[0].value, 1234.5);
        assert_eq!(s[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(s[1].label("pod"), "web");
        assert_eq!(s[1].label("container"), "app");
        assert_eq!(s[1].value, 13_750_272.0);
        assert_eq!(s[2].label("container"), "a\"b");
        assert_eq!(s[2].label("namespace"), "x\\y");
        assert_eq!(s[2].label("pod"), "p\n");
        assert_eq!(s[2].timestamp_ms, None);
        assert_eq!(s[3].label("missing"), "");
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(matches!(
            parse("ok 1\nbroken{a=\"x\" 1\n"),
            Err(PromError::Syntax { line: 2, .. })
        ));
        assert!(parse("novalue\n").is_err());
        assert!(parse("m{a=b} 1\n").is_err());
        assert!(parse("m 1 notatime\n").is_err());
        assert!(parse("m{} +Inf\n").expect("inf")[0].value.is_infinite());
    }
}
