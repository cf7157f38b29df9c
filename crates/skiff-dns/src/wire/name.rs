//! Domain names: labels as raw bytes (case kept for echoing questions, compared without
//! case as RFC 4343 says), decoded with compression pointers and encoded with compression.

use super::WireError;
use std::collections::HashMap;
use std::fmt;

/// Longest name on the wire, length bytes and terminating zero included (RFC 1035 3.1).
const MAX_NAME: usize = 255;
/// Longest label (RFC 1035 2.3.4).
const MAX_LABEL: usize = 63;
/// Compression pointers can address only the first 16 KiB of a message.
const MAX_POINTER: usize = 0x3FFF;

/// A fully qualified domain name.
#[derive(Debug, Clone, Default)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.labels.len() == other.labels.len()
            && self
                .labels
                .iter()
                .zip(&other.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl Eq for Name {}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name::default()
    }

    /// Parse dotted text (`web.default.svc.cluster.local`, trailing dot optional).
    pub fn parse(text: &str) -> Result<Name, WireError> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() {
            return Ok(Name::root());
        }
        let mut labels = Vec::new();
        let mut wire_len = 1;
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(WireError::EmptyLabel(text.to_string()));
            }
            if label.len() > MAX_LABEL {
                return Err(WireError::NameTooLong);
            }
            wire_len += label.len() + 1;
            labels.push(label.as_bytes().to_vec());
        }
        if wire_len > MAX_NAME {
            return Err(WireError::NameTooLong);
        }
        Ok(Name { labels })
    }

    /// The labels, leftmost first.
    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    /// The labels before `suffix`, lowercased, if this name is `suffix` or below it.
    pub fn relative_to(&self, suffix: &Name) -> Option<Vec<String>> {
        let n = suffix.labels.len();
        if self.labels.len() < n {
            return None;
        }
        let split = self.labels.len() - n;
        let tail_matches = self.labels[split..]
            .iter()
            .zip(&suffix.labels)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
        tail_matches.then(|| {
            self.labels[..split]
                .iter()
                .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
                .collect()
        })
    }

    /// This name with `labels` (leftmost first) prepended.
    pub fn prepend(&self, labels: &[&str]) -> Result<Name, WireError> {
        let mut text = labels.join(".");
        text.push('.');
        text.push_str(&self.to_string());
        Name::parse(&text)
    }

    /// Read a name at `*pos`, following compression pointers; `*pos` ends after it.
    pub fn decode(msg: &[u8], pos: &mut usize) -> Result<Name, WireError> {
        let mut labels = Vec::new();
        let mut p = *pos;
        let mut jumped = false;
        let mut wire_len = 1;
        loop {
            let len = *msg.get(p).ok_or(WireError::Truncated(p))?;
            match len & 0xC0 {
                0x00 if len == 0 => {
                    if !jumped {
                        *pos = p + 1;
                    }
                    return Ok(Name { labels });
                }
                0x00 => {
                    let len = usize::from(len);
                    let label = msg
                        .get(p + 1..p + 1 + len)
                        .ok_or(WireError::Truncated(p + 1))?;
                    wire_len += len + 1;
                    if wire_len > MAX_NAME {
                        return Err(WireError::NameTooLong);
                    }
                    labels.push(label.to_vec());
                    p += 1 + len;
                }
                0xC0 => {
                    let low = *msg.get(p + 1).ok_or(WireError::Truncated(p + 1))?;
                    let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                    // Only backward pointers: that alone rules out loops.
                    if target >= p {
                        return Err(WireError::BadPointer(p));
                    }
                    if !jumped {
                        *pos = p + 2;
                        jumped = true;
                    }
                    p = target;
                }
                _ => return Err(WireError::BadLabel(len)),
            }
        }
    }

    /// Append this name to `out`, pointing at an earlier copy of any suffix.
    pub fn encode(&self, out: &mut Vec<u8>, comp: &mut Compressor) {
        for i in 0..self.labels.len() {
            let key = suffix_key(&self.labels[i..]);
            if let Some(&offset) = comp.offsets.get(&key) {
                out.extend_from_slice(&(0xC000 | offset).to_be_bytes());
                return;
            }
            if out.len() <= MAX_POINTER {
                comp.offsets.insert(key, out.len() as u16);
            }
            let label = &self.labels[i];
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
    }

    /// Append this name without compression (names inside OPT or for hashing).
    pub fn encode_plain(&self, out: &mut Vec<u8>) {
        for label in &self.labels {
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
    }
}

fn suffix_key(labels: &[Vec<u8>]) -> Vec<u8> {
    let mut key = Vec::new();
    for l in labels {
        key.push(l.len() as u8);
        key.extend(l.iter().map(u8::to_ascii_lowercase));
    }
    key
}

/// Where each name suffix already written into a message starts.
#[derive(Debug, Default)]
pub struct Compressor {
    offsets: HashMap<Vec<u8>, u16>,
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for label in &self.labels {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7E => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let n = Name::parse("Web.default.svc.cluster.local").unwrap();
        assert_eq!(n.to_string(), "Web.default.svc.cluster.local.");
        assert_eq!(n, Name::parse("web.DEFAULT.svc.cluster.local.").unwrap());
        assert_eq!(Name::parse(".").unwrap(), Name::root());
        assert!(Name::parse("a..b").is_err());
        assert!(Name::parse(&"a".repeat(64)).is_err());
        assert!(Name::parse(&["abcdefghi"; 30].join(".")).is_err());
    }

    #[test]
    fn relative_to_strips_the_zone_case_insensitively() {
        let zone = Name::parse("cluster.local").unwrap();
        let n = Name::parse("Web.default.svc.CLUSTER.local").unwrap();
        assert_eq!(
            n.relative_to(&zone),
            Some(vec!["web".into(), "default".into(), "svc".into()])
        );
        assert_eq!(Name::parse("example.com").unwrap().relative_to(&zone), None);
        assert_eq!(Name::parse("local").unwrap().relative_to(&zone), None);
    }

    #[test]
    fn compression_reuses_suffixes_and_decodes_back() {
        let mut out = vec![0u8; 12];
        let mut comp = Compressor::default();
        let a = Name::parse("a.svc.cluster.local").unwrap();
        let b = Name::parse("b.SVC.cluster.local").unwrap();
        a.encode(&mut out, &mut comp);
        let b_start = out.len();
        b.encode(&mut out, &mut comp);
        // "b" label (2 bytes) + a 2-byte pointer to "svc.cluster.local" in `a`.
        assert_eq!(out.len() - b_start, 4);
        assert_eq!(&out[b_start + 2..], &[0xC0, 14]);
        let mut pos = 12;
        assert_eq!(Name::decode(&out, &mut pos).unwrap(), a);
        assert_eq!(pos, b_start);
        let decoded = Name::decode(&out, &mut pos).unwrap();
        assert_eq!(decoded.to_string(), "b.svc.cluster.local.");
        assert_eq!(pos, out.len());
    }

    #[test]
    fn decode_rejects_loops_forward_pointers_and_truncation() {
        // A pointer to itself.
        let msg = [0xC0, 0x00];
        assert_eq!(Name::decode(&msg, &mut 0), Err(WireError::BadPointer(0)));
        // A pointer forward.
        let msg = [0xC0, 0x02, 0x00];
        assert!(Name::decode(&msg, &mut 0).is_err());
        // A label running past the end.
        let msg = [0x05, b'a', b'b'];
        assert_eq!(Name::decode(&msg, &mut 0), Err(WireError::Truncated(1)));
        // Reserved label type.
        let msg = [0x40, 0x00];
        assert_eq!(Name::decode(&msg, &mut 0), Err(WireError::BadLabel(0x40)));
    }
}
