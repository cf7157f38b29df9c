//! The resource registry: which resources the API serves, under which group-version, and how.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One subresource of a resource (`pods/status`, `deployments/scale`, ...).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SubresourceInfo {
    /// `status`, `scale`, `log`, ...
    pub name: String,
    /// Group of the subresource's kind when it differs (Scale is autoscaling/v1).
    #[serde(default)]
    pub group: Option<String>,
    /// Version of the subresource's kind.
    #[serde(default)]
    pub version: Option<String>,
    /// Kind the subresource takes and returns, if any.
    #[serde(default)]
    pub kind: Option<String>,
    /// Verbs the subresource supports.
    pub verbs: Vec<String>,
}

/// Everything the server needs to know to serve one resource in one group-version.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ResourceInfo {
    /// API group, "" for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Plural resource name used in URLs.
    pub resource: String,
    /// Kind.
    pub kind: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Verbs of the main resource.
    pub verbs: Vec<String>,
    /// Subresources.
    #[serde(default)]
    pub subresources: Vec<SubresourceInfo>,
    /// Lower-case singular name.
    #[serde(default)]
    pub singular: String,
    /// kubectl short names.
    #[serde(default)]
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Whether this resource comes from a CustomResourceDefinition.
    #[serde(default)]
    pub custom: bool,
    /// Group whose storage holds the objects (autoscaling v1 and v2 share one).
    #[serde(default)]
    pub storage_version: String,
    /// For custom resources: the CRD's entry in `spec.versions` (schema, subresources,
    /// additionalPrinterColumns).
    #[serde(skip)]
    pub crd_version: Option<std::sync::Arc<serde_json::Value>>,
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Kind of the list type.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether the main resource supports `verb`.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The subresource called `name`, if served.
    pub fn subresource(&self, name: &str) -> Option<&SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Storage key prefix for every object of this resource: `/registry/<group>/<resource>/`.
    /// Versions of one group share the prefix, so every version sees the same objects.
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("/registry/{group}/{}/", self.resource)
    }

    /// Storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Key prefix for one namespace (or all of the resource when `namespace` is None).
    pub fn namespace_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.key_prefix()),
            _ => self.key_prefix(),
        }
    }

    /// Whether metadata.generation tracks spec changes for this kind (objects with a spec or
    /// a custom resource with the status subresource).
    pub fn has_status_subresource(&self) -> bool {
        self.subresource("status").is_some()
    }
}

/// Static facts the swagger document does not carry: short names, categories.
const SHORT_NAMES: &[(&str, &str, &[&str], &[&str])] = &[
    ("", "pods", &["po"], &["all"]),
    ("", "services", &["svc"], &["all"]),
    ("", "replicationcontrollers", &["rc"], &["all"]),
    ("", "configmaps", &["cm"], &[]),
    ("", "endpoints", &["ep"], &[]),
    ("", "events", &["ev"], &[]),
    ("", "limitranges", &["limits"], &[]),
    ("", "namespaces", &["ns"], &[]),
    ("", "nodes", &["no"], &[]),
    ("", "persistentvolumeclaims", &["pvc"], &[]),
    ("", "persistentvolumes", &["pv"], &[]),
    ("", "resourcequotas", &["quota"], &[]),
    ("", "serviceaccounts", &["sa"], &[]),
    ("apps", "deployments", &["deploy"], &["all"]),
    ("apps", "replicasets", &["rs"], &["all"]),
    ("apps", "statefulsets", &["sts"], &["all"]),
    ("apps", "daemonsets", &["ds"], &["all"]),
    ("batch", "jobs", &[], &["all"]),
    ("batch", "cronjobs", &["cj"], &["all"]),
    (
        "autoscaling",
        "horizontalpodautoscalers",
        &["hpa"],
        &["all"],
    ),
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &["crd", "crds"],
        &["api-extensions"],
    ),
    ("networking.k8s.io", "ingresses", &["ing"], &[]),
    ("networking.k8s.io", "networkpolicies", &["netpol"], &[]),
    ("policy", "poddisruptionbudgets", &["pdb"], &[]),
    ("scheduling.k8s.io", "priorityclasses", &["pc"], &[]),
    ("storage.k8s.io", "storageclasses", &["sc"], &[]),
    ("events.k8s.io", "events", &["ev"], &[]),
];

/// Preferred version per group when a group serves several.
const PREFERRED: &[(&str, &str)] = &[("autoscaling", "v2")];

/// The served resources: built-ins from the generated table plus CRD-defined ones.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    resources: Vec<Arc<ResourceInfo>>,
    /// (group, version, resource) → index.
    by_resource: BTreeMap<(String, String, String), usize>,
}

impl Registry {
    /// The built-in resources of Kubernetes v1.33 that Skiff serves.
    pub fn builtin() -> Registry {
        let mut list: Vec<ResourceInfo> =
            serde_json::from_str(include_str!("../data/resources.json"))
                .expect("generated resources.json parses");
        for r in &mut list {
            r.singular = r.kind.to_lowercase();
            if let Some((_, _, short, cats)) = SHORT_NAMES
                .iter()
                .find(|(g, res, _, _)| *g == r.group && *res == r.resource)
            {
                r.short_names = short.iter().map(|s| s.to_string()).collect();
                r.categories = cats.iter().map(|s| s.to_string()).collect();
            }
            // Events from events.k8s.io share nothing with core events here: they keep their own keys.
            r.storage_version = Self::preferred_version_of(&r.group)
                .unwrap_or(&r.version)
                .to_string();
            for s in &mut r.subresources {
                // The connect subresources report their options kinds, as upstream discovery does.
                let options_kind = match (r.resource.as_str(), s.name.as_str()) {
                    ("pods", "exec") => Some("PodExecOptions"),
                    ("pods", "attach") => Some("PodAttachOptions"),
                    ("pods", "portforward") => Some("PodPortForwardOptions"),
                    ("pods", "proxy") => Some("PodProxyOptions"),
                    ("services", "proxy") => Some("ServiceProxyOptions"),
                    ("nodes", "proxy") => Some("NodeProxyOptions"),
                    _ => None,
                };
                if let Some(k) = options_kind {
                    s.kind = Some(k.to_string());
                    s.group = Some(String::new());
                    s.version = Some("v1".into());
                }
            }
        }
        let mut reg = Registry::default();
        for r in list.into_iter().chain(metrics_resources()) {
            reg.insert(r);
        }
        reg
    }

    fn preferred_version_of(group: &str) -> Option<&'static str> {
        PREFERRED.iter().find(|(g, _)| *g == group).map(|(_, v)| *v)
    }

    /// Add or replace a resource.
    pub fn insert(&mut self, r: ResourceInfo) {
        let key = (r.group.clone(), r.version.clone(), r.resource.clone());
        match self.by_resource.get(&key) {
            Some(&i) => self.resources[i] = Arc::new(r),
            None => {
                self.by_resource.insert(key, self.resources.len());
                self.resources.push(Arc::new(r));
            }
        }
    }

    /// Remove every version of a custom resource `resource.group`.
    pub fn remove_custom(&mut self, group: &str, resource: &str) {
        let kept: Vec<Arc<ResourceInfo>> = self
            .resources
            .drain(..)
            .filter(|r| !(r.custom && r.group == group && r.resource == resource))
            .collect();
        self.by_resource.clear();
        for (i, r) in kept.iter().enumerate() {
            self.by_resource
                .insert((r.group.clone(), r.version.clone(), r.resource.clone()), i);
        }
        self.resources = kept;
    }

    /// Look up a resource by URL coordinates.
    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        self.by_resource
            .get(&(group.to_string(), version.to_string(), resource.to_string()))
            .map(|&i| self.resources[i].clone())
    }

    /// Look up a resource by group, version and kind.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<Arc<ResourceInfo>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .cloned()
    }

    /// Every served resource.
    pub fn all(&self) -> &[Arc<ResourceInfo>] {
        &self.resources
    }

    /// Served group-versions, core first, then groups by name; the preferred version first
    /// within a group.
    pub fn group_versions(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &self.resources {
            let vs = groups.entry(r.group.clone()).or_default();
            if !vs.contains(&r.version) {
                vs.push(r.version.clone());
            }
        }
        let mut out: Vec<(String, Vec<String>)> = groups.into_iter().collect();
        for (g, vs) in &mut out {
            vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
            if let Some(p) = Self::preferred_version_of(g) {
                if let Some(pos) = vs.iter().position(|v| v == p) {
                    let v = vs.remove(pos);
                    vs.insert(0, v);
                }
            }
        }
        out
    }

    /// Resources of one group-version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.resources
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }
}

/// metrics.k8s.io/v1beta1 (served by the API server itself, as metrics-server would be
/// behind an APIService): read-only node and pod usage.
fn metrics_resources() -> Vec<ResourceInfo> {
    [
        ("nodes", "NodeMetrics", false),
        ("pods", "PodMetrics", true),
    ]
    .into_iter()
    .map(|(resource, kind, namespaced)| ResourceInfo {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        resource: resource.into(),
        kind: kind.into(),
        namespaced,
        verbs: vec!["get".into(), "list".into()],
        subresources: Vec::new(),
        singular: String::new(),
        short_names: Vec::new(),
        categories: Vec::new(),
        custom: false,
        storage_version: "v1beta1".into(),
        crd_version: None,
    })
    .collect()
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        (0, "")
    };
    (level, major, num.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_knows_core_and_apps() {
        let r = Registry::builtin();
        let pods = r.get("", "v1", "pods").expect("pods");
        assert!(pods.namespaced);
        assert_eq!(pods.short_names, vec!["po"]);
        assert!(pods.subresource("eviction").is_some());
        let ns = r.get("", "v1", "namespaces").expect("namespaces");
        assert!(!ns.namespaced);
        let scale = r
            .get("apps", "v1", "deployments")
            .and_then(|d| d.subresource("scale").cloned());
        assert_eq!(scale.and_then(|s| s.kind), Some("Scale".to_string()));
        assert_eq!(
            pods.key(Some("default"), "p"),
            "/registry/core/pods/default/p"
        );
    }

    #[test]
    fn metrics_api_is_served_read_only() {
        let r = Registry::builtin();
        let pods = r.get("metrics.k8s.io", "v1beta1", "pods").expect("pods");
        assert!(pods.namespaced);
        assert_eq!(pods.kind, "PodMetrics");
        assert_eq!(pods.verbs, vec!["get", "list"]);
        let nodes = r.get("metrics.k8s.io", "v1beta1", "nodes").expect("nodes");
        assert!(!nodes.namespaced);
        assert_eq!(nodes.kind, "NodeMetrics");
    }

    #[test]
    fn version_priority_orders_like_upstream() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, vec!["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }
}
