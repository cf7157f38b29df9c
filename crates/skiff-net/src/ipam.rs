//! Pod address management for one node: one file per address in use, named by the address
//! and holding its owner (the sandbox id), created with O_EXCL so two sandboxes starting at
//! once can never get the same address, and surviving agent restarts (host-local IPAM's
//! layout).

use crate::cidr::Ipv4Cidr;
use crate::error::NetError;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file remembering the last address handed out, so addresses go round the subnet
/// instead of being reused at once (a stale endpoint or conntrack entry must not reach the
/// next pod).
const LAST_RESERVED: &str = "last_reserved_ip";

/// Persisted allocations under one directory.
#[derive(Debug)]
pub struct Ipam {
    dir: PathBuf,
    /// Serializes allocations in this process (files protect against everything else).
    lock: Mutex<()>,
}

impl Ipam {
    /// Allocations kept in `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Ipam, NetError> {
        std::fs::create_dir_all(dir).map_err(|e| NetError::io("creating", dir, e))?;
        Ok(Ipam {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    /// An address for `owner` in `subnet` (its existing one if it has one), skipping the
    /// network, gateway and broadcast addresses.
    pub fn allocate(&self, subnet: Ipv4Cidr, owner: &str) -> Result<Ipv4Addr, NetError> {
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((ip, _)) = self
            .allocations()
            .into_iter()
            .find(|(ip, o)| o == owner && subnet.contains(*ip))
        {
            return Ok(ip);
        }
        let last = std::fs::read_to_string(self.dir.join(LAST_RESERVED))
            .ok()
            .and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
            .filter(|ip| subnet.contains(*ip))
            .map_or(1, |ip| u32::from(ip) - u32::from(subnet.network()));
        let hosts = subnet.size().saturating_sub(1) as u32;
        // Host offsets 2 ..= size-2: .0 is the network, .1 the gateway, the last broadcast.
        for step in 1..hosts {
            let offset = (last + step) % hosts;
            if offset < 2 {
                continue;
            }
            let Some(ip) = subnet.nth(offset) else {
                continue;
            };
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.dir.join(ip.to_string()))
            {
                Ok(mut f) => {
                    f.write_all(owner.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| NetError::io("recording", &self.dir, e))?;
                    let _ = std::fs::write(self.dir.join(LAST_RESERVED), ip.to_string());
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(NetError::io("recording", &self.dir, e)),
            }
        }
        Err(NetError::Exhausted(subnet.to_string()))
    }

    /// Give back every address `owner` holds; returns them.
    pub fn release(&self, owner: &str) -> Vec<Ipv4Addr> {
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut freed = Vec::new();
        for (ip, o) in self.allocations() {
            if o == owner && std::fs::remove_file(self.dir.join(ip.to_string())).is_ok() {
                freed.push(ip);
            }
        }
        freed
    }

    /// Every address in use and its owner.
    pub fn allocations(&self) -> Vec<(Ipv4Addr, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
                let owner = std::fs::read_to_string(e.path()).ok()?;
                Some((ip, owner.trim().to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Ipv4Cidr {
        "10.42.7.0/29".parse().unwrap()
    }

    #[test]
    fn allocates_round_robin_persists_and_exhausts() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::open(dir.path()).unwrap();
        let a = ipam.allocate(subnet(), "a").unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 42, 7, 2));
        // Idempotent per owner.
        assert_eq!(ipam.allocate(subnet(), "a").unwrap(), a);
        let b = ipam.allocate(subnet(), "b").unwrap();
        assert_eq!(b, Ipv4Addr::new(10, 42, 7, 3));
        assert_eq!(ipam.release("a"), vec![a]);
        // The freed .2 is not reused before the rest of the subnet.
        let c = ipam.allocate(subnet(), "c").unwrap();
        assert_eq!(c, Ipv4Addr::new(10, 42, 7, 4));
        // A second process (a restarted agent) sees the same state.
        let again = Ipam::open(dir.path()).unwrap();
        let mut owners: Vec<String> = again.allocations().into_iter().map(|(_, o)| o).collect();
        owners.sort();
        assert_eq!(owners, ["b", "c"]);
        // /29: hosts .2-.6 usable; .3,.4 taken → .5, .6, then wrap to .2, then full.
        for o in ["d", "e", "f"] {
            again.allocate(subnet(), o).unwrap();
        }
        assert!(matches!(
            again.allocate(subnet(), "g"),
            Err(NetError::Exhausted(_))
        ));
    }
}
