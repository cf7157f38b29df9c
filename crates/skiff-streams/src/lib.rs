//! Wire protocols of pod streams (`kubectl exec`, `attach`, `port-forward`), without policy:
//! RFC 6455 websocket framing over an upgraded byte stream ([`websocket`]), the Kubernetes
//! channel protocol `v5.channel.k8s.io`/`v4.channel.k8s.io` ([`channel`]), SPDY/3.1 frames
//! ([`spdy`]) with zlib-compressed header blocks ([`spdy_headers`]), and websocket binary
//! messages carried as a plain byte stream ([`tunnel`], for SPDY over websockets).

pub mod channel;
pub mod spdy;
pub mod spdy_headers;
pub mod tunnel;
pub mod websocket;

pub use spdy::SpdyError;
pub use websocket::WsError;
