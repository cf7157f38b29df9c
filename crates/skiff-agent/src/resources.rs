//! Resource requests/limits → QoS class and cgroup values, as the kubelet computes them.

use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};

use crate::env::ConfigError;
use crate::quantity::{parse_int, parse_millicores};

/// CFS period the agent uses for every quota (µs).
pub const CPU_PERIOD: u64 = 100_000;

/// A pod's quality-of-service class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosClass {
    /// Every container has equal cpu and memory requests and limits.
    Guaranteed,
    /// Some request or limit, not guaranteed.
    Burstable,
    /// No requests or limits at all.
    BestEffort,
}

impl QosClass {
    /// The name in `status.qosClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }

    /// The cgroup parent of a pod of this class.
    pub fn cgroup_parent(self, pod_uid: &str) -> String {
        let class = self.as_str().to_ascii_lowercase();
        format!("/skiff/{class}/pod{pod_uid}")
    }
}

fn quantity(r: Option<&ResourceRequirements>, limits: bool, name: &str) -> Option<String> {
    let r = r?;
    let m = if limits {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }?;
    m.get(name).map(|q| q.0.clone())
}

/// The QoS class of a pod (upstream rules: limits default the requests).
pub fn qos_class(pod: &Pod) -> QosClass {
    let Some(spec) = pod.spec.as_ref() else {
        return QosClass::BestEffort;
    };
    let all: Vec<&Container> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let r = c.resources.as_ref();
        for name in ["cpu", "memory"] {
            let lim = quantity(r, true, name);
            let req = quantity(r, false, name).or_else(|| lim.clone());
            if lim.is_some() || req.is_some() {
                any = true;
            }
            match (&req, &lim) {
                (Some(a), Some(b)) if same_quantity(a, b) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        QosClass::BestEffort
    } else if guaranteed {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

fn same_quantity(a: &str, b: &str) -> bool {
    match (
        crate::quantity::parse_quantity(a),
        crate::quantity::parse_quantity(b),
    ) {
        (Ok(x), Ok(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// cgroup values of one container: shares from the CPU request (limit if no request),
/// quota from the CPU limit, memory limit.
pub fn container_resources(c: &Container) -> Result<skiff_cri::Resources, ConfigError> {
    let r = c.resources.as_ref();
    let cpu_limit = quantity(r, true, "cpu")
        .map(|q| parse_millicores(&q))
        .transpose()?;
    let cpu_request = quantity(r, false, "cpu")
        .map(|q| parse_millicores(&q))
        .transpose()?
        .or(cpu_limit);
    let mem_limit = quantity(r, true, "memory")
        .map(|q| parse_int(&q))
        .transpose()?;
    // Upstream: shares = millicores * 1024 / 1000, at least 2 (also for no request).
    let shares = cpu_request
        .map(|m| ((m as u64) * 1024 / 1000).max(2))
        .unwrap_or(2);
    let (quota, period) = match cpu_limit {
        Some(m) => (
            Some((m * CPU_PERIOD as i64 / 1000).max(1000)),
            Some(CPU_PERIOD),
        ),
        None => (None, None),
    };
    Ok(skiff_cri::Resources {
        cpu_shares: Some(shares),
        cpu_quota: quota,
        cpu_period: period,
        memory_limit: mem_limit,
        pids_limit: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(res: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": res}]}}))
            .expect("pod")
    }

    #[test]
    fn qos_table() {
        let cases = [
            (json!({}), QosClass::BestEffort),
            (
                json!({"limits": {"cpu": "1", "memory": "1Gi"}}),
                QosClass::Guaranteed,
            ),
            (
                json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}),
                QosClass::Guaranteed,
            ),
            (json!({"requests": {"cpu": "100m"}}), QosClass::Burstable),
            (json!({"limits": {"memory": "1Gi"}}), QosClass::Burstable),
        ];
        for (res, want) in cases {
            assert_eq!(qos_class(&pod(res.clone())), want, "{res}");
        }
        assert_eq!(
            QosClass::Burstable.cgroup_parent("u"),
            "/skiff/burstable/podu"
        );
    }

    #[test]
    fn cgroup_values() {
        let p =
            pod(json!({"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}));
        let c = &p.spec.as_ref().expect("spec").containers[0];
        let r = container_resources(c).expect("resources");
        assert_eq!(r.cpu_shares, Some(256));
        assert_eq!(r.cpu_quota, Some(50_000));
        assert_eq!(r.cpu_period, Some(100_000));
        assert_eq!(r.memory_limit, Some(64 * 1024 * 1024));
        let p = pod(json!({"requests": {"cpu": "1m"}}));
        let r =
            container_resources(&p.spec.as_ref().expect("spec").containers[0]).expect("resources");
        assert_eq!(r.cpu_shares, Some(2));
        assert_eq!(r.cpu_quota, None);
    }
}
