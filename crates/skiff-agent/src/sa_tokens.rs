//! Service account tokens for projected volumes: requested through TokenRequest bound to the
//! pod, cached per pod, audience and lifetime, and renewed at 80% of their lifetime (or after
//! 24 hours), as the kubelet's token manager does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};

/// Lifetime when a projected source names none (the API's default).
const DEFAULT_EXPIRATION: i64 = 3600;
/// Tokens older than this are renewed whatever their lifetime.
const MAX_TTL_SECONDS: i64 = 24 * 3600;

/// One projected token of a pod: audience ("" = the API server's) and lifetime in seconds.
pub type TokenKey = (String, i64);

/// The key of a `serviceAccountToken` projection.
pub fn token_key(audience: Option<&str>, expiration_seconds: Option<i64>) -> TokenKey {
    (
        audience.unwrap_or("").to_string(),
        expiration_seconds.unwrap_or(DEFAULT_EXPIRATION),
    )
}

#[derive(Clone, Debug)]
struct Issued {
    token: String,
    expires: DateTime<Utc>,
    lifetime: i64,
}

/// Tokens by (pod UID, key). Workers are recreated per pod but the tokens outlive a refresh.
fn cache() -> &'static Mutex<HashMap<(String, TokenKey), Issued>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, TokenKey), Issued>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Whether a token must be renewed: past 80% of its lifetime, or older than a day.
fn needs_refresh(now: DateTime<Utc>, expires: DateTime<Utc>, lifetime: i64) -> bool {
    let issued = expires - Duration::seconds(lifetime);
    now >= issued + Duration::seconds(MAX_TTL_SECONDS)
        || now >= expires - Duration::seconds(lifetime * 20 / 100)
}

/// The keys of every `serviceAccountToken` projection in `pod`.
fn wanted(pod: &Pod) -> Vec<TokenKey> {
    let mut out: Vec<TokenKey> = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| token_key(t.audience.as_deref(), t.expiration_seconds))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Tokens for every projected `serviceAccountToken` of `pod`, reusing cached ones that are
/// still fresh. Tokens of pods that no longer need them expire out of the cache.
pub async fn fetch_tokens(
    client: &Client,
    pod: &Pod,
) -> Result<BTreeMap<TokenKey, String>, kube::Error> {
    let keys = wanted(pod);
    let mut out = BTreeMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let now = Utc::now();
    for key in keys {
        let cached = {
            let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
            c.retain(|_, t| t.expires > now);
            c.get(&(uid.clone(), key.clone())).cloned()
        };
        if let Some(t) = cached.filter(|t| !needs_refresh(now, t.expires, t.lifetime)) {
            out.insert(key, t.token);
            continue;
        }
        let (audience, lifetime) = &key;
        let req = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if audience.is_empty() {
                    Vec::new()
                } else {
                    vec![audience.clone()]
                },
                expiration_seconds: Some(*lifetime),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: Some(name.clone()),
                    uid: Some(uid.clone()),
                }),
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
        let resp = api
            .create_token_request(&sa, &PostParams::default(), &req)
            .await?;
        // Without a status the volume reports the token as not fetched and the worker retries.
        let Some(status) = resp.status else {
            continue;
        };
        let issued = Issued {
            token: status.token,
            // An unreadable expiry renews the token on the next refresh rather than never.
            expires: DateTime::from_timestamp(status.expiration_timestamp.0.as_second(), 0)
                .unwrap_or(now),
            lifetime: *lifetime,
        };
        cache()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((uid.clone(), key.clone()), issued.clone());
        out.insert(key, issued.token);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_at_eighty_percent_or_a_day() {
        let t0 = Utc::now();
        let exp = t0 + Duration::seconds(3600);
        assert!(!needs_refresh(t0, exp, 3600));
        assert!(!needs_refresh(t0 + Duration::seconds(2879), exp, 3600));
        assert!(needs_refresh(t0 + Duration::seconds(2880), exp, 3600));
        let long = t0 + Duration::seconds(7 * 24 * 3600);
        assert!(!needs_refresh(
            t0 + Duration::hours(23),
            long,
            7 * 24 * 3600
        ));
        assert!(needs_refresh(t0 + Duration::hours(24), long, 7 * 24 * 3600));
    }

    #[test]
    fn keys_of_projected_sources() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "volumes": [
                {"name": "a", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"serviceAccountToken": {"path": "vault", "audience": "vault"}}]}},
                {"name": "b", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "t", "expirationSeconds": 3607}}]}}
            ]}
        }))
        .expect("pod");
        assert_eq!(
            wanted(&pod),
            vec![("".to_string(), 3607), ("vault".to_string(), 3600)]
        );
    }
}
