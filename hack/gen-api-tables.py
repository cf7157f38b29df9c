#!/usr/bin/env python3
"""Derive Skiff's compact API tables from the Kubernetes v1.33 OpenAPI v2 document.

Usage: hack/gen-api-tables.py [path/to/swagger-v1.33.json]
Writes crates/skiff-api/data/resources.json (resources, verbs, subresources per group-version)
and crates/skiff-api/data/definitions.json (schemas reachable from the served kinds).
Re-run when the served API surface changes; the outputs are committed so a clean clone builds
without ../shared.
"""
import json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '../../shared/k8s-api/swagger-v1.33.json')
OUT = os.path.join(HERE, '../crates/skiff-api/data')

SERVED = {
    ('', 'v1'): ['namespaces', 'pods', 'services', 'endpoints', 'configmaps', 'secrets',
                 'serviceaccounts', 'events', 'nodes', 'persistentvolumes',
                 'persistentvolumeclaims', 'resourcequotas', 'limitranges', 'podtemplates',
                 'replicationcontrollers'],
    ('apps', 'v1'): None, ('batch', 'v1'): None, ('autoscaling', 'v1'): None,
    ('autoscaling', 'v2'): None, ('networking.k8s.io', 'v1'): ['ingresses', 'ingressclasses', 'networkpolicies'],
    ('policy', 'v1'): None, ('rbac.authorization.k8s.io', 'v1'): None,
    ('authorization.k8s.io', 'v1'): None, ('authentication.k8s.io', 'v1'): None,
    ('storage.k8s.io', 'v1'): ['storageclasses'], ('coordination.k8s.io', 'v1'): None,
    ('discovery.k8s.io', 'v1'): None, ('events.k8s.io', 'v1'): None,
    ('scheduling.k8s.io', 'v1'): None, ('apiextensions.k8s.io', 'v1'): None,
}
ACTION_VERB = {'get': 'get', 'list': 'list', 'watch': 'watch', 'watchlist': 'watch', 'post': 'create',
               'put': 'update', 'patch': 'patch', 'delete': 'delete', 'deletecollection': 'deletecollection',
               'connect': None}
VERB_ORDER = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
KEEP = {'description', 'type', 'format', 'properties', 'items', 'additionalProperties', '$ref',
        'required', 'enum'}

swagger = json.load(open(SRC))
resources = {}
path_re = re.compile(r'^/(?:api|apis/(?P<group>[^/]+))/(?P<version>[^/]+)/(?:namespaces/\{namespace\}/)?'
                     r'(?P<resource>[a-z0-9]+)(?:/\{name\}(?:/(?P<sub>[a-z]+))?)?$')
for path, item in swagger['paths'].items():
    if '/watch/' in path:
        continue
    m = path_re.match(path)
    if not m:
        continue
    group, version, res, sub = m.group('group') or '', m.group('version'), m.group('resource'), m.group('sub')
    if (group, version) not in SERVED:
        continue
    allowed = SERVED[(group, version)]
    if allowed is not None and res not in allowed:
        continue
    if res == 'namespaces' and path.startswith('/api/v1/namespaces/{namespace}/'):
        continue
    namespaced = '/namespaces/{namespace}/' in path or ((group, version, res) == ('', 'v1', 'namespaces') and False)
    for method, op in item.items():
        if method == 'parameters':
            continue
        action = op.get('x-kubernetes-action')
        gvk = op.get('x-kubernetes-group-version-kind')
        verb = ACTION_VERB.get(action)
        if verb is None and action != 'connect':
            continue
        key = (group, version, res)
        r = resources.setdefault(key, {'group': group, 'version': version, 'resource': res,
                                       'kind': None, 'namespaced': False, 'verbs': set(), 'subresources': {}})
        if '/namespaces/{namespace}/' in path:
            r['namespaced'] = True
        if sub:
            s = r['subresources'].setdefault(sub, {'name': sub, 'verbs': set()})
            if gvk and action != 'connect':
                s['group'], s['version'], s['kind'] = gvk['group'], gvk['version'], gvk['kind']
            if action == 'connect':
                s['verbs'].add({'get': 'get', 'post': 'create'}.get(method, method))
            elif verb:
                s['verbs'].add(verb)
        else:
            if gvk and r['kind'] is None and not (action in ('list', 'deletecollection') and gvk['kind'].endswith('List')):
                r['kind'] = gvk['kind']
            if verb:
                r['verbs'].add(verb)
# Namespaces are cluster-scoped even though their own paths contain /namespaces/{namespace}.
resources[('', 'v1', 'namespaces')]['namespaced'] = False
out = []
for key in sorted(resources):
    r = resources[key]
    if 'list' in r['verbs']:
        r['verbs'].add('watch')
    r['verbs'] = [v for v in VERB_ORDER if v in r['verbs']]
    subs = []
    for s in sorted(r['subresources'].values(), key=lambda s: s['name']):
        s['verbs'] = sorted(s['verbs'])
        subs.append(s)
    r['subresources'] = subs
    out.append(r)

# Find definition names by GVK and walk reachability.
defs = swagger['definitions']
by_gvk = {}
for name, d in defs.items():
    for g in d.get('x-kubernetes-group-version-kind', []):
        by_gvk.setdefault((g['group'], g['version'], g['kind']), name)
roots = set()
for r in out:
    n = by_gvk.get((r['group'], r['version'], r['kind']))
    if n:
        roots.add(n)
        ln = by_gvk.get((r['group'], r['version'], r['kind'] + 'List'))
        if ln:
            roots.add(ln)
    for s in r['subresources']:
        if s.get('kind'):
            n = by_gvk.get((s['group'], s['version'], s['kind']))
            if n:
                roots.add(n)
for extra in ['io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
              'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent', 'io.k8s.api.autoscaling.v1.Scale',
              'io.k8s.api.policy.v1.Eviction', 'io.k8s.api.core.v1.Binding']:
    roots.add(extra)
keep = {}
todo = list(roots)
def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref' and isinstance(v, str):
                yield v.split('/')[-1]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)
def slim(node):
    if isinstance(node, dict):
        o = {}
        for k, v in node.items():
            if k == 'properties':
                o[k] = {pk: slim(pv) for pk, pv in v.items()}
            elif k.startswith('x-kubernetes-') or k in ('enum', 'required', 'description', 'type', 'format', '$ref'):
                o[k] = v
            elif k in KEEP:
                o[k] = slim(v)
        return o
    if isinstance(node, list):
        return [slim(v) for v in node]
    return node
while todo:
    n = todo.pop()
    if n in keep or n not in defs:
        continue
    keep[n] = slim(defs[n])
    todo.extend(refs(defs[n]))

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, 'resources.json'), 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write('\n')
with open(os.path.join(OUT, 'definitions.json'), 'w') as f:
    json.dump(dict(sorted(keep.items())), f, separators=(',', ':'), sort_keys=False)
    f.write('\n')
print(f'{len(out)} resources, {len(keep)} definitions')
