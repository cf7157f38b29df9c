//! Hard eviction thresholds (kubelet's `--eviction-hard`): when a signal falls below its
//! threshold the Node reports the matching pressure condition (and so gets its taint).
//!
//! Syntax as kubelet: `memory.available<100Mi,nodefs.available<10%,pid.available<10%`.
//! As with kubelet, a signal left out of an explicit list has no threshold. Skiff keeps
//! images and pods on one filesystem, so `imagefs.available` is checked against it too.

use std::fmt;
use std::str::FromStr;

use crate::machine::MachineInfo;

/// A threshold: an absolute amount (bytes, or processes) or a share of the capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Below this many units.
    Amount(f64),
    /// Below this percentage of the capacity.
    Percent(f64),
}

impl Threshold {
    /// The threshold in units, for a resource of `capacity` units.
    fn quantity(&self, capacity: u64) -> f64 {
        match *self {
            Threshold::Amount(min) => min,
            Threshold::Percent(p) => p / 100.0 * capacity as f64,
        }
    }
}

/// The resource an eviction reclaims, as the kubelet names it in its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `memory.available`.
    Memory,
    /// `nodefs.available` / `imagefs.available`.
    EphemeralStorage,
    /// `pid.available`.
    Pids,
}

impl Resource {
    /// The resource name (`memory`, `ephemeral-storage`, `pids`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Memory => "memory",
            Resource::EphemeralStorage => "ephemeral-storage",
            Resource::Pids => "pids",
        }
    }
}

/// A signal below its threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crossed {
    /// What is short.
    pub resource: Resource,
    /// The threshold, in bytes (processes for PIDs).
    pub threshold: u64,
    /// What is available now.
    pub available: u64,
}

/// The hard thresholds of one agent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvictionThresholds {
    /// `memory.available`: MemAvailable.
    pub memory_available: Option<Threshold>,
    /// `nodefs.available`: free space on the data directory's filesystem.
    pub nodefs_available: Option<Threshold>,
    /// `imagefs.available`: the same filesystem in Skiff.
    pub imagefs_available: Option<Threshold>,
    /// `pid.available`: process IDs left below pid_max.
    pub pid_available: Option<Threshold>,
}

/// The node's pressure conditions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pressures {
    /// MemoryPressure.
    pub memory: bool,
    /// DiskPressure.
    pub disk: bool,
    /// PIDPressure.
    pub pid: bool,
}

impl EvictionThresholds {
    /// Kubelet's Linux defaults for memory and node disk, and 10% of pid_max for PIDs.
    pub fn kubelet_defaults() -> Self {
        EvictionThresholds {
            memory_available: Some(Threshold::Amount(100.0 * 1024.0 * 1024.0)),
            nodefs_available: Some(Threshold::Percent(10.0)),
            imagefs_available: None,
            pid_available: Some(Threshold::Percent(10.0)),
        }
    }

    /// The signals below their thresholds, in the order the kubelet reclaims them:
    /// memory, then disk, then PIDs. A resource of unknown capacity is never short.
    pub fn crossed(&self, m: &MachineInfo) -> Vec<Crossed> {
        let (procs, pid_max) = m.pids;
        let signals = [
            (
                Resource::Memory,
                self.memory_available,
                m.memory_available,
                m.memory,
            ),
            (
                Resource::EphemeralStorage,
                self.nodefs_available,
                m.disk_available,
                m.disk_total,
            ),
            (
                Resource::EphemeralStorage,
                self.imagefs_available,
                m.disk_available,
                m.disk_total,
            ),
            (
                Resource::Pids,
                self.pid_available,
                pid_max.saturating_sub(procs),
                pid_max,
            ),
        ];
        let mut out: Vec<Crossed> = Vec::new();
        for (resource, threshold, available, capacity) in signals {
            let Some(t) = threshold.filter(|_| capacity > 0) else {
                continue;
            };
            let quantity = t.quantity(capacity);
            if (available as f64) < quantity && !out.iter().any(|c| c.resource == resource) {
                out.push(Crossed {
                    resource,
                    // Truncated, as the kubelet's threshold quantity.
                    threshold: quantity as u64,
                    available,
                });
            }
        }
        out
    }

    /// Which pressures the machine is under.
    pub fn pressures(&self, m: &MachineInfo) -> Pressures {
        let crossed = self.crossed(m);
        let short = |r: Resource| crossed.iter().any(|c| c.resource == r);
        Pressures {
            memory: short(Resource::Memory),
            disk: short(Resource::EphemeralStorage),
            pid: short(Resource::Pids),
        }
    }
}

/// Why an `--eviction-hard` list was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum EvictionParseError {
    /// Not `signal<value`.
    #[error("{0:?}: expected signal<threshold, e.g. memory.available<100Mi")]
    Syntax(String),
    /// A signal Skiff does not know.
    #[error(
        "unknown eviction signal {0:?} (known: memory.available, nodefs.available, imagefs.available, pid.available)"
    )]
    UnknownSignal(String),
    /// A value that is neither a quantity nor a percentage in 0–100.
    #[error("invalid threshold {0:?} for {1}")]
    Value(String, String),
}

fn parse_threshold(signal: &str, value: &str) -> Result<Threshold, EvictionParseError> {
    let bad = || EvictionParseError::Value(value.to_string(), signal.to_string());
    if let Some(p) = value.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(bad());
        }
        return Ok(Threshold::Percent(p));
    }
    let amount = crate::quantity::parse_quantity(value).map_err(|_| bad())?;
    if amount < 0.0 {
        return Err(bad());
    }
    Ok(Threshold::Amount(amount))
}

impl FromStr for EvictionThresholds {
    type Err = EvictionParseError;

    /// A comma-separated list; the empty string sets no thresholds at all.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut t = EvictionThresholds::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (signal, value) = item
                .split_once('<')
                .ok_or_else(|| EvictionParseError::Syntax(item.to_string()))?;
            let (signal, value) = (signal.trim(), value.trim());
            let threshold = parse_threshold(signal, value)?;
            let slot = match signal {
                "memory.available" => &mut t.memory_available,
                "nodefs.available" => &mut t.nodefs_available,
                "imagefs.available" => &mut t.imagefs_available,
                "pid.available" => &mut t.pid_available,
                other => return Err(EvictionParseError::UnknownSignal(other.to_string())),
            };
            *slot = Some(threshold);
        }
        Ok(t)
    }
}

impl fmt::Display for EvictionThresholds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = [
            ("memory.available", self.memory_available),
            ("nodefs.available", self.nodefs_available),
            ("imagefs.available", self.imagefs_available),
            ("pid.available", self.pid_available),
        ];
        let rendered: Vec<String> = items
            .iter()
            .filter_map(|(name, t)| {
                t.map(|t| match t {
                    Threshold::Amount(a) => format!("{name}<{a}"),
                    Threshold::Percent(p) => format!("{name}<{p}%"),
                })
            })
            .collect();
        f.write_str(&rendered.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(disk_available: u64, memory_available: u64, procs: u64) -> MachineInfo {
        MachineInfo {
            cpus: 2,
            memory: 8 << 30,
            memory_available,
            disk_total: 100 << 30,
            disk_available,
            kernel_version: String::new(),
            os_image: String::new(),
            architecture: "amd64".into(),
            machine_id: String::new(),
            pids: (procs, 1000),
        }
    }

    #[test]
    fn defaults_match_the_kubelet() {
        let d = EvictionThresholds::kubelet_defaults();
        assert_eq!(
            d.to_string(),
            "memory.available<104857600,nodefs.available<10%,pid.available<10%"
        );
        let calm = d.pressures(&machine(50 << 30, 4 << 30, 100));
        assert_eq!(calm, Pressures::default());
        let full = d.pressures(&machine(9 << 30, 50 << 20, 950));
        assert_eq!(
            full,
            Pressures {
                memory: true,
                disk: true,
                pid: true
            }
        );
    }

    #[test]
    fn crossed_signals_carry_threshold_and_availability_in_reclaim_order() {
        let d = EvictionThresholds::kubelet_defaults();
        assert_eq!(
            d.crossed(&machine(9 << 30, 50 << 20, 950)),
            vec![
                Crossed {
                    resource: Resource::Memory,
                    threshold: 100 << 20,
                    available: 50 << 20
                },
                Crossed {
                    resource: Resource::EphemeralStorage,
                    threshold: 10 << 30,
                    available: 9 << 30
                },
                Crossed {
                    resource: Resource::Pids,
                    threshold: 100,
                    available: 50
                },
            ]
        );
        // nodefs and imagefs share the filesystem: one disk entry.
        let both: EvictionThresholds = "nodefs.available<10%,imagefs.available<20%"
            .parse()
            .unwrap();
        let short = both.crossed(&machine(5 << 30, 4 << 30, 0));
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].resource.as_str(), "ephemeral-storage");
    }

    #[test]
    fn an_explicit_list_leaves_other_signals_unset() {
        let t: EvictionThresholds = "memory.available<1Gi, nodefs.available<1%".parse().unwrap();
        assert_eq!(t.memory_available, Some(Threshold::Amount(1073741824.0)));
        assert_eq!(t.nodefs_available, Some(Threshold::Percent(1.0)));
        assert_eq!(t.pid_available, None);
        // 9% free is fine at a 1% threshold; PIDs have none.
        assert!(!t.pressures(&machine(9 << 30, 2 << 30, 999)).disk);
        assert!(!t.pressures(&machine(9 << 30, 2 << 30, 999)).pid);
        assert!(t.pressures(&machine(512 << 20, 2 << 30, 0)).disk);
        let none: EvictionThresholds = "".parse().unwrap();
        assert_eq!(none, EvictionThresholds::default());
        assert_eq!(none.pressures(&machine(0, 0, 1000)), Pressures::default());
    }

    #[test]
    fn imagefs_counts_as_disk_pressure() {
        let t: EvictionThresholds = "imagefs.available<15%".parse().unwrap();
        assert!(t.pressures(&machine(14 << 30, 2 << 30, 0)).disk);
        assert!(!t.pressures(&machine(16 << 30, 2 << 30, 0)).disk);
    }

    #[test]
    fn bad_lists_name_the_problem() {
        let e = |s: &str| s.parse::<EvictionThresholds>().unwrap_err();
        assert_eq!(
            e("memory.available=1Gi"),
            EvictionParseError::Syntax("memory.available=1Gi".into())
        );
        assert_eq!(
            e("nodefs.inodesFree<5%"),
            EvictionParseError::UnknownSignal("nodefs.inodesFree".into())
        );
        assert_eq!(
            e("nodefs.available<120%"),
            EvictionParseError::Value("120%".into(), "nodefs.available".into())
        );
        assert_eq!(
            e("memory.available<lots"),
            EvictionParseError::Value("lots".into(), "memory.available".into())
        );
    }
}
