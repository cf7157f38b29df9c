//! Reading container logs written in the CRI format (`<RFC3339Nano> <stream> <F|P> <text>`),
//! with kubectl's options (tail, since, timestamps, limit, previous, follow).

use std::path::{Path, PathBuf};

/// kubectl's log options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Prefix each line with its timestamp.
    pub timestamps: bool,
    /// The previous (terminated) instance.
    pub previous: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<usize>,
}

/// Why logs cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No such pod or container on this node.
    #[error("container {container:?} in pod {pod:?} not found on this node")]
    NotFound {
        /// Pod `namespace/name`.
        pod: String,
        /// Container.
        container: String,
    },
    /// `previous` asked for, but there was no earlier instance.
    #[error("previous terminated container {0:?} not found")]
    NoPrevious(String),
    /// Reading failed.
    #[error("reading log: {0}")]
    Io(#[from] std::io::Error),
}

/// One parsed CRI log line.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// Timestamp as written.
    pub timestamp: String,
    /// The text, with a newline when the line is complete (F).
    pub text: String,
}

/// Parse one CRI log line; lines not in the format are passed through as text.
pub fn parse_line(line: &str) -> LogLine {
    let mut parts = line.splitn(4, ' ');
    let (ts, stream, tag, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
    match (ts, stream, tag) {
        (Some(ts), Some("stdout" | "stderr"), Some(tag @ ("F" | "P"))) => {
            let mut text = rest.unwrap_or_default().to_string();
            if tag == "F" {
                text.push('\n');
            }
            LogLine {
                timestamp: ts.to_string(),
                text,
            }
        }
        _ => LogLine {
            timestamp: String::new(),
            text: format!("{line}\n"),
        },
    }
}

/// The log files of a container, oldest instance first: `(instance, path)`.
pub fn instances(container_dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(container_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name.strip_suffix(".log")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The directory holding a pod's container logs below `logs_root` (newest pod of that name).
pub fn pod_log_dir(logs_root: &Path, namespace: &str, pod: &str) -> Option<PathBuf> {
    let prefix = format!("{namespace}_{pod}_");
    std::fs::read_dir(logs_root)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)
                .is_some_and(|uid| !uid.contains('_'))
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Render the lines of `content` for the options (everything but follow).
pub fn render(content: &str, opts: &LogOptions, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut lines: Vec<LogLine> = content
        .lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect();
    if let Some(secs) = opts.since_seconds {
        let cutoff = now - chrono::Duration::seconds(secs);
        lines.retain(|l| {
            chrono::DateTime::parse_from_rfc3339(&l.timestamp)
                .map(|t| t.with_timezone(&chrono::Utc) >= cutoff)
                .unwrap_or(true)
        });
    }
    if let Some(n) = opts.tail_lines {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut out = String::new();
    for l in lines {
        if opts.timestamps && !l.timestamp.is_empty() {
            out.push_str(&l.timestamp);
            out.push(' ');
        }
        out.push_str(&l.text);
    }
    if let Some(limit) = opts.limit_bytes {
        let mut cut = limit.min(out.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// The log file to serve for a container.
pub fn select_file(
    logs_root: &Path,
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<PathBuf, LogError> {
    let not_found = || LogError::NotFound {
        pod: format!("{namespace}/{pod}"),
        container: container.to_string(),
    };
    let dir = pod_log_dir(logs_root, namespace, pod)
        .ok_or_else(not_found)?
        .join(container);
    let mut inst = instances(&dir);
    let current = inst.pop().ok_or_else(not_found)?;
    if previous {
        return inst
            .pop()
            .map(|(_, p)| p)
            .ok_or_else(|| LogError::NoPrevious(container.to_string()));
    }
    Ok(current.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-01-01T00:00:00.000000001Z stdout F one\n2026-01-01T00:00:10.5Z stderr P tw\n2026-01-01T00:00:10.6Z stderr F o\n2026-01-01T00:00:20Z stdout F three\n";

    #[test]
    fn render_options() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:25Z")
            .expect("ts")
            .with_timezone(&chrono::Utc);
        let all = LogOptions::default();
        assert_eq!(render(LOG, &all, now), "one\ntwo\nthree\n");
        assert_eq!(
            render(
                LOG,
                &LogOptions {
                    tail_lines: Some(1),
                    ..all.clone()
                },
                now
            ),
            "three\n"
        );
        assert_eq!(
            render(
                LOG,
                &LogOptions {
                    since_seconds: Some(10),
                    ..all.clone()
                },
                now
            ),
            "three\n"
        );
        assert_eq!(
            render(
                LOG,
                &LogOptions {
                    limit_bytes: Some(5),
                    ..all.clone()
                },
                now
            ),
            "one\nt"
        );
        assert_eq!(
            render(
                LOG,
                &LogOptions {
                    timestamps: true,
                    tail_lines: Some(1),
                    ..all.clone()
                },
                now
            ),
            "2026-01-01T00:00:20Z three\n"
        );
    }

    #[test]
    fn previous_instance() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("ns_p_uid1/c");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("0.log"), "x").expect("w");
        assert!(matches!(
            select_file(tmp.path(), "ns", "p", "c", true),
            Err(LogError::NoPrevious(_))
        ));
        std::fs::write(dir.join("1.log"), "y").expect("w");
        assert!(select_file(tmp.path(), "ns", "p", "c", false)
            .expect("cur")
            .ends_with("1.log"));
        assert!(select_file(tmp.path(), "ns", "p", "c", true)
            .expect("prev")
            .ends_with("0.log"));
        assert!(select_file(tmp.path(), "ns", "q", "c", false).is_err());
    }
}
