//! Per-kind behaviour around writes: status on create, Service IP and NodePort allocation,
//! CRD registration, namespace termination, and the first-start objects.

use super::delete::DeleteOptions;
use super::Ctx;
use crate::state::ApiServer;
use serde_json::{json, Value};
use skiff_api::{meta, ApiError, ResourceInfo, SubresourceInfo};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

fn is(info: &ResourceInfo, group: &str, resource: &str) -> bool {
    info.group == group && info.resource == resource
}

/// Adjust a new object before it is validated and stored.
pub async fn before_create(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    let info = &ctx.info;
    if info.has_status_subresource()
        && !matches!(
            info.resource.as_str(),
            "nodes" | "pods" | "namespaces" | "customresourcedefinitions"
        )
    {
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    if is(info, "", "namespaces") {
        obj["status"] = json!({"phase": "Active"});
        if obj.pointer("/spec/finalizers").is_none() {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
        }
    } else if is(info, "", "pods") {
        let qos = qos_class(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        let ns = ctx.ns.clone().unwrap_or_default();
        let sa_info = ctx.state.registry().get("", "v1", "serviceaccounts");
        super::sa_admission::admit(obj, &ns, |name| {
            let info = sa_info.as_ref()?;
            Some(ctx.state.store.get(&info.key(Some(&ns), name))?.value())
        })?;
        super::default_tolerations::admit(
            obj,
            ctx.state.config.default_not_ready_toleration_seconds,
            ctx.state.config.default_unreachable_toleration_seconds,
        );
        let classes = match ctx
            .state
            .registry()
            .get("scheduling.k8s.io", "v1", "priorityclasses")
        {
            Some(pc) => ctx.state.store.list(&pc.key_prefix()).0,
            None => Vec::new(),
        };
        let classes: Vec<Value> = classes.iter().map(|c| c.value()).collect();
        super::priority_admission::admit(obj, &classes)?;
    } else if is(info, "", "persistentvolumeclaims") || is(info, "", "persistentvolumes") {
        obj["status"] = json!({"phase": "Pending"});
        // StorageObjectInUseProtection admission: the controllers remove these.
        let finalizer = if info.resource == "persistentvolumes" {
            "kubernetes.io/pv-protection"
        } else {
            "kubernetes.io/pvc-protection"
        };
        add_finalizer(obj, finalizer);
        if info.resource == "persistentvolumeclaims" {
            default_storage_class(ctx, obj);
        }
    } else if is(info, "", "services") {
        obj["status"] = json!({"loadBalancer": {}});
        allocate_service(ctx, obj, None).await?;
    } else if is(info, "apiextensions.k8s.io", "customresourcedefinitions") {
        crd_status(obj);
    }
    Ok(())
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let meta = meta::metadata_mut(obj);
    let list = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        if !list.iter().any(|f| f.as_str() == Some(finalizer)) {
            list.push(json!(finalizer));
        }
    }
}

/// DefaultStorageClass admission: a claim created without `spec.storageClassName` (an
/// explicit "" opts out) gets the default class; with several defaults the newest wins,
/// then the first by name, as upstream.
fn default_storage_class(ctx: &Ctx, pvc: &mut Value) {
    if pvc
        .pointer("/spec/storageClassName")
        .is_some_and(|v| !v.is_null())
        || pvc
            .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
            .is_some()
    {
        return;
    }
    let Some(sc_info) = ctx
        .state
        .registry()
        .get("storage.k8s.io", "v1", "storageclasses")
    else {
        return;
    };
    let (classes, _) = ctx.state.store.list(&sc_info.key_prefix());
    let is_default = |c: &Value| {
        [
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ]
        .iter()
        .any(|k| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(*k))
                .and_then(Value::as_str)
                == Some("true")
        })
    };
    let field = |c: &Value, f: &str| {
        c.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let best = classes
        .iter()
        .map(|c| c.value())
        .filter(is_default)
        .max_by(|a, b| {
            // RFC 3339 timestamps in UTC order as strings.
            field(a, "creationTimestamp")
                .cmp(&field(b, "creationTimestamp"))
                .then_with(|| field(b, "name").cmp(&field(a, "name")))
        });
    if let (Some(class), Some(spec)) = (best, pvc.get_mut("spec").and_then(Value::as_object_mut)) {
        spec.insert("storageClassName".into(), json!(field(&class, "name")));
    }
}

/// Adjust an updated object (immutable allocations carried over).
pub fn before_update(ctx: &Ctx, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let info = &ctx.info;
    if is(info, "", "services") {
        for k in ["clusterIP", "clusterIPs"] {
            let empty = new
                .pointer(&format!("/spec/{k}"))
                .is_none_or(|v| v.as_str() == Some("") || v.is_null());
            if empty {
                if let Some(v) = old.pointer(&format!("/spec/{k}")) {
                    new["spec"][k] = v.clone();
                }
            }
        }
        if let (Some(new_ports), Some(old_ports)) = (
            new.pointer_mut("/spec/ports").and_then(Value::as_array_mut),
            old.pointer("/spec/ports").and_then(Value::as_array),
        ) {
            let typ = old
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            if typ == "NodePort" || typ == "LoadBalancer" {
                for p in new_ports.iter_mut() {
                    if p.get("nodePort").is_none() {
                        if let Some(op) =
                            old_ports.iter().find(|op| op.get("port") == p.get("port"))
                        {
                            if let Some(np) = op.get("nodePort") {
                                p["nodePort"] = np.clone();
                            }
                        }
                    }
                }
            }
        }
    } else if is(info, "apiextensions.k8s.io", "customresourcedefinitions") && ctx.sub.is_none() {
        crd_status(new);
    } else if is(info, "", "namespaces") && old.pointer("/metadata/deletionTimestamp").is_some() {
        new["status"]["phase"] = json!("Terminating");
    }
    Ok(())
}

/// Decide whether a delete only marks the object; mutates it with kind-specific state.
pub fn before_delete(ctx: &Ctx, obj: &mut Value, opts: &DeleteOptions) -> bool {
    let info = &ctx.info;
    if is(info, "", "namespaces") {
        obj["status"]["phase"] = json!("Terminating");
        return true;
    }
    if is(info, "", "pods") {
        let node = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let phase = obj
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        let default_grace = obj
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        let grace = opts.grace.unwrap_or(default_grace);
        if !node.is_empty() && grace > 0 && phase != "Succeeded" && phase != "Failed" {
            let m = meta::metadata_mut(obj);
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            return true;
        }
    }
    false
}

/// Whether `after_write` has anything to do for a newly created object of this resource.
pub fn needs_after_create(info: &ResourceInfo) -> bool {
    is(info, "apiextensions.k8s.io", "customresourcedefinitions") || is(info, "", "namespaces")
}

/// After a create or update was stored.
pub async fn after_write(ctx: &Ctx, obj: &Value) {
    if is(
        &ctx.info,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
    ) {
        register_crd(&ctx.state, obj);
    }
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        ctx.state.cleanup_wake.notify_one();
    } else if is(&ctx.info, "", "namespaces") {
        if let Some(ns) = meta::name(obj) {
            namespace_defaults(&ctx.state, ns).await;
        }
    }
}

/// What every namespace holds from its creation, as kube-controller-manager provides it:
/// the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap with the cluster CA.
pub async fn namespace_defaults(state: &ApiServer, ns: &str) {
    let reg = state.registry();
    let now = meta::now_rfc3339();
    let mut wanted = Vec::new();
    if let Some(sa) = reg.get("", "v1", "serviceaccounts") {
        wanted.push((
            sa.key(Some(ns), "default"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}}),
        ));
    }
    if let (Some(cm), false) = (
        reg.get("", "v1", "configmaps"),
        state.config.ca_pem.is_empty(),
    ) {
        wanted.push((cm.key(Some(ns), "kube-root-ca.crt"), json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                         "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": state.config.ca_pem}})));
    }
    for (key, mut obj) in wanted {
        if state.store.get(&key).is_some() {
            continue;
        }
        let m = meta::metadata_mut(&mut obj);
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        if let Err(e) = state.store.create(key, obj).await {
            if !matches!(e, skiff_store::StoreError::AlreadyExists) {
                tracing::warn!(namespace = ns, error = %e, "creating namespace defaults failed");
            }
        }
    }
}

/// After an object was removed from the store.
pub async fn after_delete(ctx: &Ctx, obj: &Value) {
    if is(
        &ctx.info,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
    ) {
        unregister_crd(&ctx.state, obj).await;
    }
    ctx.state.cleanup_wake.notify_one();
}

/// QoS class of a pod, from its containers' requests and limits.
pub fn qos_class(pod: &Value) -> &'static str {
    let mut containers: Vec<&Value> = Vec::new();
    for k in ["containers", "initContainers"] {
        if let Some(cs) = pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array) {
            containers.extend(cs.iter());
        }
    }
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        let relevant =
            |m: Option<&serde_json::Map<String, Value>>, k: &str| m.and_then(|m| m.get(k)).cloned();
        for r in ["cpu", "memory"] {
            let (q, l) = (relevant(req, r), relevant(lim, r));
            if q.is_some() || l.is_some() {
                any = true;
            }
            match (q, l) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

async fn allocate_service(
    ctx: &Ctx,
    svc: &mut Value,
    _old: Option<&Value>,
) -> Result<(), ApiError> {
    let _guard = ctx.state.alloc_lock.lock().await;
    let reg = ctx.state.registry();
    let Some(svc_info) = reg.get("", "v1", "services") else {
        return Ok(());
    };
    let (all, _) = ctx.state.store.list(&svc_info.key_prefix());
    let mut used_ips = HashSet::new();
    let mut used_ports = HashSet::new();
    for s in &all {
        let v = s.value();
        if let Some(ip) = v.pointer("/spec/clusterIP").and_then(Value::as_str) {
            used_ips.insert(ip.to_string());
        }
        for p in v
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_u64) {
                used_ports.insert(n as u16);
            }
        }
    }
    let typ = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let name = meta::name(svc).unwrap_or("").to_string();
    let bad = |field: &str, msg: String| {
        ApiError::invalid(
            "",
            "Service",
            &name,
            vec![skiff_api::Cause {
                reason: "FieldValueInvalid".into(),
                message: msg,
                field: field.into(),
            }],
        )
    };
    if typ != "ExternalName" {
        let requested = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let base = ctx.state.config.service_cidr.octets();
        let ip = if requested == "None" {
            "None".to_string()
        } else if !requested.is_empty() {
            let parsed: Ipv4Addr = requested.parse().map_err(|_| {
                bad(
                    "spec.clusterIPs",
                    format!("Invalid value: \"{requested}\": must be a valid IP address"),
                )
            })?;
            let o = parsed.octets();
            if o[0] != base[0] || o[1] != base[1] {
                return Err(bad(
                    "spec.clusterIPs",
                    format!("Invalid value: [\"{requested}\"]: failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}/16", ctx.state.config.service_cidr),
                ));
            }
            if used_ips.contains(&requested) {
                return Err(bad(
                    "spec.clusterIPs",
                    format!("Invalid value: [\"{requested}\"]: failed to allocate IP {requested}: provided IP is already allocated"),
                ));
            }
            requested
        } else {
            // Skip .0 (network) and 10.43.0.1 (reserved for the kubernetes Service) and .10 (DNS)
            // unless asked for explicitly.
            let mut found = None;
            'outer: for hi in 0u16..=255 {
                for lo in 1u16..=254 {
                    let cand = Ipv4Addr::new(base[0], base[1], hi as u8, lo as u8).to_string();
                    if hi == 0 && lo <= 10 {
                        continue;
                    }
                    if !used_ips.contains(&cand) {
                        found = Some(cand);
                        break 'outer;
                    }
                }
            }
            found.ok_or_else(|| {
                ApiError::internal("failed to allocate a serviceIP: range is full")
            })?
        };
        svc["spec"]["clusterIP"] = json!(ip);
        svc["spec"]["clusterIPs"] = json!([ip]);
    }
    if typ == "NodePort" || typ == "LoadBalancer" {
        let (lo, hi) = ctx.state.config.node_port_range;
        if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                match p.get("nodePort").and_then(Value::as_u64) {
                    Some(n) => {
                        let n = n as u16;
                        if n < lo || n > hi {
                            return Err(bad(&format!("spec.ports[{i}].nodePort"), format!("Invalid value: {n}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}")));
                        }
                        if !used_ports.insert(n) {
                            return Err(bad(
                                &format!("spec.ports[{i}].nodePort"),
                                format!("Invalid value: {n}: provided port is already allocated"),
                            ));
                        }
                    }
                    None => {
                        let start =
                            lo + (uuid::Uuid::new_v4().as_bytes()[0] as u16 * 11) % (hi - lo + 1);
                        let pick = (0..=(hi - lo))
                            .map(|k| lo + (start - lo + k) % (hi - lo + 1))
                            .find(|c| !used_ports.contains(c));
                        let n = pick.ok_or_else(|| {
                            ApiError::internal("failed to allocate a nodePort: range is full")
                        })?;
                        used_ports.insert(n);
                        p["nodePort"] = json!(n);
                    }
                }
            }
        }
    }
    Ok(())
}

fn crd_status(crd: &mut Value) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let now = meta::now_rfc3339();
    crd["status"] = json!({
        "acceptedNames": names,
        "storedVersions": crd.pointer("/spec/versions").and_then(Value::as_array).map(|vs| vs.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
    });
}

/// Resources a CRD defines, one per served version.
fn crd_resources(crd: &Value) -> Vec<ResourceInfo> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let s = |k: &str| {
        names
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let list = |k: &str| -> Vec<String> {
        names
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or("")
        .to_string();
    let mut out = Vec::new();
    for v in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let version = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut subresources = Vec::new();
        if v.pointer("/subresources/status").is_some() {
            subresources.push(SubresourceInfo {
                name: "status".into(),
                group: None,
                version: None,
                kind: None,
                verbs: vec!["get".into(), "patch".into(), "update".into()],
            });
        }
        if v.pointer("/subresources/scale").is_some() {
            subresources.push(SubresourceInfo {
                name: "scale".into(),
                group: Some("autoscaling".into()),
                version: Some("v1".into()),
                kind: Some("Scale".into()),
                verbs: vec!["get".into(), "patch".into(), "update".into()],
            });
        }
        let singular = if s("singular").is_empty() {
            s("kind").to_lowercase()
        } else {
            s("singular")
        };
        out.push(ResourceInfo {
            group: group.clone(),
            version,
            resource: s("plural"),
            kind: s("kind"),
            namespaced,
            verbs: [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            subresources,
            singular,
            short_names: list("shortNames"),
            categories: list("categories"),
            custom: true,
            storage_version: storage.clone(),
            crd_version: Some(Arc::new(v.clone())),
        });
    }
    out
}

/// `spec.group` and `spec.names.plural` of a CRD.
fn crd_group_plural(crd: &Value) -> (String, String) {
    let s = |p: &str| {
        crd.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/spec/group"), s("/spec/names/plural"))
}

/// Serve the resources of a CRD.
pub fn register_crd(state: &ApiServer, crd: &Value) {
    let (group, plural) = crd_group_plural(crd);
    if crd.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let resources = crd_resources(crd);
    state.update_registry(|reg| {
        reg.remove_custom(&group, &plural);
        for r in resources {
            reg.insert(r);
        }
    });
}

async fn unregister_crd(state: &Arc<ApiServer>, crd: &Value) {
    let (group, plural) = crd_group_plural(crd);
    let reg = state.registry();
    let prefix = reg
        .all()
        .iter()
        .find(|r| r.custom && r.group == group && r.resource == plural)
        .map(|r| r.key_prefix());
    state.update_registry(|reg| reg.remove_custom(&group, &plural));
    if let Some(prefix) = prefix {
        let (objs, _) = state.store.list(&prefix);
        for o in objs {
            let _ = state.store.delete(o.key.clone(), None).await;
        }
    }
}

/// Register every stored CRD (at start-up).
pub fn register_crds(state: &ApiServer) {
    let reg = state.registry();
    if let Some(info) = reg.get("apiextensions.k8s.io", "v1", "customresourcedefinitions") {
        let (crds, _) = state.store.list(&info.key_prefix());
        for c in crds {
            register_crd(state, &c.value());
        }
    }
}

/// Create what a fresh cluster has: the four namespaces, the `kubernetes` Service and its
/// Endpoints, and the system PriorityClasses.
pub async fn bootstrap(state: &Arc<ApiServer>) -> Result<(), skiff_store::StoreError> {
    let reg = state.registry();
    let now = meta::now_rfc3339();
    let mut objects: Vec<(Arc<ResourceInfo>, Option<&str>, Value)> = Vec::new();
    let ns_info = reg
        .get("", "v1", "namespaces")
        .expect("namespaces are built in");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        objects.push((
            ns_info.clone(),
            None,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        ));
    }
    let host_ip = crate::pki::host_ipv4_addresses()
        .into_iter()
        .next()
        .unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = state
        .config
        .advertise_address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(6443);
    let svc_info = reg
        .get("", "v1", "services")
        .expect("services are built in");
    objects.push((svc_info, Some("default"), json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"], "sessionAffinity": "None",
                 "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
        "status": {"loadBalancer": {}}})));
    let ep_info = reg
        .get("", "v1", "endpoints")
        .expect("endpoints are built in");
    objects.push((ep_info, Some("default"), json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": host_ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]})));
    let pc_info = reg
        .get("scheduling.k8s.io", "v1", "priorityclasses")
        .expect("priorityclasses are built in");
    for (name, value) in [
        ("system-cluster-critical", 2000000000),
        ("system-node-critical", 2000001000),
    ] {
        objects.push((pc_info.clone(), None, json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "preemptionPolicy": "PreemptLowerPriority",
            "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."})));
    }
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        namespace_defaults(state, ns).await;
    }
    for (info, ns, mut obj) in objects {
        let name = meta::name(&obj).unwrap_or("").to_string();
        let key = info.key(ns, &name);
        if state.store.get(&key).is_some() {
            continue;
        }
        let m = meta::metadata_mut(&mut obj);
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        match state.store.create(key, obj).await {
            Ok(_) | Err(skiff_store::StoreError::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Namespace termination and owner-reference garbage collection, run whenever a deletion
/// happens (and once a minute): empties terminating namespaces, then removes them;
/// honours the `orphan` and `foregroundDeletion` finalizers; deletes objects whose every
/// owner is gone.
pub async fn namespace_cleanup_loop(state: Arc<ApiServer>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = state.cleanup_wake.notified() => {}
            // Deletions wake the pass; the slow timer only catches what a lost wake-up missed.
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
        // Let a burst of deletions settle into one pass.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        crate::gc::pass(&state).await;
    }
}
