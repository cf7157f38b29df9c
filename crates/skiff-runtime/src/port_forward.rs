//! Port-forward dials: a TCP connection to `127.0.0.1:port` made from inside a pod's network
//! namespace, by a short-lived thread that enters the namespace (so no async worker ever
//! leaves the host's), then handed to tokio.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use skiff_cri::RuntimeError;
use tokio::net::TcpStream;

use crate::sys;

/// How long a connect may take (a filtered port would otherwise hang the client).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connect to `127.0.0.1:port` in the network namespace at `netns` (None: the host's).
pub async fn dial(netns: Option<PathBuf>, port: u16) -> Result<TcpStream, RuntimeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let ns = netns.clone();
    std::thread::Builder::new()
        .name("skiff-port-forward".into())
        .spawn(move || {
            let result = (|| -> std::io::Result<std::net::TcpStream> {
                if let Some(path) = &ns {
                    let file = std::fs::File::open(path)?;
                    sys::enter_netns(file.as_fd())?;
                }
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            })();
            // The thread (and its namespace) ends here; the socket stays in the pod's.
            let _ = tx.send(result);
        })?;
    let where_ = if netns.is_some() {
        "in the pod's network namespace"
    } else {
        "on the host"
    };
    let stream = rx
        .await
        .map_err(|_| RuntimeError::Failed("port-forward dial thread vanished".into()))?
        .map_err(|e| RuntimeError::Failed(format!("dial 127.0.0.1:{port} {where_}: {e}")))?;
    stream.set_nonblocking(true)?;
    let _ = stream.set_nodelay(true);
    Ok(TcpStream::from_std(stream)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dials_on_the_host_without_a_namespace() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (dialed, accepted) = tokio::join!(dial(None, port), listener.accept());
        let dialed = dialed.expect("dial");
        let (peer, _) = accepted.expect("accept");
        assert_eq!(
            dialed.local_addr().expect("local"),
            peer.peer_addr().expect("peer")
        );
        drop(listener);
        let err = dial(None, port).await.expect_err("refused");
        assert!(err.to_string().contains("on the host"), "{err}");
    }
}
