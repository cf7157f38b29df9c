//! CustomResourceDefinitions: dynamic serving, validation, printer columns, scale.

use crate::harness::Cluster;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: string, enum: [small, large]}
              replicas: {type: integer, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
"#;

#[test]
fn custom_resources_are_served_dynamically() {
    let c = Cluster::start();
    let before = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: small}\n",
    );
    assert!(
        !before.ok && before.stderr.contains("no matches for kind"),
        "{}",
        before.stderr
    );
    c.apply(CRD);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=20s",
    ]);
    let res = c.ok(&["api-resources", "--api-group=example.com"]);
    assert!(res.contains("widgets") && res.contains("wd"), "{res}");
    c.apply("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: small}\n");
    let w = c.get_json(&["widget", "w"]);
    assert_eq!(w["spec"]["replicas"], 1, "schema default applied: {w}");
    let table = c.ok(&["get", "wd"]);
    assert!(table.contains("SIZE") && table.contains("small"), "{table}");
    let bad = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: v}\nspec: {size: huge}\n",
    );
    assert!(
        !bad.ok && bad.stderr.contains("spec.size"),
        "{}",
        bad.stderr
    );
    c.ok(&["scale", "widget", "w", "--replicas=3"]);
    assert_eq!(
        c.ok(&["get", "widget", "w", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );
    let smp = c.fails(&[
        "patch",
        "widget",
        "w",
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"size":"large"}}"#,
    ]);
    assert!(
        smp.contains("application/strategic-merge-patch+json is not supported"),
        "{smp}"
    );
    c.ok(&[
        "patch",
        "widget",
        "w",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":"large"}}"#,
    ]);
    c.ok(&["delete", "crd", "widgets.example.com"]);
    let gone = c.kubectl(&["get", "widgets"]);
    assert!(!gone.ok, "resources go with their CRD");
}
