#!/usr/bin/env python3
"""Generate src/tables.rs from Kubernetes generated.proto files and Go types.

Usage: gen_tables.py SRC_DIR > src/tables.rs

SRC_DIR holds checkouts of the relevant packages (v1.33: kubernetes/api v0.33.x and
kubernetes/apimachinery v0.33.x) laid out as:
  SRC_DIR/api/<group>/<version>/{generated.proto,*.go}
  SRC_DIR/apimachinery/pkg/.../{generated.proto,*.go}

To populate SRC_DIR from git clones of both repositories (tag v0.33.13 was used):
  git -C api show v0.33.13:core/v1/generated.proto > SRC_DIR/api/core/v1/generated.proto
  (likewise each package's non-test, non-generated *.go files, which carry the struct tags)

The .proto files give field numbers and wire types. The Go struct tags give what the
proto files cannot: the JSON name, `omitempty`, `inline`, whether the Go field is a
pointer, and the Go struct field order (which is the order encoding/json writes).
"""

import os
import re
import sys

API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2",
    "networking/v1", "policy/v1", "rbac/v1", "storage/v1", "coordination/v1",
    "discovery/v1", "events/v1", "scheduling/v1", "authentication/v1",
    "authorization/v1", "certificates/v1", "node/v1", "admissionregistration/v1",
    "flowcontrol/v1",
]
MACHINERY_PACKAGES = [
    "pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource",
]

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
# Messages whose JSON form is not an object of their proto fields.
SPECIALS = {
    META + ".Time": "Time",
    META + ".MicroTime": "MicroTime",
    META + ".Duration": "Duration",
    META + ".FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
}
# Kinds that metav1.AddToGroupVersion registers in every group version.
OPTION_KINDS = ["CreateOptions", "DeleteOptions", "GetOptions", "ListOptions",
                "PatchOptions", "UpdateOptions"]
# Kinds the apiserver registers as "unversioned" under the core "v1" group version.
UNVERSIONED_KINDS = ["APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "Status"]

# The only scalar types Kubernetes protos use; anything else stops the generator.
SCALARS = {"bool": "Bool", "int32": "Int32", "int64": "Int64", "string": "Str", "bytes": "Bytes"}

FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_RE = re.compile(r"^\s*map<\s*(\S+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(path):
    """Return (package, [(message, [field dict])])."""
    package = None
    messages = []
    current = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped.startswith("//"):
                continue
            m = re.match(r"^package\s+([\w.]+)\s*;", stripped)
            if m:
                package = m.group(1)
                continue
            m = re.match(r"^message\s+(\w+)\s*{", stripped)
            if m:
                current = (m.group(1), [])
                messages.append(current)
                continue
            if current is None:
                continue
            m = MAP_RE.match(line)
            if m:
                current[1].append({"card": "map", "key": m.group(1), "type": m.group(2),
                                   "name": m.group(3), "num": int(m.group(4))})
                continue
            m = FIELD_RE.match(line)
            if m:
                card = "rep" if m.group(1) == "repeated" else "one"
                current[1].append({"card": card, "type": m.group(2), "name": m.group(3),
                                   "num": int(m.group(4))})
    return package, messages


STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*{")
SLICE_RE = re.compile(r"^type\s+(\w+)\s+\[\]\w+\s*$")


def parse_go(directory):
    """Return ({struct: [go field dict]}, {struct: embeds TypeMeta}, {named slice types}, group)."""
    structs, kinds, slices = {}, {}, set()
    group = None
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".go"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r'^const GroupName\s*=\s*"([^"]*)"', line)
            if m:
                group = m.group(1)
            m = SLICE_RE.match(line)
            if m:
                slices.add(m.group(1))
            m = STRUCT_RE.match(line)
            if not m:
                i += 1
                continue
            struct = m.group(1)
            fields, has_type_meta = [], False
            depth = line.count("{") - line.count("}")
            i += 1
            while i < len(lines) and depth > 0:
                body = lines[i]
                i += 1
                if body.strip().startswith("//"):
                    continue
                # Braces inside struct tags or trailing comments are not nesting.
                code = body.split("`")[0].split("//")[0]
                depth += code.count("{") - code.count("}")
                if depth != 1 or "`" not in body:
                    if depth == 1 and re.match(r"^\s*(metav1\.)?TypeMeta\s*(`|$)", body):
                        has_type_meta = True
                    continue
                decl, tag = body.split("`")[0], body.split("`")[1]
                parts = decl.split()
                if len(parts) == 1:
                    fname, gotype = None, parts[0]
                else:
                    fname, gotype = parts[0], parts[1]
                if gotype in ("TypeMeta", "metav1.TypeMeta"):
                    has_type_meta = True
                pm = re.search(r'protobuf:"([^"]*)"', tag)
                if not pm or pm.group(1) == "-":
                    continue
                jm = re.search(r'json:"([^"]*)"', tag)
                jopts = jm.group(1).split(",") if jm else [fname or gotype]
                fields.append({
                    "num": int(pm.group(1).split(",")[1]),
                    "json": jopts[0],
                    "skip": jopts[0] == "-",
                    "omit": "omitempty" in jopts[1:],
                    "inline": "inline" in jopts[1:],
                    "ptr": gotype.startswith("*"),
                })
            structs[struct] = fields
            kinds[struct] = has_type_meta
    return structs, kinds, slices, group


def rust_ty(proto_type, package, index):
    if proto_type in SCALARS:
        return "Ty::" + SCALARS[proto_type]
    full = proto_type[1:] if proto_type.startswith(".") else package + "." + proto_type
    if full not in index:
        raise SystemExit(f"unknown type {proto_type} (message {full} not loaded)")
    return f"Ty::Msg({index[full]})"


def main():
    root = sys.argv[1]
    units = [("api/" + p, p) for p in API_PACKAGES] + \
            [("apimachinery/" + p, p) for p in MACHINERY_PACKAGES]
    all_messages = []  # (full name, package, fields, go struct fields or None, special)
    kinds = []  # (apiVersion, kind, full name)
    group_versions = []
    for rel, pkg in units:
        directory = os.path.join(root, rel)
        package, messages = parse_proto(os.path.join(directory, "generated.proto"))
        structs, type_meta, slices, group = parse_go(directory)
        if pkg == "core/v1":
            # core/v1 declares `type List metav1.List`; borrow the metav1 struct tags.
            meta_structs, _, _, _ = parse_go(os.path.join(root, "apimachinery/pkg/apis/meta/v1"))
            structs["List"] = meta_structs["List"]
            type_meta["List"] = True
        version = pkg.rsplit("/", 1)[1]
        api_version = None
        if rel.startswith("api/"):
            api_version = f"{group}/{version}" if group else version
            group_versions.append(api_version)
        elif pkg == "pkg/apis/meta/v1":
            api_version = f"{group}/{version}"
        for name, fields in messages:
            full = package + "." + name
            special = SPECIALS.get(full)
            if special is None and name in slices and [f["num"] for f in fields] == [1]:
                special = "StringList"
            all_messages.append((full, package, fields, structs.get(name), special or "None"))
            if api_version and type_meta.get(name):
                kinds.append((api_version, name, full))
    meta_kinds = {k for (av, k, _) in kinds if av == "meta.k8s.io/v1"}
    for kind in UNVERSIONED_KINDS:
        kinds.append(("v1", kind, META + "." + kind))
    for gv in group_versions:
        for kind in OPTION_KINDS:
            if kind in meta_kinds:
                kinds.append((gv, kind, META + "." + kind))

    index = {full: i for i, (full, *_rest) in enumerate(all_messages)}
    out = []
    out.append("// @generated by gen/gen_tables.py from the Kubernetes v1.33 generated.proto files")
    out.append("// and Go struct tags (kubernetes/api and kubernetes/apimachinery v0.33). Do not edit.")
    out.append("")
    out.append("use crate::schema::{f, Card, Message, Special, Ty, INLINE, OMIT, PTR};")
    out.append("")
    out.append("/// Every known message, referenced by index from `Ty::Msg`.")
    out.append(f"pub(crate) static MESSAGES: [Message; {len(all_messages)}] = [")
    for i, (full, package, fields, go, special) in enumerate(all_messages):
        by_num = {fd["num"]: fd for fd in fields}
        ordered = []
        if go is not None:
            seen = set()
            for g in go:
                if g["num"] in by_num and not g["skip"]:
                    ordered.append((by_num[g["num"]], g))
                seen.add(g["num"])
            for fd in fields:
                if fd["num"] not in seen:
                    print(f"warning: {full}.{fd['name']} has no Go field", file=sys.stderr)
                    ordered.append((fd, {"json": fd["name"], "omit": True, "inline": False,
                                         "ptr": False}))
        else:
            ordered = [(fd, {"json": fd["name"], "omit": True, "inline": False, "ptr": False})
                       for fd in fields]
        if special != "None":
            ordered = [(fd, {"json": fd["name"], "omit": True, "inline": False, "ptr": False})
                       for fd in fields]
        out.append(f"    // {i}")
        out.append(f'    Message {{ name: "{full}", special: Special::{special}, fields: &[')
        for fd, g in ordered:
            flags = [n for n, on in (("PTR", g["ptr"]), ("OMIT", g["omit"]),
                                     ("INLINE", g["inline"])) if on]
            flag_expr = " | ".join(flags) if flags else "0"
            if fd["card"] == "map":
                card = f"Card::Map({rust_ty(fd['key'], package, index)})"
                ty = rust_ty(fd["type"], package, index)
            else:
                card = "Card::Repeated" if fd["card"] == "rep" else "Card::One"
                ty = rust_ty(fd["type"], package, index)
            out.append(f'        f({fd["num"]}, "{g["json"]}", {ty}, {card}, {flag_expr}),')
        out.append("    ] },")
    out.append("];")
    out.append("")
    kinds = sorted(set((av, k, index[full]) for av, k, full in kinds))
    out.append("/// (apiVersion, kind, message index), sorted for binary search.")
    out.append(f"pub(crate) static KINDS: [(&str, &str, u16); {len(kinds)}] = [")
    for av, k, i in kinds:
        out.append(f'    ("{av}", "{k}", {i}),')
    out.append("];")
    print("\n".join(out))


if __name__ == "__main__":
    main()
