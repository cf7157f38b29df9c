//! Pulling images from registries into the store: mirrors first, then the registry;
//! manifest lists resolved to linux/<this arch>; blobs already present are not fetched.

use skiff_cri::{ImageError, ImageInfo, PullAuth};

use crate::digest::Digest;
use crate::manifest::{self, Index, Manifest};
use crate::reference::Reference;
use crate::registry::Session;
use crate::registry_config::Endpoint;
use crate::store::{parse_digest, ImageStore};

impl ImageStore {
    /// Pulls `image` for this platform. An image pinned by digest that is already here is
    /// not looked up again; a tag is always resolved with the registry (that is what
    /// imagePullPolicy Always asks for), but blobs already here are not fetched again.
    pub async fn pull_image(
        &self,
        image: &str,
        auth: Option<PullAuth>,
    ) -> Result<ImageInfo, ImageError> {
        let r = Reference::parse(image)?;
        if r.digest.is_some() {
            if let Some(info) = self.get(&r.to_string()) {
                self.touch(&info.digest)?;
                return Ok(info);
            }
        }
        let endpoints = self.registries().endpoints(&r.registry)?;
        // A registry's own answer (not found, denied) says more than a mirror that could
        // not be reached, so it wins; otherwise the last failure is reported.
        let mut answer: Option<ImageError> = None;
        let mut unreachable: Option<ImageError> = None;
        for ep in endpoints {
            let host = ep.host.clone();
            match self.pull_from(&r, ep, auth.clone()).await {
                Ok(info) => return Ok(info),
                Err(e @ ImageError::Network { .. }) => {
                    tracing::info!(image = %r, endpoint = %host, error = %e, "endpoint failed");
                    unreachable = Some(e);
                }
                Err(e) => {
                    tracing::info!(image = %r, endpoint = %host, error = %e, "endpoint failed");
                    answer.get_or_insert(e);
                }
            }
        }
        Err(answer
            .or(unreachable)
            .unwrap_or_else(|| ImageError::NotFound(r.to_string())))
    }

    async fn pull_from(
        &self,
        r: &Reference,
        ep: Endpoint,
        auth: Option<PullAuth>,
    ) -> Result<ImageInfo, ImageError> {
        let image = r.to_string();
        let mut s = Session::new(ep, &r.repository, &image, auth)?;
        let (mut media_type, mut bytes) = s.manifest(r.object()).await?;
        if let Some(d) = &r.digest {
            check_digest(&image, d, &bytes)?;
        }
        if manifest::is_index(&media_type, &bytes) {
            let idx: Index = serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::Invalid(format!("{image}: index: {e}")))?;
            let desc = manifest::pick_platform(&idx).cloned().ok_or_else(|| {
                ImageError::NotFound(format!(
                    "{image} for platform linux/{}",
                    manifest::host_arch()
                ))
            })?;
            (media_type, bytes) = s.manifest(&desc.digest).await?;
            check_digest(&image, &desc.digest, &bytes)?;
            if media_type.is_empty() {
                media_type = desc.media_type.clone();
            }
        }
        if media_type.is_empty() {
            media_type = manifest::OCI_MANIFEST.to_string();
        }
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Invalid(format!("{image}: manifest: {e}")))?;
        if m.schema_version != 2 {
            return Err(ImageError::Invalid(format!(
                "{image}: manifest schema {} is not supported",
                m.schema_version
            )));
        }
        let mut pins = self.pins();
        let blobs = std::iter::once(&m.config).chain(m.layers.iter());
        for desc in blobs {
            let d = parse_digest(&desc.digest)?;
            pins.add(&desc.digest);
            if self.content.has(&d) {
                continue;
            }
            let mut w = self.content.writer()?;
            s.blob(&desc.digest, &mut w).await?;
            w.commit(Some(&d)).map_err(|e| match e {
                crate::content::ContentError::Io(io) => ImageError::Io(io),
                other => ImageError::Invalid(format!("{image}: blob {d}: {other}")),
            })?;
        }
        let store = self.clone();
        let r = r.clone();
        // Unpacking is disk-bound and may take seconds: keep it off the async workers.
        let info = tokio::task::spawn_blocking(move || store.commit(&[r], &bytes, &media_type))
            .await
            .map_err(|e| ImageError::Io(std::io::Error::other(e)))??;
        drop(pins);
        Ok(info)
    }
}

fn check_digest(image: &str, want: &str, bytes: &[u8]) -> Result<(), ImageError> {
    let got = Digest::of(bytes);
    if got.to_string() != want {
        return Err(ImageError::Invalid(format!(
            "{image}: registry sent a manifest with digest {got}, expected {want}"
        )));
    }
    Ok(())
}
