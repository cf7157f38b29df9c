//! A tiny protobuf encoder for building test bodies the way gogo-protobuf writes them.

use crate::MAGIC;

/// A message under construction.
#[derive(Default, Clone)]
pub(crate) struct Enc(pub Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Enc {
    pub(crate) fn new() -> Self {
        Enc::default()
    }

    fn tag(mut self, num: u32, wire: u8) -> Self {
        put_varint(&mut self.0, (u64::from(num) << 3) | u64::from(wire));
        self
    }

    /// A varint field (int32/int64/bool); negative values use ten bytes, as Go does.
    pub(crate) fn int(self, num: u32, v: i64) -> Self {
        let mut s = self.tag(num, 0);
        put_varint(&mut s.0, v as u64);
        s
    }

    pub(crate) fn boolean(self, num: u32, v: bool) -> Self {
        self.int(num, i64::from(v))
    }

    pub(crate) fn bytes(self, num: u32, v: &[u8]) -> Self {
        let mut s = self.tag(num, 2);
        put_varint(&mut s.0, v.len() as u64);
        s.0.extend_from_slice(v);
        s
    }

    pub(crate) fn str(self, num: u32, v: &str) -> Self {
        self.bytes(num, v.as_bytes())
    }

    pub(crate) fn msg(self, num: u32, m: Enc) -> Self {
        self.bytes(num, &m.0)
    }

    /// A map<string, string> entry.
    pub(crate) fn entry(self, num: u32, key: &str, value: &str) -> Self {
        self.msg(num, Enc::new().str(1, key).str(2, value))
    }

    /// Raw bytes appended as-is (for malformed input).
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
}

/// Wrap a typed object in `k8s\0` + runtime.Unknown, as client-go does.
pub(crate) fn envelope(api_version: &str, kind: &str, object: Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().str(1, api_version).str(2, kind))
        .msg(2, object)
        .str(3, "")
        .str(4, "");
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&unknown.0);
    out
}

/// ObjectMeta as gogo writes it for a fresh client-side object: every non-pointer scalar
/// is present even when empty, and the zero creationTimestamp is an empty message.
pub(crate) fn object_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Enc {
    let mut m = Enc::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .int(7, 0)
        .msg(8, Enc::new());
    for (k, v) in labels {
        m = m.entry(11, k, v);
    }
    m
}
