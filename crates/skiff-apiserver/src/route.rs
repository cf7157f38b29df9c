//! URL routing: turns a request path into the endpoint it names.

/// Coordinates of a resource request.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourcePath {
    /// API group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the URL, if any.
    pub namespace: Option<String>,
    /// Plural resource.
    pub resource: String,
    /// Object name, if the URL names one.
    pub name: Option<String>,
    /// Subresource, if any (`status`, `scale`, `log`, ...).
    pub subresource: Option<String>,
    /// Legacy `/watch/` prefix was used.
    pub legacy_watch: bool,
}

/// Every endpoint the server answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/livez`, `/readyz` (and sub-checks)
    Health,
    /// `/metrics`
    Metrics,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<g>/<v>`
    ResourceList(String, String),
    /// `/openapi/v2` (kubectl asks for it as protobuf when it meets a kind it cannot find)
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiIndex,
    /// `/openapi/v3/<api/v1 | apis/g/v>`
    OpenApiDoc(String, String),
    /// `/cacerts`: the cluster CA, unauthenticated, for joining agents to pin (see join.rs).
    CaCerts,
    /// `/v1-skiff/join`: an agent trades the join secret for its certificates.
    Join,
    /// A resource endpoint.
    Resource(ResourcePath),
    /// Anything else.
    NotFound,
}

/// Route a request path.
pub fn route(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["metrics"] => Route::Metrics,
        ["cacerts"] => Route::CaCerts,
        ["v1-skiff", "join"] => Route::Join,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", v] => Route::ResourceList(String::new(), v.to_string()),
        ["apis", g, v] => Route::ResourceList(g.to_string(), v.to_string()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", "api", v] => Route::OpenApiDoc(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiDoc(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let (legacy_watch, rest) = match rest {
        ["watch", tail @ ..] => (true, tail),
        _ => (false, rest),
    };
    let mk = |ns: Option<&str>, res: &str, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourcePath {
            group: group.to_string(),
            version: version.to_string(),
            namespace: ns.map(str::to_string),
            resource: res.to_string(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            legacy_watch,
        })
    };
    match rest {
        // The namespace object itself and its subresources.
        ["namespaces"] => mk(None, "namespaces", None, None),
        ["namespaces", ns] => mk(None, "namespaces", Some(ns), None),
        ["namespaces", ns, sub @ ("status" | "finalize")] => {
            mk(None, "namespaces", Some(ns), Some(sub))
        }
        ["namespaces", ns, res] => mk(Some(ns), res, None, None),
        ["namespaces", ns, res, name] => mk(Some(ns), res, Some(name), None),
        ["namespaces", ns, res, name, sub, ..] => mk(Some(ns), res, Some(name), Some(sub)),
        [res] => mk(None, res, None, None),
        [res, name] => mk(None, res, Some(name), None),
        [res, name, sub, ..] => mk(None, res, Some(name), Some(sub)),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(r: Route) -> ResourcePath {
        match r {
            Route::Resource(p) => p,
            other => panic!("not a resource route: {other:?}"),
        }
    }

    #[test]
    fn routes_resources() {
        let p = res(route(
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
        ));
        assert_eq!(
            (
                p.group.as_str(),
                p.namespace.as_deref(),
                p.resource.as_str()
            ),
            ("apps", Some("default"), "deployments")
        );
        assert_eq!(
            (p.name.as_deref(), p.subresource.as_deref()),
            (Some("web"), Some("scale"))
        );
        let p = res(route("/api/v1/namespaces/kube-system"));
        assert_eq!(
            (p.resource.as_str(), p.name.as_deref(), p.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let p = res(route("/api/v1/namespaces/x/status"));
        assert_eq!(p.subresource.as_deref(), Some("status"));
        let p = res(route("/api/v1/watch/namespaces/default/pods"));
        assert!(p.legacy_watch);
        assert_eq!(p.resource, "pods");
        let p = res(route("/api/v1/nodes/n1/proxy/metrics"));
        assert_eq!(p.subresource.as_deref(), Some("proxy"));
        assert_eq!(
            route("/apis/apps/v1"),
            Route::ResourceList("apps".into(), "v1".into())
        );
        assert_eq!(
            route("/openapi/v3/apis/apps/v1"),
            Route::OpenApiDoc("apps".into(), "v1".into())
        );
    }
}
