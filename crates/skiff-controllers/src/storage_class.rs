//! The default StorageClass `local-path`, as k3s ships it: created once when absent, never
//! updated, so a user's edits (or their removal of the default annotation) stand.

use crate::error::ControllerError;
use crate::local_path::PROVISIONER;
use crate::volume_match::ANN_DEFAULT_CLASS;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};
use std::collections::BTreeMap;

/// Name of the built-in class.
pub const DEFAULT_CLASS_NAME: &str = "local-path";

/// The built-in class object.
pub fn default_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(DEFAULT_CLASS_NAME.into()),
            annotations: Some(BTreeMap::from([(
                ANN_DEFAULT_CLASS.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    }
}

/// Create the built-in class unless an object of that name exists.
pub async fn ensure_default(client: &Client) -> Result<(), ControllerError> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let action = || format!("creating StorageClass {DEFAULT_CLASS_NAME}");
    if api
        .get_opt(DEFAULT_CLASS_NAME)
        .await
        .map_err(ControllerError::api(action()))?
        .is_some()
    {
        return Ok(());
    }
    match api.create(&PostParams::default(), &default_class()).await {
        Ok(_) => {
            tracing::info!("created the default StorageClass {DEFAULT_CLASS_NAME}");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(ControllerError::api(action())(e)),
    }
}
