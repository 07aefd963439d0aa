/**
 * EnvoyFilter validation as Istio decides it (envoyfilter.ValidateEnvoyFilter, the CRD's schema
 * and its x-kubernetes-validations). Istio warns about every EnvoyFilter; the table ignores that
 * warning (checked once below), as it does mesh's own "not supported by mesh" note.
 */
import assert from "node:assert/strict";
import { parseResources } from "../resources.ts";
import { istioTreeSamples } from "../../tests/samples.ts";
import { type Case, tableTest } from "./case_table.ts";
import { ENVOY_FILTER_WARNING } from "./envoy_filter.ts";

const HEADER = {
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "EnvoyFilter",
  alwaysWarns: /^EnvoyFilter exposes internal implementation details/,
};

const REMOVE = "patch: {operation: REMOVE}";

const CASES: Case[] = [
  // --- Istio's TestValidateEnvoyFilter table
  { name: "no patches", yaml: "", want: "valid" },
  {
    name: "workload selector without labels",
    yaml: "workloadSelector: {}",
    want: "warning",
    message: "without labels",
  },
  {
    name: "patch without applyTo",
    yaml: "configPatches: [{}]",
    want: "error",
    message: "missing applyTo",
  },
  {
    name: "patch without a patch",
    yaml: "configPatches: [{applyTo: LISTENER}]",
    want: "error",
    message: "missing patch",
  },
  {
    name: "patch without an operation",
    yaml: "configPatches: [{applyTo: LISTENER, patch: {}}]",
    want: "error",
    message: "missing patch operation",
  },
  {
    name: "ADD without a value",
    yaml: "configPatches: [{applyTo: LISTENER, patch: {operation: ADD}}]",
    want: "error",
    message: "missing patch value for non-remove operation",
  },
  {
    name: "proxyVersion that isn't a regex",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {proxy: {proxyVersion: "%#@~++==\`24c234\`"}}
  ${REMOVE}`,
    want: "error",
    message: "invalid regex for proxy version",
  },
  {
    name: "proxyVersion regex",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {proxy: {proxyVersion: 'release-1\\.2-23434'}}
  ${REMOVE}`,
    want: "valid",
  },
  {
    name: "proxyVersion over 1024 characters",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {proxy: {proxyVersion: '${"a{100}".repeat(200)}'}}
  ${REMOVE}`,
    want: "warning",
    message: "exceeds 1024 characters",
  },
  {
    name: "LISTENER with a cluster match",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {cluster: {}}
  ${REMOVE}`,
    want: "error",
    message: "cannot have non listener match",
  },
  {
    name: "filter match without a name",
    yaml: `
configPatches:
- applyTo: NETWORK_FILTER
  match: {listener: {filterChain: {sni: "124", filter: {}}}}
  ${REMOVE}`,
    want: "error",
    message: "filter match has no name",
  },
  {
    name: "subFilter with NETWORK_FILTER",
    yaml: `
configPatches:
- applyTo: NETWORK_FILTER
  match: {listener: {filterChain: {filter: {name: random, subFilter: {}}}}}
  ${REMOVE}`,
    want: "error",
    message: "HTTP_FILTER only",
  },
  {
    name: "subFilter under a filter that isn't the HCM",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  match: {listener: {filterChain: {filter: {name: random, subFilter: {}}}}}
  ${REMOVE}`,
    want: "error",
    message: "requires filter match with envoy.filters.network.http_connection_manager",
  },
  {
    name: "subFilter without a name",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  match:
    listener:
      filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {}}}
  ${REMOVE}`,
    want: "error",
    message: "subfilter match has no name",
  },
  {
    name: "VIRTUAL_HOST with a cluster match",
    yaml: `
configPatches:
- applyTo: VIRTUAL_HOST
  match: {cluster: {}}
  ${REMOVE}`,
    want: "error",
    message: "non route configuration match",
  },
  {
    name: "CLUSTER with a listener match",
    yaml: `
configPatches:
- applyTo: CLUSTER
  match: {listener: {}}
  ${REMOVE}`,
    want: "error",
    message: "non cluster match",
  },
  {
    name: "patch value whose name isn't a string",
    yaml: `
configPatches:
- applyTo: CLUSTER
  match: {cluster: {}}
  patch: {operation: ADD, value: {name: false}}`,
    want: "error",
    message: "name must be a string",
  },
  {
    name: "happy: a cluster and two network filters",
    yaml: `
configPatches:
- applyTo: CLUSTER
  match: {cluster: {}}
  patch: {operation: ADD, value: {lb_policy: RING_HASH}}
- applyTo: NETWORK_FILTER
  match: {listener: {filterChain: {name: envoy.tcp_proxy}}}
  patch:
    operation: INSERT_BEFORE
    value:
      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz}
- applyTo: NETWORK_FILTER
  match: {listener: {filterChain: {name: envoy.tcp_proxy}}}
  patch:
    operation: INSERT_FIRST
    value:
      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz}`,
    want: "valid",
  },
  {
    name: "a v2 type",
    yaml: `
configPatches:
- applyTo: NETWORK_FILTER
  match: {listener: {filterChain: {name: envoy.tcp_proxy}}}
  patch:
    operation: INSERT_FIRST
    value:
      typed_config: {"@type": type.googleapis.com/envoy.config.filter.network.ext_authz.v2.ExtAuthz}`,
    want: "error",
    message: "try using the v3 XDS API",
  },
  {
    name: "deprecated filter name",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  match: {listener: {filterChain: {filter: {name: envoy.http_connection_manager}}}}
  patch: {operation: INSERT_FIRST, value: {}}`,
    want: "warning",
    message: "using deprecated filter name",
  },
  {
    name: "a duration in a cluster",
    yaml: `
configPatches:
- applyTo: CLUSTER
  patch: {operation: ADD, value: {dns_refresh_rate: 500ms}}`,
    want: "valid",
  },
  // --- testdata/crds/envoyfilter-valid.yaml
  {
    name: "CRD sample: ext_proc HTTP filter",
    yaml: `
configPatches:
  - applyTo: HTTP_FILTER
    match:
      listener:
        filterChain:
          filter:
            name: "envoy.filters.network.http_connection_manager"
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.ext_proc
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
          failure_mode_allow: false
          processing_mode:
            request_header_mode: "SEND"
          grpc_service:
            envoy_grpc:
              cluster_name: fake-cluster`,
    want: "valid",
  },
  {
    name: "CRD sample: waypoint HTTP filter removed",
    yaml: `
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: WAYPOINT
      waypoint:
        filter:
          name: "envoy.filters.network.http_connection_manager"
          subFilter:
            name: "envoy.filters.http.router"
    patch:
      operation: REMOVE`,
    want: "valid",
  },
  {
    name: "CRD sample: waypoint cluster",
    yaml: `
configPatches:
  - applyTo: CLUSTER
    match: {context: WAYPOINT, waypoint: {}}
    patch: {operation: REMOVE}`,
    want: "valid",
  },
  {
    name: "CRD sample: add a cluster",
    yaml: `
configPatches:
  - applyTo: CLUSTER
    patch:
      operation: ADD
      value:
        name: "lua_cluster"`,
    want: "valid",
  },
  {
    name: "CRD sample: MERGE_AND_REPLACE_LIST",
    yaml: `
configPatches:
  - applyTo: NETWORK_FILTER
    match:
      listener:
        filterChain:
          transportProtocol: tls
    patch:
      operation: MERGE_AND_REPLACE_LIST
      value:
        name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          upgrade_configs:
            - upgrade_type: websocket`,
    want: "valid",
  },
  // --- testdata/crds/envoyfilter-invalid.yaml
  {
    name: "CRD sample: waypoint match with context SIDECAR_INBOUND",
    yaml: `
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      waypoint:
        filter: {name: envoy.filters.network.http_connection_manager}`,
    want: "error",
    message: "needs context WAYPOINT",
  },
  {
    name: "CRD sample: context WAYPOINT with a listener match",
    yaml: `
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: WAYPOINT
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}`,
    want: "error",
    message: "needs a waypoint match",
  },
  {
    name: "CRD sample: waypoint port 65536",
    yaml: `
configPatches:
  - applyTo: HTTP_FILTER
    match: {context: WAYPOINT, waypoint: {portNumber: 65536}}`,
    want: "error",
    message: "between 1-65535",
  },
  // --- further rules of envoyfilter.go and the CRD
  {
    name: "filter match with LISTENER (no effect)",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {listener: {filterChain: {filter: {name: envoy.filters.network.tcp_proxy}}}}
  ${REMOVE}`,
    want: "warning",
    message: "no effect when used with LISTENER",
  },
  {
    name: "deprecated subFilter name",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  match:
    listener:
      filterChain:
        filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.router}}
  ${REMOVE}`,
    want: "warning",
    message: "envoy.filters.http.router",
  },
  {
    name: "HTTP filter without typed_config",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  patch: {operation: INSERT_FIRST, value: {name: envoy.filters.http.lua}}`,
    want: "warning",
    message: "without typed_config",
  },
  {
    name: "HTTP filter with config_discovery (no typed_config needed)",
    yaml: `
configPatches:
- applyTo: HTTP_FILTER
  patch: {operation: INSERT_FIRST, value: {name: ecds, config_discovery: {type_urls: [x]}}}`,
    want: "valid",
  },
  {
    name: "waypoint patch without applyTo (Istio doesn't check waypoint patches)",
    yaml: "configPatches: [{match: {context: WAYPOINT, waypoint: {}}}]",
    want: "valid",
  },
  {
    name: "listener and cluster in one match",
    yaml: `
configPatches:
- applyTo: LISTENER
  match: {listener: {}, cluster: {}}
  ${REMOVE}`,
    want: "error",
    message: "can't both be set",
  },
  {
    name: "workloadSelector and targetRefs together",
    yaml: `
workloadSelector: {labels: {app: a}}
targetRefs: [{kind: Service, name: a}]`,
    want: "error",
    message: "only one of targetRefs or workloadSelector",
  },
  {
    name: "targetRef of any kind (EnvoyFilter's CRD checks only its shape)",
    yaml: "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: a}]",
    want: "valid",
  },
  {
    name: "targetRef with a namespace",
    yaml: "targetRefs: [{kind: Service, name: a, namespace: b}]",
    want: "error",
    message: "cross-namespace",
  },
  {
    name: "wildcard selector value",
    yaml: `workloadSelector: {labels: {app: "a*"}}`,
    want: "error",
    message: "wildcards",
  },
  {
    name: "empty selector key",
    yaml: `workloadSelector: {labels: {"": a}}`,
    want: "error",
  },
  {
    name: "applyTo that doesn't exist",
    yaml: `configPatches: [{applyTo: ROUTE, ${REMOVE}}]`,
    want: "error",
  },
  {
    name: "operation that doesn't exist",
    yaml: "configPatches: [{applyTo: CLUSTER, patch: {operation: DELETE}}]",
    want: "error",
  },
  {
    name: "patch value that is a list",
    yaml: "configPatches: [{applyTo: CLUSTER, patch: {operation: ADD, value: [a]}}]",
    want: "error",
  },
  {
    name: "listener port over uint32",
    yaml:
      `configPatches: [{applyTo: LISTENER, match: {listener: {portNumber: 4294967296}}, ${REMOVE}}]`,
    want: "error",
  },
  {
    name: "every match field",
    yaml: `
priority: -5
configPatches:
- applyTo: HTTP_ROUTE
  match:
    context: GATEWAY
    proxy: {proxyVersion: '^1\\.2.*', metadata: {A: b}}
    routeConfiguration:
      portNumber: 443
      portName: https
      gateway: istio-system/gw
      name: r
      vhost: {name: "a:443", domainName: a, route: {name: default, action: ROUTE}}
  patch: {operation: MERGE, value: {timeout: 5s}, filterClass: AUTHZ}`,
    want: "valid",
  },
];

tableTest("EnvoyFilter: Istio's validation, case by case", HEADER, CASES);

Deno.test("EnvoyFilter: Istio's warning and mesh's note, once each per document", () => {
  const text = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n" +
    "metadata: {name: a, namespace: x}\nspec: {}\n";
  const { diagnostics, skipped } = parseResources(text, "f.yaml");
  assert.equal(skipped.length, 1);
  assert.deepEqual(diagnostics.map((d) => d.severity), ["warning", "warning"]);
  assert.ok(diagnostics.some((d) => d.message === ENVOY_FILTER_WARNING));
  assert.ok(diagnostics.some((d) => /not supported by mesh/.test(d.message)));
});

const tree = await istioTreeSamples();

Deno.test({
  name: "EnvoyFilter: Istio's samples (rate limits) are accepted",
  ignore: !tree,
  fn: async () => {
    for (
      const file of [
        "bookinfo/policy/productpage_envoy_ratelimit.yaml",
        "ratelimit/local-rate-limit-service.yaml",
      ]
    ) {
      const text = await Deno.readTextFile(`${tree}/${file}`);
      const { diagnostics, skipped } = parseResources(text, file);
      assert.ok(skipped.some((s) => s.kind === "EnvoyFilter"), file);
      assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], file);
    }
  },
});
