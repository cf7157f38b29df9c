//! Resizing a deployment's ReplicaSets when its replicas change outside a rollout step,
//! proportionally across the active ones mid-rollout (upstream's `scale`).

use super::rules::{self, rs_available, rs_replicas};
use super::sync::Rollout;
use crate::error::ControllerError;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// The share of `to_add` a ReplicaSet gets, by its size against the deployment's size when
/// it was last scaled (upstream's getReplicaSetFraction).
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let want = rules::replicas(d);
    if want == 0 {
        return -rs_replicas(rs);
    }
    let total = want + rules::max_surge(d);
    let annotated = rs
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(rules::MAX_REPLICAS))
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(total) / f64::from(annotated);
    size.round() as i32 - rs_replicas(rs)
}

/// Resize the ReplicaSets to the deployment's replicas.
pub(super) async fn scale(r: &mut Rollout<'_>) -> Result<(), ControllerError> {
    let want = rules::replicas(&r.d);
    let active: Vec<usize> = (0..r.rs.len())
        .filter(|i| rs_replicas(&r.rs[*i]) > 0)
        .collect();
    // One active (or none: the newest) ReplicaSet simply takes the new size.
    let single = match active.len() {
        0 => r.new.or_else(|| {
            (0..r.rs.len())
                .max_by_key(|i| r.rs[*i].metadata.creation_timestamp.as_ref().map(|t| t.0))
        }),
        1 => Some(active[0]),
        _ => None,
    };
    if let Some(i) = single {
        if rs_replicas(&r.rs[i]) != want {
            r.scale_rs(i, want).await?;
        }
        return Ok(());
    }
    // The new ReplicaSet is saturated: the old ones go.
    if let Some(n) = r.new {
        let rs = &r.rs[n];
        let desired = rs
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(rules::DESIRED_REPLICAS))
            .map(String::as_str);
        if desired == Some(want.to_string().as_str())
            && rs_replicas(rs) == want
            && rs_available(rs) == want
        {
            for i in r.olds() {
                if rs_replicas(&r.rs[i]) > 0 {
                    r.scale_rs(i, 0).await?;
                }
            }
            return Ok(());
        }
    }
    if rules::is_recreate(&r.d) {
        return Ok(());
    }
    let total: i32 = active.iter().map(|i| rs_replicas(&r.rs[*i])).sum();
    let allowed = if want > 0 {
        want + rules::max_surge(&r.d)
    } else {
        0
    };
    let to_add = allowed - total;
    let mut order = active.clone();
    // Growing favours the largest then newest; shrinking the largest then oldest.
    order.sort_by(|a, b| {
        let (ra, rb) = (&r.rs[*a], &r.rs[*b]);
        let t = |x: &ReplicaSet| x.metadata.creation_timestamp.as_ref().map(|t| t.0);
        rs_replicas(rb).cmp(&rs_replicas(ra)).then_with(|| {
            if to_add > 0 {
                t(rb).cmp(&t(ra))
            } else {
                t(ra).cmp(&t(rb))
            }
        })
    });
    let mut added = 0;
    let mut sizes = Vec::new();
    for i in &order {
        let rs = &r.rs[*i];
        let mut size = rs_replicas(rs);
        if to_add != 0 {
            let f = fraction(rs, &r.d);
            let left = to_add - added;
            let p = if to_add > 0 { f.min(left) } else { f.max(left) };
            size += p;
            added += p;
        }
        sizes.push((*i, size));
    }
    if to_add != 0 && added != to_add {
        if let Some(first) = sizes.first_mut() {
            first.1 = (first.1 + to_add - added).max(0);
        }
    }
    for (i, size) in sizes {
        r.scale_rs(i, size.max(0)).await?;
    }
    Ok(())
}
