"""The official Python client (PyPI `kubernetes`) against a real `skiff server`.

Expectations are kube-apiserver v1.33's observable behaviour: status codes, Status
reasons and messages, resourceVersion/uid semantics, patch semantics per content type,
watch event order, server-side apply ownership.
"""

import json
import threading
import time

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

NS = "default"
WAIT_S = 20


def configmap(name, labels=None, data=None):
    return client.V1ConfigMap(
        api_version="v1",
        kind="ConfigMap",
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        data=data,
    )


def deployment(name, replicas=1):
    labels = {"app": name}
    return client.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.27")]),
            ),
        ),
    )


def status_body(exc):
    """The metav1.Status the server sent with an error."""
    assert exc.body, f"error {exc.status} carried no body"
    body = json.loads(exc.body)
    assert body.get("kind") == "Status" and body.get("apiVersion") == "v1", body
    assert body.get("status") == "Failure", body
    return body


def expect_api_error(call, code, reason):
    """Run `call`, require an ApiException with HTTP `code` and Status reason `reason`; return the Status."""
    with pytest.raises(ApiException) as info:
        call()
    exc = info.value
    body = status_body(exc)
    assert (exc.status, body.get("code"), body.get("reason")) == (code, code, reason), body
    return body


def wait_until(predicate, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {WAIT_S}s waiting for {what}")


def container_names(dep):
    return [c.name for c in dep.spec.template.spec.containers]


# --- CRUD -------------------------------------------------------------------------------


def test_configmap_create_read_replace_delete(core, name):
    created = core.create_namespaced_config_map(NS, configmap(name, {"app": "a"}, {"k": "v1"}))
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.namespace == NS

    read = core.read_namespaced_config_map(name, NS)
    assert (read.metadata.uid, read.data) == (created.metadata.uid, {"k": "v1"})

    read.data = {"k": "v2", "extra": "x"}
    replaced = core.replace_namespaced_config_map(name, NS, read)
    assert replaced.data == {"k": "v2", "extra": "x"}
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.resource_version != created.metadata.resource_version

    core.delete_namespaced_config_map(name, NS)
    body = expect_api_error(lambda: core.read_namespaced_config_map(name, NS), 404, "NotFound")
    assert body["message"] == f'configmaps "{name}" not found'
    assert body["details"] == {"name": name, "kind": "configmaps"}


def test_namespace_create_read_replace_patch_delete(core, name):
    ns = client.V1Namespace(api_version="v1", kind="Namespace", metadata=client.V1ObjectMeta(name=name, labels={"a": "1"}))
    created = core.create_namespace(ns)
    assert created.status.phase == "Active"
    # Defaulted by the server, as upstream: the name label and the kubernetes finalizer.
    assert created.metadata.labels.get("kubernetes.io/metadata.name") == name
    assert created.spec.finalizers == ["kubernetes"]

    read = core.read_namespace(name)
    read.metadata.labels["b"] = "2"
    replaced = core.replace_namespace(name, read)
    assert replaced.metadata.labels["b"] == "2"

    patched = core.patch_namespace(name, {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert "a" not in patched.metadata.labels and patched.metadata.labels["c"] == "3"

    listed = core.list_namespace(label_selector=f"kubernetes.io/metadata.name={name}")
    assert [n.metadata.name for n in listed.items] == [name]

    # Upstream answers 200 with the Namespace itself, now Terminating (it has finalizers).
    resp = core.delete_namespace(name, _preload_content=False)
    assert resp.status == 200
    deleted = json.loads(resp.data)
    assert (deleted["kind"], deleted["status"]["phase"]) == ("Namespace", "Terminating"), deleted
    assert deleted["metadata"].get("deletionTimestamp"), deleted

    def gone():
        try:
            ns = core.read_namespace(name)
        except ApiException as e:
            return e.status == 404
        # Until the namespace controller finishes, a deleted namespace is Terminating.
        assert ns.status.phase == "Terminating", ns.status
        assert ns.metadata.deletion_timestamp is not None
        return False

    wait_until(gone, f"namespace {name} to disappear")


def test_create_without_kind_takes_it_from_the_endpoint(core, apps, name):
    # Client code commonly omits apiVersion/kind; upstream decodes the body with the
    # endpoint's group/version/kind as defaults.
    created = core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"a": "1"}))
    assert (created.kind, created.api_version, created.data) == ("ConfigMap", "v1", {"a": "1"})
    dep = deployment(name)
    dep.kind = dep.api_version = None
    created = apps.create_namespaced_deployment(NS, dep)
    assert (created.kind, created.api_version) == ("Deployment", "apps/v1")
    read = core.read_namespaced_config_map(name, NS)
    read.kind = read.api_version = None
    read.data = {"a": "2"}
    assert core.replace_namespaced_config_map(name, NS, read).data == {"a": "2"}


# --- patches ----------------------------------------------------------------------------


def test_patch_content_types_picked_by_the_client(core, apps, name):
    core.create_namespaced_config_map(NS, configmap(name, {"keep": "1", "drop": "1"}, {"a": "1", "b": "1"}))

    # A dict body: the client sends application/strategic-merge-patch+json.
    patched = core.patch_namespaced_config_map(name, NS, {"metadata": {"labels": {"drop": None}}, "data": {"c": "3"}})
    assert patched.metadata.labels == {"keep": "1"}
    assert patched.data == {"a": "1", "b": "1", "c": "3"}

    # A list body: the client sends application/json-patch+json.
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "remove", "path": "/data/b"},
    ]
    patched = core.patch_namespaced_config_map(name, NS, ops)
    assert patched.data == {"a": "2", "c": "3"}

    # JSON patch whose `test` op fails: 422 Invalid, nothing written.
    failing = [{"op": "test", "path": "/data/a", "value": "nope"}, {"op": "remove", "path": "/data/c"}]
    expect_api_error(lambda: core.patch_namespaced_config_map(name, NS, failing), 422, "Invalid")
    assert core.read_namespaced_config_map(name, NS).data == {"a": "2", "c": "3"}

    # Merge patch, chosen explicitly.
    patched = core.patch_namespaced_config_map(
        name, NS, {"data": {"c": None, "d": "4"}}, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"a": "2", "d": "4"}

    # The semantics differ on lists with a merge key: containers merge by name under a
    # strategic merge patch, and are replaced wholesale under a JSON merge patch.
    # Upstream puts patch elements before server-only ones when the patch carries no
    # $setElementOrder (mergeSortedSlice), hence side before web.
    apps.create_namespaced_deployment(NS, deployment(name))
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1.36"}]}}}}
    strategic = apps.patch_namespaced_deployment(name, NS, sidecar)
    assert container_names(strategic) == ["side", "web"]
    ordered = dict(sidecar)
    ordered["spec"] = {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
        "containers": [{"name": "side", "image": "busybox:1.37"}],
    }}}
    strategic = apps.patch_namespaced_deployment(name, NS, ordered)
    assert container_names(strategic) == ["web", "side"]
    assert strategic.spec.template.spec.containers[1].image == "busybox:1.37"
    merged = apps.patch_namespaced_deployment(name, NS, sidecar, _content_type="application/merge-patch+json")
    assert container_names(merged) == ["side"]


def test_deployment_create_and_patch_scale(apps, name):
    created = apps.create_namespaced_deployment(NS, deployment(name, replicas=1))
    assert created.spec.replicas == 1
    assert created.metadata.generation == 1
    # Defaults upstream applies to a Deployment.
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600

    scale = apps.read_namespaced_deployment_scale(name, NS)
    assert (scale.kind, scale.api_version) == ("Scale", "autoscaling/v1")
    assert scale.spec.replicas == 1

    scaled = apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": 3}})
    assert (scaled.kind, scaled.api_version, scaled.spec.replicas) == ("Scale", "autoscaling/v1", 3)
    dep = apps.read_namespaced_deployment(name, NS)
    assert dep.spec.replicas == 3
    assert dep.metadata.generation == 2, "a spec change bumps generation"
    assert apps.read_namespaced_deployment_scale(name, NS).status.selector == f"app={name}"

    # Metadata-only changes leave generation alone.
    dep = apps.patch_namespaced_deployment(name, NS, {"metadata": {"labels": {"x": "y"}}})
    assert dep.metadata.generation == 2


# --- list and watch ---------------------------------------------------------------------


def test_list_with_label_and_field_selectors(core, name):
    for suffix, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map(NS, configmap(f"{name}-{suffix}", {"tier": tier, "suite": name}))
    cases = [
        ({"label_selector": f"suite={name}"}, ["a", "b", "c"]),
        ({"label_selector": f"suite={name},tier=web"}, ["a", "b"]),
        ({"label_selector": f"suite={name},tier!=web"}, ["c"]),
        ({"label_selector": f"suite={name},tier in (db,cache)"}, ["c"]),
        ({"label_selector": f"suite={name},!tier"}, []),
        ({"field_selector": f"metadata.name={name}-b"}, ["b"]),
        ({"label_selector": f"suite={name}", "field_selector": f"metadata.name!={name}-a"}, ["b", "c"]),
        ({"field_selector": f"metadata.namespace={NS},metadata.name={name}-c"}, ["c"]),
    ]
    for params, want in cases:
        result = core.list_namespaced_config_map(NS, **params)
        assert result.metadata.resource_version, "lists carry metadata.resourceVersion"
        got = sorted(cm.metadata.name[len(name) + 1 :] for cm in result.items)
        assert got == want, params


def test_list_with_an_unknown_field_selector_is_400(core):
    body = expect_api_error(lambda: core.list_namespaced_config_map(NS, field_selector="spec.nope=x"), 400, "BadRequest")
    assert "spec.nope" in body["message"], body


def test_watch_stream_receives_added_modified_deleted(core, name):
    rv = core.list_namespaced_config_map(NS).metadata.resource_version

    def writer():
        core.create_namespaced_config_map(NS, configmap(name, {"suite": name}, {"k": "1"}))
        core.patch_namespaced_config_map(name, NS, {"data": {"k": "2"}})
        # Outside the selector: must not show up.
        core.create_namespaced_config_map(NS, configmap(name + "-other", {"suite": "other"}))
        core.delete_namespaced_config_map(name, NS)

    # The writes run concurrently with the watch; whether they land before or after the
    # watch request, a watch from `rv` must deliver all of them, in order.
    thread = threading.Thread(target=writer)
    thread.start()
    w = watch.Watch()
    events = []
    try:
        stream = w.stream(
            core.list_namespaced_config_map, NS, label_selector=f"suite={name}", resource_version=rv, timeout_seconds=WAIT_S
        )
        for event in stream:
            obj = event["object"]
            assert isinstance(obj, client.V1ConfigMap), type(obj)
            events.append((event["type"], obj.metadata.name, (obj.data or {}).get("k")))
            if event["type"] == "DELETED":
                break
    finally:
        w.stop()
        thread.join(timeout=WAIT_S)
    assert events == [("ADDED", name, "1"), ("MODIFIED", name, "2"), ("DELETED", name, "2")]


def test_watch_without_resource_version_starts_with_existing_objects(core, name):
    core.create_namespaced_config_map(NS, configmap(name, {"suite": name}))
    w = watch.Watch()
    try:
        first = next(iter(w.stream(core.list_namespaced_config_map, NS, label_selector=f"suite={name}", timeout_seconds=WAIT_S)))
    finally:
        w.stop()
    # Upstream: a watch with no resourceVersion starts with synthetic ADDED events.
    assert (first["type"], first["object"].metadata.name) == ("ADDED", name)


# --- server-side apply ------------------------------------------------------------------


APPLY = "application/apply-patch+yaml"


def test_server_side_apply_with_apply_patch_content_type(core, name):
    def intent(value, key="shared"):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: value}}

    created = core.patch_namespaced_config_map(name, NS, intent("a"), field_manager="alpha", _content_type=APPLY)
    assert created.data == {"shared": "a"}
    assert [(m.manager, m.operation) for m in created.metadata.managed_fields] == [("alpha", "Apply")]

    body = expect_api_error(
        lambda: core.patch_namespaced_config_map(name, NS, intent("b"), field_manager="beta", _content_type=APPLY),
        409,
        "Conflict",
    )
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alpha": .data.shared', body
    assert {"reason": "FieldManagerConflict", "message": 'conflict with "alpha"', "field": ".data.shared"} in body["details"]["causes"]
    assert core.read_namespaced_config_map(name, NS).data == {"shared": "a"}

    forced = core.patch_namespaced_config_map(name, NS, intent("b"), field_manager="beta", force=True, _content_type=APPLY)
    assert forced.data == {"shared": "b"}
    assert "beta" in [m.manager for m in forced.metadata.managed_fields]

    # An apply request without fieldManager fails PatchOptions validation (upstream: 422).
    body = expect_api_error(lambda: core.patch_namespaced_config_map(name, NS, intent("c"), _content_type=APPLY), 422, "Invalid")
    assert body["message"] == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    assert (body["details"]["group"], body["details"]["kind"]) == ("meta.k8s.io", "PatchOptions"), body
    assert {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"} in body["details"]["causes"]


def test_server_side_apply_via_dynamic_client(api_client, name):
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = client.ApiClient().sanitize_for_serialization(deployment(name, replicas=2))
    applied = deployments.server_side_apply(body=body, namespace=NS, field_manager="dyn-apply")
    assert applied.spec.replicas == 2
    assert applied.metadata.managedFields[0].manager == "dyn-apply"

    body["spec"]["replicas"] = 4
    applied = deployments.server_side_apply(body=body, namespace=NS, field_manager="dyn-apply")
    assert applied.spec.replicas == 4

    got = deployments.get(name=name, namespace=NS)
    assert got.spec.replicas == 4
    listed = deployments.get(namespace=NS, field_selector=f"metadata.name={name}")
    assert [d.metadata.name for d in listed.items] == [name]


# --- errors -----------------------------------------------------------------------------


def test_conflict_and_not_found_raise_api_exception(core, name):
    body = expect_api_error(lambda: core.read_namespaced_config_map(name, NS), 404, "NotFound")
    assert body["message"] == f'configmaps "{name}" not found'

    original = core.create_namespaced_config_map(NS, configmap(name, data={"k": "1"}))
    body = expect_api_error(lambda: core.create_namespaced_config_map(NS, configmap(name)), 409, "AlreadyExists")
    assert body["message"] == f'configmaps "{name}" already exists'

    core.patch_namespaced_config_map(name, NS, {"data": {"k": "2"}})
    original.data = {"k": "3"}  # still carries the old resourceVersion
    body = expect_api_error(lambda: core.replace_namespaced_config_map(name, NS, original), 409, "Conflict")
    assert body["message"] == (
        f'Operation cannot be fulfilled on configmaps "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map(name, NS).data == {"k": "2"}

    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map(name + "-missing", NS)
    assert (info.value.status, info.value.reason) == (404, "Not Found")


def test_invalid_object_is_422_with_field_causes(core):
    bad = configmap("Not_A_Valid_Name")
    body = expect_api_error(lambda: core.create_namespaced_config_map(NS, bad), 422, "Invalid")
    assert body["details"]["name"] == "Not_A_Valid_Name"
    assert body["details"]["kind"] == "ConfigMap"
    assert any(c.get("field") == "metadata.name" for c in body["details"]["causes"]), body


# --- custom resources -------------------------------------------------------------------


GROUP, VERSION, PLURAL = "clientcompat.skiff.dev", "v1", "widgets"


@pytest.fixture(scope="module")
def widget_crd(api_client):
    ext = client.ApiextensionsV1Api(api_client)
    schema = client.V1JSONSchemaProps(
        type="object",
        properties={
            "spec": client.V1JSONSchemaProps(
                type="object",
                properties={
                    "size": client.V1JSONSchemaProps(type="integer"),
                    "color": client.V1JSONSchemaProps(type="string"),
                },
            )
        },
    )
    crd = client.V1CustomResourceDefinition(
        api_version="apiextensions.k8s.io/v1",
        kind="CustomResourceDefinition",
        metadata=client.V1ObjectMeta(name=f"{PLURAL}.{GROUP}"),
        spec=client.V1CustomResourceDefinitionSpec(
            group=GROUP,
            scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural=PLURAL, singular="widget", kind="Widget", short_names=["wdg"]),
            versions=[
                client.V1CustomResourceDefinitionVersion(
                    name=VERSION, served=True, storage=True, schema=client.V1CustomResourceValidation(open_apiv3_schema=schema)
                )
            ],
        ),
    )
    ext.create_custom_resource_definition(crd)

    def established():
        got = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        conditions = (got.status and got.status.conditions) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(established, "the CRD to be Established")
    return crd


def widget(name, size, labels=None):
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"size": size, "color": "red"},
    }


def test_custom_objects_crud_against_a_crd(widget_crd, api_client, name):
    co = client.CustomObjectsApi(api_client)
    args = (GROUP, VERSION, NS, PLURAL)

    created = co.create_namespaced_custom_object(*args, widget(name, 1, {"suite": name}))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["spec"] == {"size": 1, "color": "red"}
    assert created["metadata"]["generation"] == 1

    got = co.get_namespaced_custom_object(*args, name)
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    co.create_namespaced_custom_object(*args, widget(name + "-2", 2, {"suite": "other"}))
    listed = co.list_namespaced_custom_object(*args, label_selector=f"suite={name}")
    assert listed["kind"] == "WidgetList"
    assert [w["metadata"]["name"] for w in listed["items"]] == [name]

    # The client's default for custom objects is a JSON merge patch.
    patched = co.patch_namespaced_custom_object(*args, name, {"spec": {"size": 5, "color": None}})
    assert patched["spec"] == {"size": 5}
    assert patched["metadata"]["generation"] == 2

    # Strategic merge patch is undefined for custom resources: 415.
    expect_api_error(
        lambda: co.patch_namespaced_custom_object(
            *args, name, {"spec": {"size": 6}}, _content_type="application/strategic-merge-patch+json"
        ),
        415,
        "UnsupportedMediaType",
    )

    got["spec"]["size"] = 7  # stale resourceVersion: the merge patch above moved it
    expect_api_error(lambda: co.replace_namespaced_custom_object(*args, name, got), 409, "Conflict")
    fresh = co.get_namespaced_custom_object(*args, name)
    fresh["spec"]["size"] = 7
    assert co.replace_namespaced_custom_object(*args, name, fresh)["spec"]["size"] == 7

    applied = co.patch_namespaced_custom_object(
        *args, name, widget(name, 8, {"suite": name}), field_manager="py-apply", force=True, _content_type=APPLY
    )
    assert applied["spec"]["size"] == 8

    co.delete_namespaced_custom_object(*args, name)
    body = expect_api_error(lambda: co.get_namespaced_custom_object(*args, name), 404, "NotFound")
    assert body["message"] == f'{PLURAL}.{GROUP} "{name}" not found'
