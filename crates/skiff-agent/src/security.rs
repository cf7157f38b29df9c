//! securityContext → runtime security settings, including the runAsNonRoot check.

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use crate::env::ConfigError;

/// The runtime security settings of a container. `image_user` is the image's USER.
/// Refuses (CreateContainerConfigError) when runAsNonRoot is set and the uid would be 0.
pub fn container_security(
    pod_sc: Option<&PodSecurityContext>,
    c: &Container,
    image_user: &str,
) -> Result<skiff_cri::Security, ConfigError> {
    let sc = c.security_context.as_ref();
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or(pod_sc.and_then(|s| s.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or(pod_sc.and_then(|s| s.run_as_group));
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or(pod_sc.and_then(|s| s.run_as_non_root))
        == Some(true);

    let (img_uid, img_gid) = parse_image_user(image_user);
    let uid: Option<u32> = match run_as_user {
        Some(u) => Some(u as u32),
        None => match &img_uid {
            ImageId::Numeric(n) => Some(*n),
            ImageId::Root => Some(0),
            ImageId::Named => None,
        },
    };
    if non_root {
        match uid {
            Some(0) => return Err(ConfigError::RunAsRoot),
            Some(_) => {}
            None => return Err(ConfigError::NonNumericUser(image_user.to_string())),
        }
    }
    let gid = run_as_group.map(|g| g as u32).or(img_gid).unwrap_or(0);
    let groups: Vec<u32> = pod_sc
        .and_then(|s| s.supplemental_groups.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|g| g as u32)
        .chain(pod_sc.and_then(|s| s.fs_group).map(|g| g as u32))
        .collect();
    // Named image users are left to the runtime (it resolves /etc/passwd in the rootfs).
    let user = uid.map(|u| (u, gid, groups));
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let privileged = sc.and_then(|s| s.privileged) == Some(true);
    Ok(skiff_cri::Security {
        user,
        privileged,
        read_only_rootfs: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
        cap_add: caps.and_then(|c| c.add.clone()).unwrap_or_default(),
        cap_drop: caps.and_then(|c| c.drop.clone()).unwrap_or_default(),
        no_new_privileges: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
        // Upstream's default is Unconfined unless RuntimeDefault is asked for (pod or container).
        seccomp_default: !privileged
            && sc
                .and_then(|s| s.seccomp_profile.as_ref())
                .or(pod_sc.and_then(|s| s.seccomp_profile.as_ref()))
                .is_some_and(|p| p.type_ == "RuntimeDefault"),
    })
}

enum ImageId {
    Root,
    Numeric(u32),
    Named,
}

fn parse_image_user(user: &str) -> (ImageId, Option<u32>) {
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    let uid = if u.is_empty() || u == "root" {
        ImageId::Root
    } else if let Ok(n) = u.parse() {
        ImageId::Numeric(n)
    } else {
        ImageId::Named
    };
    (uid, g.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(sc: serde_json::Value) -> Container {
        serde_json::from_value(json!({"name": "c", "securityContext": sc})).expect("container")
    }

    #[test]
    fn run_as_non_root_table() {
        let cases = [
            (
                json!({"runAsNonRoot": true}),
                "",
                Err("container has runAsNonRoot and image will run as root"),
            ),
            (
                json!({"runAsNonRoot": true}),
                "0",
                Err("container has runAsNonRoot and image will run as root"),
            ),
            (
                json!({"runAsNonRoot": true, "runAsUser": 0}),
                "1000",
                Err("container has runAsNonRoot and image will run as root"),
            ),
            (
                json!({"runAsNonRoot": true}),
                "1000:1000",
                Ok(Some((1000, 1000))),
            ),
            (
                json!({"runAsNonRoot": true, "runAsUser": 5}),
                "",
                Ok(Some((5, 0))),
            ),
            (json!({}), "", Ok(Some((0, 0)))),
            (json!({}), "nobody", Ok(None)),
        ];
        for (sc, user, want) in cases {
            let got = container_security(None, &c(sc.clone()), user)
                .map(|s| s.user.map(|(u, g, _)| (u, g)))
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(|e: &str| e.to_string()), "{sc} {user}");
        }
    }
}
