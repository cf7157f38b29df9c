//! Packing a Service's desired endpoints into EndpointSlices with little churn (upstream's
//! reconciler, simplified): endpoints are grouped by their port set (one slice never mixes
//! two), slices that already hold an endpoint keep it (updated in place), new endpoints
//! fill slices with room before new slices are made, emptied and port-less slices go.
//! A Service with no endpoints keeps one empty placeholder slice, as upstream.

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use kube::ResourceExt;
use std::collections::{BTreeMap, HashSet};

/// Endpoints that share a port set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The ports every endpoint of the group offers.
    pub ports: Vec<EndpointPort>,
    /// The endpoints, in a stable order.
    pub endpoints: Vec<Endpoint>,
}

/// A slice's contents after the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// The existing slice's name; `None` for a slice to create.
    pub name: Option<String>,
    /// Its ports.
    pub ports: Vec<EndpointPort>,
    /// Its endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Whether the contents differ from what is stored (always true for new slices).
    pub changed: bool,
}

/// What to write.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Every slice that stays or is created.
    pub slices: Vec<Slice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
}

/// A port set's identity.
pub fn ports_key(ports: &[EndpointPort]) -> String {
    let mut keys: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.name.as_deref().unwrap_or(""),
                p.port.unwrap_or(0),
                p.protocol.as_deref().unwrap_or("TCP"),
                p.app_protocol.as_deref().unwrap_or("")
            )
        })
        .collect();
    keys.sort();
    keys.join(",")
}

/// An endpoint's identity: its target (or, without one, its first address).
pub fn endpoint_key(e: &Endpoint) -> String {
    match &e.target_ref {
        Some(r) => format!(
            "{}/{}/{}",
            r.kind.as_deref().unwrap_or(""),
            r.namespace.as_deref().unwrap_or(""),
            r.name.as_deref().unwrap_or("")
        ),
        None => format!("addr/{}", e.addresses.first().map_or("", |a| a.as_str())),
    }
}

/// Plan the slices for `desired` given the `existing` ones, at most `max` endpoints each.
pub fn plan(existing: &[&EndpointSlice], desired: Vec<Group>, max: usize) -> Plan {
    let max = max.max(1);
    let mut out = Plan::default();
    if desired.iter().all(|g| g.endpoints.is_empty()) {
        placeholder(existing, &mut out);
        return out;
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for g in desired {
        let e = groups.entry(ports_key(&g.ports)).or_insert_with(|| Group {
            ports: g.ports.clone(),
            endpoints: Vec::new(),
        });
        e.endpoints.extend(g.endpoints);
    }
    let mut by_key: BTreeMap<String, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        by_key
            .entry(ports_key(s.ports.as_deref().unwrap_or_default()))
            .or_default()
            .push(s);
    }
    for (key, slices) in &by_key {
        if !groups.contains_key(key) {
            out.delete.extend(slices.iter().map(|s| s.name_any()));
        }
    }
    for (key, group) in groups {
        let slices = by_key.remove(&key).unwrap_or_default();
        pack_group(slices, group, max, &mut out);
    }
    out
}

/// Keep one slice with neither endpoints nor ports.
fn placeholder(existing: &[&EndpointSlice], out: &mut Plan) {
    let is_empty =
        |s: &EndpointSlice| s.endpoints.is_empty() && s.ports.as_ref().is_none_or(|p| p.is_empty());
    let keep = existing
        .iter()
        .find(|s| is_empty(s))
        .or_else(|| existing.first());
    out.slices.push(Slice {
        name: keep.map(|s| s.name_any()),
        ports: Vec::new(),
        endpoints: Vec::new(),
        changed: keep.is_none_or(|s| !is_empty(s)),
    });
    let kept = keep.map(|s| s.name_any());
    out.delete.extend(
        existing
            .iter()
            .map(|s| s.name_any())
            .filter(|n| Some(n) != kept.as_ref()),
    );
}

fn pack_group(slices: Vec<&EndpointSlice>, group: Group, max: usize, out: &mut Plan) {
    let wanted: BTreeMap<String, &Endpoint> = group
        .endpoints
        .iter()
        .map(|e| (endpoint_key(e), e))
        .collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut kept: Vec<Slice> = Vec::new();
    for s in slices {
        let mut endpoints = Vec::new();
        for e in &s.endpoints {
            let k = endpoint_key(e);
            // An endpoint twice (in two slices) stays only in the first.
            if let Some(want) = wanted.get(&k).filter(|_| !placed.contains(&k)) {
                if endpoints.len() < max {
                    endpoints.push((*want).clone());
                    placed.insert(k);
                }
            }
        }
        let changed = endpoints != s.endpoints;
        kept.push(Slice {
            name: Some(s.name_any()),
            ports: group.ports.clone(),
            endpoints,
            changed,
        });
    }
    let mut fresh: Vec<Endpoint> = group
        .endpoints
        .iter()
        .filter(|e| !placed.contains(&endpoint_key(e)))
        .cloned()
        .collect();
    // Fill slices being rewritten anyway first, then untouched ones with room.
    for pass_changed in [true, false] {
        for s in kept.iter_mut().filter(|s| s.changed == pass_changed) {
            if fresh.is_empty() {
                break;
            }
            let room = max.saturating_sub(s.endpoints.len());
            let take = room.min(fresh.len());
            if take > 0 {
                s.endpoints.extend(fresh.drain(..take));
                s.changed = true;
            }
        }
    }
    for s in kept {
        if s.endpoints.is_empty() {
            out.delete.extend(s.name);
        } else {
            out.slices.push(s);
        }
    }
    for chunk in fresh.chunks(max) {
        out.slices.push(Slice {
            name: None,
            ports: group.ports.clone(),
            endpoints: chunk.to_vec(),
            changed: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn ep(name: &str, ready: bool) -> Endpoint {
        Endpoint {
            addresses: vec![format!("10.0.0.{}", name.len())],
            conditions: Some(k8s_openapi::api::discovery::v1::EndpointConditions {
                ready: Some(ready),
                serving: Some(ready),
                terminating: Some(false),
            }),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("default".into()),
                name: Some(name.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn port(n: i32) -> EndpointPort {
        EndpointPort {
            name: Some(String::new()),
            port: Some(n),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }
    }

    fn slice(name: &str, ports: Vec<EndpointPort>, endpoints: Vec<Endpoint>) -> EndpointSlice {
        let mut s = EndpointSlice {
            address_type: "IPv4".into(),
            endpoints,
            ports: Some(ports),
            ..Default::default()
        };
        s.metadata.name = Some(name.into());
        s
    }

    fn names(s: &Slice) -> Vec<String> {
        s.endpoints.iter().map(endpoint_key).collect()
    }

    #[test]
    fn new_endpoints_are_packed_at_most_max_per_slice() {
        let eps: Vec<Endpoint> = (0..5).map(|i| ep(&format!("p{i}"), true)).collect();
        let p = plan(
            &[],
            vec![Group {
                ports: vec![port(80)],
                endpoints: eps,
            }],
            2,
        );
        assert_eq!(p.slices.len(), 3);
        assert!(p.slices.iter().all(|s| s.name.is_none() && s.changed));
        assert_eq!(
            p.slices
                .iter()
                .map(|s| s.endpoints.len())
                .collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert!(p.delete.is_empty());
    }

    #[test]
    fn unchanged_slices_stay_untouched_and_updates_happen_in_place() {
        let a = slice("s-a", vec![port(80)], vec![ep("a", true), ep("bb", true)]);
        let b = slice("s-b", vec![port(80)], vec![ep("ccc", true)]);
        // Nothing changed: no writes.
        let same = vec![Group {
            ports: vec![port(80)],
            endpoints: vec![ep("a", true), ep("bb", true), ep("ccc", true)],
        }];
        let p = plan(&[&a, &b], same, 3);
        assert!(
            p.slices.iter().all(|s| !s.changed) && p.delete.is_empty(),
            "{p:?}"
        );
        // bb became not ready, dddd is new: s-a is rewritten and takes the newcomer.
        let next = vec![Group {
            ports: vec![port(80)],
            endpoints: vec![
                ep("a", true),
                ep("bb", false),
                ep("ccc", true),
                ep("dddd", true),
            ],
        }];
        let p = plan(&[&a, &b], next, 3);
        let sa = p
            .slices
            .iter()
            .find(|s| s.name.as_deref() == Some("s-a"))
            .expect("s-a");
        assert!(sa.changed);
        assert_eq!(
            names(sa),
            ["Pod/default/a", "Pod/default/bb", "Pod/default/dddd"]
        );
        let sb = p
            .slices
            .iter()
            .find(|s| s.name.as_deref() == Some("s-b"))
            .expect("s-b");
        assert!(!sb.changed);
        assert_eq!(p.slices.len(), 2);
    }

    #[test]
    fn emptied_and_stale_port_slices_are_deleted() {
        let a = slice("s-a", vec![port(80)], vec![ep("a", true)]);
        let b = slice("s-b", vec![port(80)], vec![ep("bb", true)]);
        let old = slice("s-old", vec![port(81)], vec![ep("a", true)]);
        let p = plan(
            &[&a, &b, &old],
            vec![Group {
                ports: vec![port(80)],
                endpoints: vec![ep("a", true)],
            }],
            100,
        );
        assert_eq!(p.delete, ["s-old", "s-b"]);
        assert_eq!(p.slices.len(), 1);
        assert!(!p.slices[0].changed);
    }

    #[test]
    fn different_port_sets_never_share_a_slice() {
        let p = plan(
            &[],
            vec![
                Group {
                    ports: vec![port(80)],
                    endpoints: vec![ep("a", true)],
                },
                Group {
                    ports: vec![port(81)],
                    endpoints: vec![ep("bb", true)],
                },
                Group {
                    ports: vec![port(80)],
                    endpoints: vec![ep("ccc", true)],
                },
            ],
            100,
        );
        assert_eq!(p.slices.len(), 2);
        assert_eq!(names(&p.slices[0]), ["Pod/default/a", "Pod/default/ccc"]);
        assert_eq!(names(&p.slices[1]), ["Pod/default/bb"]);
    }

    #[test]
    fn no_endpoints_leaves_one_placeholder() {
        let p = plan(&[], Vec::new(), 100);
        assert_eq!(p.slices.len(), 1);
        assert!(
            p.slices[0].endpoints.is_empty() && p.slices[0].ports.is_empty() && p.slices[0].changed
        );
        let a = slice("s-a", vec![port(80)], vec![ep("a", true)]);
        let b = slice("s-b", vec![], vec![]);
        let p = plan(&[&a, &b], Vec::new(), 100);
        assert_eq!(p.slices[0].name.as_deref(), Some("s-b"));
        assert!(!p.slices[0].changed);
        assert_eq!(p.delete, ["s-a"]);
    }
}
