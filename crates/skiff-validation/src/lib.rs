//! skiff-validation: defaulting and validation of built-in Kubernetes objects, in
//! their JSON form, with kube-apiserver v1.33 field paths and message wording.
//!
//! The server's write path is: [`check_decode`] (400 on undecodable input) →
//! [`apply_defaults`] → [`prepare_for_create`] / [`prepare_for_update`] →
//! [`validate_create`] / [`validate_update`] → on errors, [`invalid_status`] (422 Invalid).

mod autoscaling;
mod batch;
mod cluster;
mod config;
mod crd;
pub mod cron;
mod decode;
mod defaults;
mod error;
mod json;
mod meta;
mod names;
mod networking;
mod pod;
mod prepare;
mod quantity;
mod rbac;
mod selector;
mod service;
mod storage;
mod validate;
mod workloads;

pub use config::{check_secret_base64, decode_base64_go, MAX_SECRET_SIZE};
pub use cron::parse_standard as parse_cron_schedule;
pub use decode::check_decode;
pub use defaults::{apply_defaults, image_tag};
pub use error::{go_quote, invalid_status, ErrorKind, FieldError, ParseError, FIELD_IMMUTABLE};
pub use meta::{NameRule, TOTAL_ANNOTATION_SIZE_LIMIT};
pub use names::{
    validate_config_map_key, validate_dns1035_label, validate_dns1123_label,
    validate_dns1123_subdomain, validate_env_var_name, validate_label_key, validate_label_value,
    validate_path_segment_name, validate_percent, validate_port_name, validate_qualified_name,
};
pub use prepare::{prepare_for_create, prepare_for_update};
pub use quantity::{Quantity, QuantityFormat};
pub use selector::{selector_matches, validate_label_selector, validate_labels};
pub use validate::{validate_create, validate_update};
