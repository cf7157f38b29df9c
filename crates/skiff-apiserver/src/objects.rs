//! The write pipeline shared by create, update, patch and subresources: decoding, schema
//! checks, defaulting, validation, system metadata, generation and managedFields.

use crate::http::Query;
use crate::schema_meta::SchemaMeta;
use serde_json::{json, Map, Value};
use skiff_api::schema::{self, Definitions, Node};
use skiff_api::{decode, meta, ApiError, Cause, ResourceInfo};

/// Bodies above this size are refused with 413, as kube-apiserver does (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How unknown and duplicate fields are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValidation {
    /// Refuse the request.
    Strict,
    /// Drop them and warn.
    Warn,
    /// Drop them silently.
    Ignore,
}

/// Options every write request carries.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// `dryRun=All`: run everything but the store write.
    pub dry_run: bool,
    /// `fieldManager`, defaulted from the user agent.
    pub field_manager: String,
    /// `fieldValidation`.
    pub validation: FieldValidation,
}

impl WriteOptions {
    /// Parse from the query; the manager defaults to the user agent's product name.
    pub fn from_query(q: &Query, user_agent: Option<&str>) -> Result<WriteOptions, ApiError> {
        let dry_run = match q.all("dryRun").as_slice() {
            [] => false,
            ["All"] => true,
            [other, ..] => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: {other}: Unsupported value: \"{other}\": supported values: \"All\""
                )))
            }
        };
        let validation = match q.get("fieldValidation") {
            None | Some("") | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
                )))
            }
        };
        let field_manager = match q.get("fieldManager") {
            Some(m) if !m.is_empty() => {
                if m.len() > 128 {
                    return Err(ApiError::bad_request(
                        "fieldManager: Too long: may not be longer than 128",
                    ));
                }
                m.to_string()
            }
            _ => user_agent
                .and_then(|ua| ua.split('/').next())
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string(),
        };
        Ok(WriteOptions {
            dry_run,
            field_manager,
            validation,
        })
    }
}

/// Decode a request body by content type (JSON, YAML, protobuf).
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<decode::Decoded, ApiError> {
    let media = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    match media {
        "application/vnd.kubernetes.protobuf" => skiff_protobuf::decode(body)
            .map(|value| decode::Decoded { value, duplicates: Vec::new() })
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}"))),
        "application/yaml" | "application/apply-patch+yaml" | "text/yaml" => {
            decode::yaml(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
        "application/json" | "" | "*/*" => {
            decode::json(body).map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))
        }
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {other}"),
        )),
    }
}

/// The schema root of a resource's kind: a built-in definition or the CRD version's schema.
pub fn schema_root(info: &ResourceInfo) -> Option<Node<'_>> {
    if info.custom {
        let s = info
            .crd_version
            .as_ref()?
            .get("schema")?
            .get("openAPIV3Schema")?;
        Some(Node::inline(s))
    } else {
        Definitions::get().root_for(&info.group, &info.version, &info.kind)
    }
}

/// Check the object against its schema: drop unknown fields (refusing them under Strict),
/// refuse type errors. Returns warnings for the `Warning` header.
pub fn check_schema(
    info: &ResourceInfo,
    obj: &mut Value,
    duplicates: &[String],
    validation: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let Some(root) = schema_root(info) else {
        return Ok(Vec::new());
    };
    let report = schema::prune(obj, root, !info.custom);
    let cannot = |detail: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {detail}",
            kind = info.kind,
            v = info.version
        ))
    };
    if let Some(first) = report.type_errors.first() {
        return Err(cannot(first.clone()));
    }
    let mut problems: Vec<String> = report
        .unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    problems.extend(
        duplicates
            .iter()
            .map(|f| format!("duplicate field \"{f}\"")),
    );
    match validation {
        FieldValidation::Strict if !problems.is_empty() => Err(cannot(format!(
            "strict decoding error: {}",
            problems.join(", ")
        ))),
        FieldValidation::Warn => Ok(problems),
        _ => Ok(Vec::new()),
    }
}

/// Check `apiVersion` and `kind` of a body against the endpoint. Like kube-apiserver, a body
/// that leaves them out takes the endpoint's group, version and kind.
pub fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.is_empty() {
        map.insert("kind".into(), json!(info.kind));
    } else if kind != info.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({}) of this endpoint",
            info.kind
        )));
    }
    if api_version.is_empty() {
        map.insert("apiVersion".into(), json!(info.api_version()));
    } else if api_version != info.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    Ok(())
}

/// Turn validation errors into a 422 Invalid.
pub fn invalid(
    info: &ResourceInfo,
    name: &str,
    errs: Vec<skiff_validation::FieldError>,
) -> Result<(), ApiError> {
    if errs.is_empty() {
        return Ok(());
    }
    let causes = errs
        .iter()
        .map(|e| Cause {
            reason: e.kind.cause_reason().to_string(),
            message: e.message(),
            field: e.field.clone(),
        })
        .collect();
    Err(ApiError::invalid(&info.group, &info.kind, name, causes))
}

/// A 422 built from (field, reason, message) triples.
pub fn invalid_causes(
    info: &ResourceInfo,
    name: &str,
    causes: &[(&str, &str, String)],
) -> ApiError {
    ApiError::invalid(
        &info.group,
        &info.kind,
        name,
        causes
            .iter()
            .map(|(f, r, m)| Cause {
                reason: r.to_string(),
                message: m.clone(),
                field: f.to_string(),
            })
            .collect(),
    )
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` suffix: five characters from kube-apiserver's alphabet.
pub fn random_suffix() -> String {
    let id = uuid::Uuid::new_v4();
    id.as_bytes()
        .iter()
        .take(5)
        .map(|b| NAME_CHARS[*b as usize % NAME_CHARS.len()] as char)
        .collect()
}

/// Whether a kind carries `metadata.generation` bumped on spec changes.
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    info.custom || schema_root(info).is_some_and(|r| r.property("spec").is_some())
}

/// Everything but metadata and status: what a generation bump watches.
fn spec_part(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Validate a custom resource against its structural schema: required fields and enums,
/// and apply schema defaults. Built-in kinds use skiff-validation instead.
pub fn validate_custom(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(root) = schema_root(info) else {
        return Ok(());
    };
    let mut causes = Vec::new();
    let name = meta::name(obj).unwrap_or("").to_string();
    custom_walk(obj, root.raw(), "", &mut causes, true);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&info.group, &info.kind, &name, causes))
    }
}

fn custom_walk(v: &mut Value, schema: &Value, path: &str, causes: &mut Vec<Cause>, root: bool) {
    let child_path = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    if let (Value::Object(map), Some(props)) =
        (&mut *v, schema.get("properties").and_then(Value::as_object))
    {
        for (k, ps) in props {
            if root && (k == "metadata" || k == "apiVersion" || k == "kind") {
                continue;
            }
            if !map.contains_key(k) {
                if let Some(d) = ps.get("default") {
                    map.insert(k.clone(), d.clone());
                }
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    causes.push(Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value".into(),
                        field: child_path(r),
                    });
                }
            }
        }
        for (k, child) in map.iter_mut() {
            if let Some(ps) = props.get(k) {
                if !(root && k == "metadata") {
                    custom_walk(child, ps, &child_path(k), causes, false);
                }
            }
        }
    } else if let (Value::Array(items), Some(item_schema)) = (&mut *v, schema.get("items")) {
        for (i, item) in items.iter_mut().enumerate() {
            custom_walk(item, item_schema, &format!("{path}[{i}]"), causes, false);
        }
    } else if let (Value::Object(map), Some(add)) = (
        &mut *v,
        schema.get("additionalProperties").filter(|a| a.is_object()),
    ) {
        for (k, child) in map.iter_mut() {
            custom_walk(child, add, &format!("{path}[{k}]"), causes, false);
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !v.is_null() && !allowed.contains(v) {
            let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!(
                    "Unsupported value: {v}: supported values: {}",
                    list.join(", ")
                ),
                field: path.to_string(),
            });
        }
    }
    let num = v.as_f64();
    if let (Some(n), Some(min)) = (num, schema.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {v}: {path} in body should be greater than or equal to {min}"
                ),
                field: path.to_string(),
            });
        }
    }
    if let (Some(n), Some(max)) = (num, schema.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {v}: {path} in body should be less than or equal to {max}"
                ),
                field: path.to_string(),
            });
        }
    }
}

/// Fill in what the server owns on create: uid, creationTimestamp, generation, and reset
/// fields clients may not set.
pub fn stamp_create(info: &ResourceInfo, obj: &mut Value) {
    let generation = tracks_generation(info);
    let m = meta::metadata_mut(obj);
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    m.remove("selfLink");
    if generation {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
}

/// Carry over what clients cannot change on update (uid, creation time, deletion state) and
/// bump the generation when anything outside metadata and status changed.
pub fn carry_over_update(info: &ResourceInfo, old: &Value, new: &mut Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let bump = tracks_generation(info) && spec_part(old) != spec_part(new);
    let m = meta::metadata_mut(new);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(k) {
            Some(v) => m.insert(k.into(), v.clone()),
            None => m.remove(k),
        };
    }
    m.remove("selfLink");
    if bump {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        m.insert("generation".into(), json!(g + 1));
    }
}

/// For resources with a status subresource: a main-resource write keeps the old status; a
/// status write keeps everything but status (and metadata labels/annotations changes).
pub fn split_status(info: &ResourceInfo, old: &Value, new: &mut Value, status_write: bool) {
    if !info.has_status_subresource() {
        return;
    }
    if status_write {
        let status = new.get("status").cloned();
        let new_meta = new.get("metadata").cloned();
        let mut merged = old.clone();
        match status {
            Some(s) => merged["status"] = s,
            None => {
                merged.as_object_mut().map(|m| m.remove("status"));
            }
        }
        // Status writers may still update labels, annotations, finalizers and ownerReferences.
        if let Some(nm) = new_meta {
            let m = meta::metadata_mut(&mut merged);
            for k in [
                "labels",
                "annotations",
                "finalizers",
                "ownerReferences",
                "resourceVersion",
            ] {
                match nm.get(k) {
                    Some(v) => m.insert(k.into(), v.clone()),
                    None => m.remove(k),
                };
            }
        }
        *new = merged;
    } else {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                new.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
}

/// Record the write in managedFields.
pub fn track_managed_fields(
    info: &ResourceInfo,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let meta_provider = SchemaMeta::for_resource(info);
    skiff_patch::apply::update_managed_fields(
        old,
        new,
        manager,
        "Update",
        &info.api_version(),
        &meta::now_rfc3339(),
        &meta_provider,
    );
    if let Some(sub) = subresource {
        if let Some(entries) = new
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut)
        {
            for e in entries.iter_mut() {
                if e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some("Update")
                {
                    e["subresource"] = json!(sub);
                }
            }
        }
    }
}

/// Objects compare equal for no-op detection when they differ only in resourceVersion and
/// managedFields timestamps.
pub fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            if let Some(Value::Array(mf)) = m.get_mut("managedFields") {
                for e in mf.iter_mut() {
                    e.as_object_mut().map(|o| o.remove("time"));
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}
