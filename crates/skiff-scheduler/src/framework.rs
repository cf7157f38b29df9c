//! The plugin framework: statuses, per-cycle state and the plugin traits.
//!
//! Filter and Score plugins are synchronous and side-effect free over the snapshot;
//! PreFilter computes per-pod state once so Filter stays cheap per node.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use std::any::Any;
use std::collections::HashMap;

/// Outcome class of a plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The node passes.
    Success,
    /// The node fails, but preemption might help.
    Unschedulable,
    /// The node fails and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// The plugin could not decide (bad input, internal inconsistency).
    Error,
    /// From PreFilter only: nothing to check for this pod, so this plugin's Filter is
    /// skipped for every node (upstream's Skip).
    Skip,
}

/// A plugin's verdict with human-readable reasons (used in FailedScheduling messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The outcome.
    pub code: Code,
    /// Reasons, e.g. "Insufficient cpu".
    pub reasons: Vec<String>,
}

impl Status {
    /// Success.
    pub const fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
        }
    }

    /// Unschedulable for the given reason.
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    /// Unschedulable and not fixable by preemption.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    /// An error.
    pub fn error(reason: impl Into<String>) -> Status {
        Status {
            code: Code::Error,
            reasons: vec![reason.into()],
        }
    }

    /// Skip this plugin's Filter for the cycle.
    pub const fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
        }
    }

    /// Whether the status is a success (a Skip is one).
    pub fn is_success(&self) -> bool {
        matches!(self.code, Code::Success | Code::Skip)
    }
}

/// Per scheduling cycle data written by PreFilter and read by Filter/Score, keyed by
/// plugin name.
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
    skipped: Vec<&'static str>,
}

impl CycleState {
    /// Store a plugin's data.
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Box::new(value));
    }

    /// Mark a plugin's Filter as skipped for this cycle.
    pub fn skip_filter(&mut self, plugin: &'static str) {
        self.skipped.push(plugin);
    }

    /// Whether a plugin's Filter is skipped for this cycle.
    pub fn filter_skipped(&self, plugin: &'static str) -> bool {
        self.skipped.contains(&plugin)
    }

    /// Read a plugin's data.
    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|b| b.downcast_ref())
    }
}

/// A plugin with a name.
pub trait Plugin: Send + Sync {
    /// The upstream plugin name ("NodeResourcesFit").
    fn name(&self) -> &'static str;
}

/// Pre-computation over the whole snapshot, once per pod.
pub trait PreFilterPlugin: Plugin {
    /// Compute state; a non-success status rejects the pod on every node.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;
}

/// Whether a pod may run on one node.
pub trait FilterPlugin: Plugin {
    /// Decide for one node.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Node preference; higher is better.
pub trait ScorePlugin: Plugin {
    /// Prepare scoring state; returning false skips this plugin for the cycle
    /// (nothing to prefer), which keeps per-pod work small on large clusters.
    fn pre_score(&self, _state: &mut CycleState, _pod: &PodInfo, _snapshot: &Snapshot) -> bool {
        true
    }
    /// Raw score of one node.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64;
    /// Map raw scores to 0..=MAX_NODE_SCORE (default: already in range).
    fn normalize(&self, _scores: &mut [i64]) {}
    /// Weight of this plugin's score.
    fn weight(&self) -> i64;
}

/// Highest normalized score.
pub const MAX_NODE_SCORE: i64 = 100;

/// Scale scores so the maximum becomes MAX_NODE_SCORE; `reverse` makes lower raw
/// scores better (upstream's DefaultNormalizeScore).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}
