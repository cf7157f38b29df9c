//! The UDP and TCP listeners (RFC 1035 4.2; RFC 7766 for TCP).

use crate::forward::{read_frame, write_frame};
use crate::handler::{Handler, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tracing::Instrument;

/// A TCP connection idle this long is closed (RFC 7766 6.2.3 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Bound UDP and TCP sockets on one address.
pub struct DnsServer {
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
}

impl DnsServer {
    /// Bind UDP and TCP on `addr`; with port 0 both get the same free port.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<DnsServer> {
        let mut last_err = None;
        // With port 0 the UDP port the kernel picks may be taken for TCP: try a few.
        for _ in 0..8 {
            let udp = UdpSocket::bind(addr).await?;
            match TcpListener::bind(udp.local_addr()?).await {
                Ok(tcp) => {
                    return Ok(DnsServer {
                        udp: Arc::new(udp),
                        tcp,
                    })
                }
                Err(e) if addr.port() == 0 => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Serve until `shutdown` turns true.
    pub async fn run(self, handler: Arc<Handler>, mut shutdown: watch::Receiver<bool>) {
        let udp = serve_udp(self.udp, handler.clone());
        let tcp = serve_tcp(self.tcp, handler);
        tokio::select! {
            _ = udp => {}
            _ = tcp => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, handler: Arc<Handler>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "dns udp receive failed");
                continue;
            }
        };
        let query = buf[..n].to_vec();
        let sock = sock.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            if let Some(answer) = handler.handle(&query, Transport::Udp, peer.ip()).await {
                if let Err(e) = sock.send_to(&answer, peer).await {
                    tracing::debug!(%peer, error = %e, "dns udp send failed");
                }
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, handler: Arc<Handler>) {
    loop {
        let (mut conn, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "dns tcp accept failed");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(
            async move {
                while let Ok(Ok(query)) =
                    tokio::time::timeout(TCP_IDLE, read_frame(&mut conn)).await
                {
                    let Some(answer) = handler.handle(&query, Transport::Tcp, peer.ip()).await
                    else {
                        return;
                    };
                    if write_frame(&mut conn, &answer).await.is_err() {
                        return;
                    }
                }
            }
            .instrument(tracing::debug_span!("dns-tcp", %peer)),
        );
    }
}
