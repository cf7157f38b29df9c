//! What a streaming request addresses on this node: the running instance of a pod's
//! container (exec, attach) or the pod's sandbox (port-forward), found from the pod's log
//! directory (`<ns>_<pod>_<uid>`) and the runtime's containers (ids `<uid>_<name>_<n>`).

use http::{Response, StatusCode};
use skiff_cri::{ContainerState, RuntimeService};

use crate::logs;
use crate::server::{text, Body};

/// The uid of the newest pod `ns/pod` on this node.
fn pod_uid(logs_root: &std::path::Path, ns: &str, pod: &str) -> Option<String> {
    let dir = logs::pod_log_dir(logs_root, ns, pod)?;
    let name = dir.file_name()?.to_string_lossy().into_owned();
    name.rsplit('_').next().map(str::to_string)
}

fn not_found(what: String) -> Response<Body> {
    text(StatusCode::NOT_FOUND, what)
}

/// The runtime id of the running instance of `container` in `ns/pod`.
pub(crate) async fn running_container(
    logs_root: &std::path::Path,
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    container: &str,
) -> Result<String, Response<Body>> {
    let uid = pod_uid(logs_root, ns, pod)
        .ok_or_else(|| not_found(format!("pod {ns}/{pod} not found on this node")))?;
    let all = runtime
        .list_containers()
        .await
        .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut found = false;
    for c in all {
        if crate::manager::uid_of_container(&c.id) != Some(uid.as_str()) || c.name != container {
            continue;
        }
        found = true;
        if matches!(c.state, ContainerState::Running { .. }) {
            return Ok(c.id);
        }
    }
    Err(if found {
        text(
            StatusCode::BAD_REQUEST,
            format!("container {container} is not running in pod {ns}/{pod}"),
        )
    } else {
        not_found(format!("container {container} not found in pod {ns}/{pod}"))
    })
}

/// The sandbox id of pod `ns/pod`.
pub(crate) async fn pod_sandbox(
    logs_root: &std::path::Path,
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
) -> Result<String, Response<Body>> {
    let uid = pod_uid(logs_root, ns, pod)
        .ok_or_else(|| not_found(format!("pod {ns}/{pod} not found on this node")))?;
    let all = runtime
        .list_containers()
        .await
        .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    all.into_iter()
        .find(|c| crate::manager::uid_of_container(&c.id) == Some(uid.as_str()))
        .map(|c| c.sandbox_id)
        .ok_or_else(|| not_found(format!("pod {ns}/{pod} has no sandbox on this node")))
}

/// Query pairs with percent-decoding and `+` as space (Go's `url.ParseQuery`).
pub(crate) fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            query_pairs(Some(
                "command=sh&command=-c&command=echo+a%20b%3B&tty=true&x=%zz&y=%4"
            )),
            vec![
                ("command".into(), "sh".into()),
                ("command".into(), "-c".into()),
                ("command".into(), "echo a b;".into()),
                ("tty".into(), "true".into()),
                ("x".into(), "%zz".into()),
                ("y".into(), "%4".into()),
            ]
        );
    }
}
