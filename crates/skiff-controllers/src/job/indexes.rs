//! Completion indexes of Indexed Jobs: reading a pod's index and the compact interval
//! notation of `status.completedIndexes` ("1,3-5,7").

use k8s_openapi::api::batch::v1::SuccessPolicy;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;

/// Annotation and label carrying a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable Indexed Job containers read their index from.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// The pod's completion index from its annotation, if it has a valid one.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX)?
        .parse::<i32>()
        .ok()
        .filter(|i| *i >= 0)
}

/// The index if it is valid for a job of `completions` completions.
pub fn valid_index(pod: &Pod, completions: i32) -> Option<i32> {
    completion_index(pod).filter(|i| *i < completions)
}

/// Parse `status.completedIndexes`, keeping indexes below `completions`; malformed parts
/// are skipped (upstream logs and ignores them).
pub fn parse(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else { continue };
        for i in lo.max(0)..=hi.min(completions - 1) {
            out.insert(i);
        }
    }
    out
}

/// Format indexes as ordered intervals as upstream does: runs of three or more become
/// "a-b", a run of two stays "a,b".
pub fn format(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    let flush = |parts: &mut Vec<String>, (a, b): (i32, i32)| {
        parts.push(match b - a {
            0 => a.to_string(),
            1 => format!("{a},{b}"),
            _ => format!("{a}-{b}"),
        })
    };
    for &i in indexes {
        run = match run {
            Some((a, b)) if i == b + 1 => Some((a, i)),
            Some(r) => {
                flush(&mut parts, r);
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some(r) = run {
        flush(&mut parts, r);
    }
    parts.join(",")
}

/// The lowest `count` indexes below `completions` that neither succeeded nor are
/// `taken` (an active pod, or failed for good) — upstream's firstPendingIndexes.
pub fn first_pending(
    succeeded: &BTreeSet<i32>,
    taken: &BTreeSet<i32>,
    count: usize,
    completions: i32,
) -> Vec<i32> {
    (0..completions)
        .filter(|i| !succeeded.contains(i) && !taken.contains(i))
        .take(count)
        .collect()
}

/// The message of the first `successPolicy` rule the succeeded indexes satisfy
/// (upstream's matchSuccessPolicy): all of its `succeededIndexes`, or `succeededCount` of
/// them (of all indexes when the rule lists none).
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &BTreeSet<i32>,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let count = rule.succeeded_count.map(|c| c.max(0) as usize);
        let matched = match rule.succeeded_indexes.as_deref() {
            Some(list) => {
                let required = parse(list, completions);
                if required.is_empty() {
                    // Unparseable: the rule is skipped.
                    continue;
                }
                let contained = required.intersection(succeeded).count();
                contained == required.len() || count.is_some_and(|c| contained >= c)
            }
            None => count.is_some_and(|c| succeeded.len() >= c),
        };
        if matched {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_trip() {
        let s: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(format(&s), "0-2,4,6,7");
        assert_eq!(parse("0-2,4,6,7", 10), s);
        assert_eq!(parse("0-2,4,6-7", 10), s);
        assert_eq!(format(&BTreeSet::new()), "");
        // Indexes beyond completions (after a scale-down) are dropped.
        assert_eq!(format(&parse("1,3-9", 5)), "1,3,4");
        assert_eq!(format(&parse("1,3-9", 6)), "1,3-5");
        assert_eq!(format(&parse("x,2", 5)), "2");
    }

    #[test]
    fn success_policy_rules() {
        let policy: SuccessPolicy = serde_json::from_value(serde_json::json!({"rules": [
            {"succeededIndexes": "0,2-3"},
            {"succeededIndexes": "4-9", "succeededCount": 2},
            {"succeededCount": 5}
        ]}))
        .expect("policy");
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        let m = |v: &[i32]| match_success_policy(Some(&policy), 10, &set(v));
        assert_eq!(m(&[0, 2, 3]).as_deref(), Some("Matched rules at index 0"));
        assert_eq!(
            m(&[0, 2, 5, 7]).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(
            m(&[0, 1, 2, 5, 8]).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(m(&[0, 1, 2, 4]), None);
        let count_only: SuccessPolicy =
            serde_json::from_value(serde_json::json!({"rules": [{"succeededCount": 3}]}))
                .expect("policy");
        assert_eq!(
            match_success_policy(Some(&count_only), 10, &set(&[1, 5, 9])).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(
            match_success_policy(Some(&count_only), 10, &set(&[1, 5])),
            None
        );
        assert_eq!(match_success_policy(None, 10, &set(&[0])), None);
    }

    #[test]
    fn pending_skips_succeeded_and_active() {
        let done: BTreeSet<i32> = [0, 2].into_iter().collect();
        let active: BTreeSet<i32> = [1].into_iter().collect();
        assert_eq!(first_pending(&done, &active, 2, 6), vec![3, 4]);
        assert_eq!(first_pending(&done, &active, 9, 4), vec![3]);
    }
}
