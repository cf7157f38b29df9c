//! Resolving a pod's priority from its PriorityClass: the API server's Priority admission
//! sets spec.priority on create; this covers pods stored without it (and test fixtures).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use std::collections::HashMap;

/// PriorityClass values by name, plus the global default.
#[derive(Debug, Clone, Default)]
pub struct PriorityResolver {
    classes: HashMap<String, (i32, bool)>,
}

/// Built-in classes exist even when no object was created for them.
const SYSTEM_CLASSES: &[(&str, i32)] = &[
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

impl PriorityResolver {
    /// Record or replace a PriorityClass.
    pub fn upsert(&mut self, pc: &PriorityClass) {
        if let Some(name) = &pc.metadata.name {
            self.classes
                .insert(name.clone(), (pc.value, pc.global_default.unwrap_or(false)));
        }
    }

    /// Forget a PriorityClass.
    pub fn remove(&mut self, name: &str) {
        self.classes.remove(name);
    }

    /// The pod's priority: spec.priority when set, else its class's value, else the
    /// global default class's value, else 0.
    pub fn priority_of(&self, pod: &Pod) -> i32 {
        let Some(spec) = pod.spec.as_ref() else {
            return 0;
        };
        if let Some(p) = spec.priority {
            return p;
        }
        if let Some(name) = spec
            .priority_class_name
            .as_deref()
            .filter(|n| !n.is_empty())
        {
            if let Some((v, _)) = self.classes.get(name) {
                return *v;
            }
            if let Some((_, v)) = SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
                return *v;
            }
        }
        self.classes
            .values()
            .find(|(_, global)| *global)
            .map(|(v, _)| *v)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn pc(name: &str, value: i32, global: bool) -> PriorityClass {
        let mut p = PriorityClass {
            value,
            global_default: Some(global),
            ..Default::default()
        };
        p.metadata.name = Some(name.into());
        p
    }

    fn pod(priority: Option<i32>, class: Option<&str>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                priority,
                priority_class_name: class.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn priority_resolution_table() {
        let mut r = PriorityResolver::default();
        r.upsert(&pc("high", 1000, false));
        let cases = [
            (pod(Some(5), Some("high")), 5),
            (pod(None, Some("high")), 1000),
            (pod(None, Some("missing")), 0),
            (pod(None, Some("system-node-critical")), 2_000_001_000),
            (pod(None, None), 0),
        ];
        for (p, want) in &cases {
            assert_eq!(r.priority_of(p), *want);
        }
        r.upsert(&pc("default", 7, true));
        assert_eq!(r.priority_of(&pod(None, None)), 7);
        r.remove("default");
        assert_eq!(r.priority_of(&pod(None, None)), 0);
    }
}
