//! The Kubernetes channel protocol used by exec and attach over websockets: every binary
//! message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error/status,
//! 4 resize); `v5.channel.k8s.io` adds `[255, n]`, "channel n is closed" (the client uses it
//! to end stdin). The status on channel 3 is a `metav1.Status` in JSON.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;

/// `v5.channel.k8s.io`: v4 plus channel-close messages.
pub const V5: &str = "v5.channel.k8s.io";
/// `v4.channel.k8s.io`: binary channels, JSON status on the error channel.
pub const V4: &str = "v4.channel.k8s.io";
/// Process stdin (client to server).
pub const STDIN: u8 = 0;
/// Process stdout.
pub const STDOUT: u8 = 1;
/// Process stderr.
pub const STDERR: u8 = 2;
/// The final status.
pub const ERROR: u8 = 3;
/// Terminal size changes, `{"Width":W,"Height":H}` (client to server).
pub const RESIZE: u8 = 4;
/// v5: `[255, channel]` closes a channel.
pub const CLOSE: u8 = 255;

/// The protocol to answer for a `Sec-WebSocket-Protocol` offer, preferring v5.
pub fn negotiate(offered: &str) -> Option<&'static str> {
    let offers: Vec<&str> = offered.split(',').map(str::trim).collect();
    [V5, V4].into_iter().find(|p| offers.contains(p))
}

/// A message carrying `data` on `channel`.
pub fn message(channel: u8, data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 1);
    b.put_u8(channel);
    b.put_slice(data);
    b.freeze()
}

/// What a client sent, by channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Bytes for stdin.
    Stdin(Bytes),
    /// New terminal size (width, height).
    Resize(u16, u16),
    /// v5: the client closed a channel (stdin when its input ended).
    Close(u8),
    /// Anything else (empty messages, unknown channels, malformed resizes): ignored.
    Ignored,
}

/// Classify one binary message from the client.
pub fn parse(msg: &Bytes, protocol: &str) -> Incoming {
    let Some(&channel) = msg.first() else {
        return Incoming::Ignored;
    };
    let body = msg.slice(1..);
    match channel {
        STDIN => Incoming::Stdin(body),
        RESIZE => {
            let v: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(_) => return Incoming::Ignored,
            };
            let dim = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
            };
            match (dim("Width"), dim("Height")) {
                (Some(w), Some(h)) => Incoming::Resize(w, h),
                _ => Incoming::Ignored,
            }
        }
        CLOSE if protocol == V5 => body
            .first()
            .map_or(Incoming::Ignored, |c| Incoming::Close(*c)),
        _ => Incoming::Ignored,
    }
}

/// The status JSON for a finished command, as the kubelet writes it: Success, or Failure
/// with reason NonZeroExitCode and an ExitCode cause (kubectl exits with that code).
pub fn exit_status(code: i32) -> Bytes {
    let v = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: command terminated with exit code {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
    };
    Bytes::from(v.to_string())
}

/// The status JSON for a session that failed before or while running (an internal error).
pub fn error_status(message: &str) -> Bytes {
    let v = json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    });
    Bytes::from(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_v5() {
        assert_eq!(
            negotiate("v4.channel.k8s.io, v5.channel.k8s.io,channel.k8s.io"),
            Some(V5)
        );
        assert_eq!(negotiate("v4.channel.k8s.io"), Some(V4));
        assert_eq!(negotiate("channel.k8s.io, base64.channel.k8s.io"), None);
    }

    #[test]
    fn messages_by_channel() {
        let m = |b: &'static [u8]| Bytes::from_static(b);
        assert_eq!(parse(&m(b"\x00hi"), V5), Incoming::Stdin(m(b"hi")));
        assert_eq!(
            parse(&m(b"\x04{\"Width\":80,\"Height\":24}"), V5),
            Incoming::Resize(80, 24)
        );
        assert_eq!(parse(&m(b"\x04{\"Width\":-1}"), V5), Incoming::Ignored);
        assert_eq!(parse(&m(b"\xff\x00"), V5), Incoming::Close(0));
        // v4 has no close messages.
        assert_eq!(parse(&m(b"\xff\x00"), V4), Incoming::Ignored);
        assert_eq!(parse(&m(b""), V5), Incoming::Ignored);
        assert_eq!(&message(STDOUT, b"x")[..], b"\x01x");
    }

    #[test]
    fn exit_status_carries_the_code() {
        let ok: serde_json::Value = serde_json::from_slice(&exit_status(0)).expect("json");
        assert_eq!(ok["status"], "Success");
        let failed: serde_json::Value = serde_json::from_slice(&exit_status(3)).expect("json");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
    }
}
