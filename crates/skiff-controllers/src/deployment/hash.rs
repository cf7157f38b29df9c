//! The pod-template-hash: FNV-32a over the pod template (plus the collision count),
//! rendered as its decimal digits mapped onto kube's "safe" alphabet, as upstream's
//! ComputeHash does. Upstream feeds Go's deep-printed struct to the hash; Skiff feeds the
//! template's canonical JSON, so names have upstream's shape but not its exact letters.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Characters upstream's SafeEncodeString maps bytes onto (no vowels, no look-alikes).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits.
fn fnv32a(bytes: &[u8], mut h: u32) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

const FNV32_OFFSET: u32 = 0x811c_9dc5;

/// Map each character of `s` onto the safe alphabet (upstream's rand.SafeEncodeString).
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// The pod-template-hash label value for `template` with `collision_count`.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut t = template.clone();
    // The label the hash produces must not feed the hash.
    if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove(super::HASH_LABEL);
    }
    let json = serde_json::to_vec(&t).unwrap_or_default();
    let mut h = fnv32a(&json, FNV32_OFFSET);
    if let Some(c) = collision_count {
        h = fnv32a(&(c as u32).to_le_bytes(), h);
    }
    safe_encode(&h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_encoding_match_reference_values() {
        // Reference FNV-1a 32 values.
        assert_eq!(fnv32a(b"", FNV32_OFFSET), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a", FNV32_OFFSET), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar", FNV32_OFFSET), 0xbf9c_f968);
        // Digits map onto the alphabet's tail ('0' is byte 48, 48 % 27 = 21 -> '4').
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn hash_changes_with_template_and_collisions_only() {
        let t: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}
        }))
        .expect("template");
        let mut labelled = t.clone();
        if let Some(l) = labelled.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(crate::deployment::HASH_LABEL.into(), "x".into());
        }
        let h = pod_template_hash(&t, None);
        assert!(h.len() >= 6 && h.len() <= 10, "{h}");
        assert_eq!(h, pod_template_hash(&labelled, None));
        assert_ne!(h, pod_template_hash(&t, Some(1)));
        let mut other = t.clone();
        if let Some(s) = other.spec.as_mut() {
            s.containers[0].image = Some("busybox:1.37".into());
        }
        assert_ne!(h, pod_template_hash(&other, None));
    }
}
