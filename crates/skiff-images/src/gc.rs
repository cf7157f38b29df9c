//! Image garbage collection at a disk threshold, as the kubelet does it: when the image
//! file system is more than `high_percent` full, unused images are removed, least
//! recently used first, until it is at most `low_percent` full.

use std::collections::BTreeSet;

use skiff_cri::ImageError;

use crate::store::ImageStore;

/// What a GC pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GcReport {
    /// Manifest digests of the removed images, in removal order.
    pub removed: Vec<String>,
    /// Disk usage (percent) before.
    pub usage_before: u8,
    /// Disk usage (percent) after.
    pub usage_after: u8,
}

/// Bytes used and total bytes of a file system.
pub type DiskUsage = (u64, u64);

fn percent((used, total): DiskUsage) -> u8 {
    if total == 0 {
        return 0;
    }
    (used.saturating_mul(100) / total).min(100) as u8
}

impl ImageStore {
    /// Frees disk by removing unused images (none of `in_use`, which are references,
    /// digests or IDs of images containers use) when usage is above `high_percent`.
    pub fn gc(
        &self,
        in_use: &[String],
        high_percent: u8,
        low_percent: u8,
    ) -> Result<GcReport, ImageError> {
        let root = self.root().to_path_buf();
        self.gc_with(in_use, high_percent, low_percent, &|| {
            let s = rustix::fs::statvfs(&root).map_err(std::io::Error::from)?;
            let total = s.f_blocks.saturating_mul(s.f_frsize);
            let avail = s.f_bavail.saturating_mul(s.f_frsize);
            Ok((total.saturating_sub(avail), total))
        })
    }

    /// [`ImageStore::gc`] with the disk usage measured by `usage` (tests fake it).
    pub fn gc_with(
        &self,
        in_use: &[String],
        high_percent: u8,
        low_percent: u8,
        usage: &dyn Fn() -> std::io::Result<DiskUsage>,
    ) -> Result<GcReport, ImageError> {
        if low_percent > high_percent {
            return Err(ImageError::Invalid(format!(
                "image GC: low threshold {low_percent}% is above high threshold {high_percent}%"
            )));
        }
        let before = percent(usage()?);
        let mut report = GcReport {
            usage_before: before,
            usage_after: before,
            ..Default::default()
        };
        if before < high_percent {
            return Ok(report);
        }
        let used: BTreeSet<String> = in_use
            .iter()
            .filter_map(|i| self.get(i).map(|info| info.digest))
            .collect();
        let mut candidates: Vec<(u64, String)> = self
            .db
            .snapshot()?
            .images
            .values()
            .filter(|r| !used.contains(&r.digest))
            .map(|r| (r.last_used, r.digest.clone()))
            .collect();
        candidates.sort();
        for (_, digest) in candidates {
            if report.usage_after <= low_percent {
                break;
            }
            match self.remove(&digest) {
                Ok(()) | Err(ImageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            tracing::info!(image = %digest, "image garbage-collected");
            report.removed.push(digest);
            report.usage_after = percent(usage()?);
        }
        Ok(report)
    }
}
