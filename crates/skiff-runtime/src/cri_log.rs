//! Container output in the CRI log format the kubelet reads:
//! `<RFC3339Nano> <stdout|stderr> <F|P> <text>\n`, `P` for pieces of lines longer than
//! [`MAX_LINE`] bytes.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};

/// Longest line piece written as one record; longer lines are split into `P` records.
pub const MAX_LINE: usize = 16 * 1024;

/// One record: timestamp, stream, tag and text, newline-terminated.
pub fn format_record(timestamp: &str, stream: &str, partial: bool, text: &[u8]) -> Vec<u8> {
    let tag = if partial { "P" } else { "F" };
    let mut out = Vec::with_capacity(text.len() + timestamp.len() + 12);
    out.extend_from_slice(timestamp.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_bytes());
    out.push(b' ');
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(text);
    out.push(b'\n');
    out
}

/// Copy `reader` (a container's stdout or stderr) into `sink` as CRI records until EOF.
/// Records of both streams go to one file, so the sink is shared and each record is
/// written whole under its lock.
pub fn copy_stream<R: Read, W: Write>(
    mut reader: R,
    stream: &str,
    sink: Arc<Mutex<W>>,
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let eof = n == 0;
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        let mut records = Vec::new();
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
        loop {
            if let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                if pos <= MAX_LINE {
                    records.extend(format_record(&now, stream, false, &pending[..pos]));
                    pending.drain(..=pos);
                    continue;
                }
            }
            if pending.len() > MAX_LINE {
                records.extend(format_record(&now, stream, true, &pending[..MAX_LINE]));
                pending.drain(..MAX_LINE);
                continue;
            }
            break;
        }
        // A last line without a newline is still a whole line: nothing will complete it.
        if eof && !pending.is_empty() {
            records.extend(format_record(&now, stream, false, &pending));
            pending.clear();
        }
        if !records.is_empty() {
            let mut sink = sink
                .lock()
                .map_err(|_| io::Error::other("log writer poisoned"))?;
            sink.write_all(&records)?;
            sink.flush()?;
        }
        if eof {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8]) -> Vec<String> {
        let sink = Arc::new(Mutex::new(Vec::new()));
        copy_stream(input, "stdout", sink.clone()).unwrap();
        let out = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        // Drop the timestamp, which varies.
        out.lines()
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect()
    }

    #[test]
    fn full_lines_and_trailing_piece() {
        assert_eq!(
            records(b"a\nbb\n\nc"),
            vec!["stdout F a", "stdout F bb", "stdout F ", "stdout F c"]
        );
    }

    #[test]
    fn long_lines_are_split_into_partial_records() {
        let mut input = vec![b'x'; MAX_LINE + 5];
        input.push(b'\n');
        let got = records(&input);
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("stdout P xxx"));
        assert_eq!(got[0].len(), "stdout P ".len() + MAX_LINE);
        assert_eq!(got[1], "stdout F xxxxx");
    }

    #[test]
    fn timestamp_is_rfc3339_nano() {
        let sink = Arc::new(Mutex::new(Vec::new()));
        copy_stream(&b"hi\n"[..], "stderr", sink.clone()).unwrap();
        let out = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        let (ts, rest) = out.split_once(' ').unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(ts.len(), "2024-01-02T03:04:05.123456789Z".len());
        assert_eq!(rest, "stderr F hi\n");
    }
}
