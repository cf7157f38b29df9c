//! PodSpec defaults (core/v1 `SetDefaults_PodSpec`, `SetDefaults_Container`, probes, volumes).

use serde_json::{json, Map, Value};

use crate::json::{ensure_obj, set_default};

/// The tag an image reference resolves to: explicit tag, `latest` when neither tag
/// nor digest is given, `None` for digest-only references.
pub fn image_tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    // A ':' before the last '/' is a registry port, not a tag.
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if digest => None,
        None => Some("latest".to_string()),
    }
}

/// Defaults a PodTemplateSpec's or Pod's `spec` in place.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "enableServiceLinks", json!(true));
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut() {
                default_container(c, host_network);
            }
        }
    }
    if let Some(Value::Array(vols)) = spec.get_mut("volumes") {
        for v in vols.iter_mut() {
            default_volume(v);
        }
    }
}

/// Pods (not templates) also copy limits into missing requests.
pub fn default_pod_requests_from_limits(spec: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut() {
            let Some(limits) = c
                .get("resources")
                .and_then(|r| r.get("limits"))
                .and_then(Value::as_object)
                .cloned()
            else {
                continue;
            };
            if let Some(req) = c
                .get_mut("resources")
                .and_then(|r| ensure_obj(r, "requests"))
            {
                for (k, v) in limits {
                    req.entry(k).or_insert(v);
                }
            }
        }
    }
}

fn default_container(c: &mut Value, host_network: bool) {
    if !c.is_object() {
        return;
    }
    if c.get("imagePullPolicy")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image).as_deref() == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        if let Some(m) = c.as_object_mut() {
            m.insert("imagePullPolicy".into(), json!(policy));
        }
    }
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut() {
            set_default(p, "protocol", json!("TCP"));
            if host_network {
                if let Some(cp) = p.get("containerPort").cloned() {
                    set_default(p, "hostPort", cp);
                }
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            default_handler(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").filter(|l| l.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook).filter(|h| h.is_object()) {
                default_handler(h);
            }
        }
    }
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for e in env.iter_mut() {
            if let Some(vf) = e.get_mut("valueFrom").filter(|v| v.is_object()) {
                if let Some(fr) = vf.get_mut("fieldRef").filter(|f| f.is_object()) {
                    set_default(fr, "apiVersion", json!("v1"));
                }
                if let Some(rf) = vf.get_mut("resourceFieldRef").filter(|f| f.is_object()) {
                    set_default(rf, "divisor", json!("0"));
                }
            }
        }
    }
}

fn default_handler(h: &mut Value) {
    if let Some(g) = h.get_mut("httpGet").filter(|g| g.is_object()) {
        set_default(g, "path", json!("/"));
        set_default(g, "scheme", json!("HTTP"));
    }
    if let Some(g) = h.get_mut("grpc").filter(|g| g.is_object()) {
        set_default(g, "service", json!(""));
    }
}

fn default_volume(v: &mut Value) {
    let Some(m) = v.as_object_mut() else {
        return;
    };
    if m.keys().all(|k| k == "name") {
        m.insert("emptyDir".into(), Value::Object(Map::new()));
        return;
    }
    for src in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(s) = m.get_mut(src).filter(|s| s.is_object()) {
            set_default(s, "defaultMode", json!(420));
        }
    }
    if let Some(Value::Array(sources)) = m.get_mut("projected").and_then(|p| p.get_mut("sources")) {
        for s in sources.iter_mut() {
            if let Some(t) = s.get_mut("serviceAccountToken").filter(|t| t.is_object()) {
                set_default(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(hp) = m.get_mut("hostPath").filter(|h| h.is_object()) {
        set_default(hp, "type", json!(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        let cases = [
            ("nginx", Some("latest")),
            ("nginx:1.27", Some("1.27")),
            ("nginx:latest", Some("latest")),
            ("localhost:5000/app", Some("latest")),
            ("localhost:5000/app:v2", Some("v2")),
            ("nginx@sha256:abcd", None),
            ("nginx:1.2@sha256:abcd", Some("1.2")),
        ];
        for (img, want) in cases {
            assert_eq!(image_tag(img).as_deref(), want, "{img}");
        }
    }

    #[test]
    fn pod_spec_defaults() {
        let mut spec = json!({
            "hostNetwork": false,
            "containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
            }, {"name": "side", "image": "busybox:1.36"}],
            "volumes": [{"name": "a"}, {"name": "c", "configMap": {"name": "cm"}}]
        });
        default_pod_spec(&mut spec);
        let want = json!({
            "hostNetwork": false,
            "containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}],
                "imagePullPolicy": "Always",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }, {"name": "side", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "volumes": [{"name": "a", "emptyDir": {}}, {"name": "c", "configMap": {"name": "cm", "defaultMode": 420}}],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
            "schedulerName": "default-scheduler",
            "enableServiceLinks": true
        });
        assert_eq!(spec, want);
        // Defaulting twice changes nothing.
        let again = {
            let mut s = spec.clone();
            default_pod_spec(&mut s);
            s
        };
        assert_eq!(again, spec);
    }

    #[test]
    fn requests_from_limits() {
        let mut spec = json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}]});
        default_pod_requests_from_limits(&mut spec);
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"memory": "1Gi", "cpu": "1"})
        );
    }
}
