/**
 * AuthorizationPolicy validation, case by case as Istio decides it: the table of Istio's
 * TestValidateAuthorizationPolicy (pkg/config/validation), its CRD test data
 * (testdata/crds/authz-*.yaml), and the rules of the CRD's schema. Condition values and path
 * templates are in authorization_values_test.ts.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy" };

/** A whole document with annotations (for the dry-run cases). */
function annotated(annotations: Record<string, string>, spec: string): string {
  const lines = Object.entries(annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  return [
    "apiVersion: security.istio.io/v1",
    "kind: AuthorizationPolicy",
    "metadata:",
    "  name: test",
    "  namespace: default",
    "  annotations:",
    ...lines,
    `spec: ${spec}`,
  ].join("\n");
}

/** A rule with one source. */
const from = (source: string) => `rules: [{from: [{source: ${source}}]}]`;
/** A rule with one operation. */
const to = (operation: string) => `rules: [{to: [{operation: ${operation}}]}]`;
/** A DENY policy with the given rule that also names a port (no TCP warning). */
const denyWithPort = (extra: string) =>
  `action: DENY
${extra}
rules:
- from: [{source: {principals: [temp]}}]
  to: [{operation: {ports: ["8080"], methods: [GET, DELETE]}}]`;

const CASES: Case[] = [
  // --- Istio's TestValidateAuthorizationPolicy
  {
    name: "good: sources, operations and conditions",
    yaml: `
selector: {matchLabels: {app: httpbin, version: v1}}
rules:
- from: [{source: {principals: [sa1]}}, {source: {principals: [sa2]}}]
  to: [{operation: {methods: [GET]}}, {operation: {methods: [POST]}}]
  when:
  - {key: source.ip, values: [1.2.3.4, 5.6.7.0/24]}
  - {key: "request.headers[:authority]", values: [v1, v2]}`,
    want: "valid",
  },
  {
    name: "good serviceAccounts",
    yaml: `
selector: {matchLabels: {app: httpbin, version: v1}}
rules:
- from: [{source: {serviceAccounts: [ns1/sa1, ns2/sa2]}}, {source: {principals: [sa2]}}]`,
    want: "valid",
  },
  {
    name: "serviceAccounts with namespaces",
    yaml: from("{serviceAccounts: [ns1/sa1, ns2/sa2], namespaces: [ns]}"),
    want: "error",
    message: "serviceAccounts can't be combined with namespaces",
  },
  {
    name: "CUSTOM with a provider",
    yaml: "action: CUSTOM\nprovider: {name: my-custom-authz}\nrules: [{}]",
    want: "valid",
  },
  {
    name: "CUSTOM with an empty provider name",
    yaml: `action: CUSTOM\nprovider: {name: ""}\nrules: [{}]`,
    want: "error",
    message: "action CUSTOM needs provider.name",
  },
  {
    name: "CUSTOM without a provider",
    yaml: "action: CUSTOM\nrules: [{}]",
    want: "error",
    message: "action CUSTOM needs provider.name",
  },
  {
    name: "CUSTOM with identity sources and conditions",
    yaml: `
action: CUSTOM
provider: {name: my-custom-authz}
rules:
- from:
  - source:
      namespaces: [ns]
      notNamespaces: [ns]
      principals: [id]
      notPrincipals: [id]
      requestPrincipals: [req]
      notRequestPrincipals: [req]
  when:
  - {key: source.namespace, values: [a], notValues: [b]}
  - {key: source.principal, values: [a], notValues: [b]}
  - {key: "request.auth.claims[a]", values: [a], notValues: [b]}`,
    want: "error",
    message: "requestPrincipals is not supported with action CUSTOM",
  },
  {
    name: "provider with action ALLOW",
    yaml: `action: ALLOW\nprovider: {name: ""}\nrules: [{}]`,
    want: "error",
    message: "provider is only for action CUSTOM",
  },
  { name: "ALLOW without rules (allow nothing)", yaml: "action: ALLOW", want: "valid" },
  {
    name: "dry-run true on ALLOW",
    yaml: annotated({ "istio.io/dry-run": "true" }, "{action: ALLOW}"),
    want: "valid",
  },
  {
    name: "dry-run false on DENY",
    yaml: annotated({ "istio.io/dry-run": "false" }, "{action: DENY, rules: [{}]}"),
    want: "valid",
  },
  {
    name: "dry-run that isn't a boolean",
    yaml: annotated({ "istio.io/dry-run": "foo" }, "{action: ALLOW}"),
    want: "error",
    message: 'istio.io/dry-run must be "true" or "false"; got "foo"',
  },
  {
    name: "dry-run on CUSTOM",
    yaml: annotated({ "istio.io/dry-run": "true" }, "{action: CUSTOM}"),
    want: "error",
    message: "works only with action ALLOW or DENY; this policy is CUSTOM",
  },
  {
    name: "dry-run on AUDIT",
    yaml: annotated({ "istio.io/dry-run": "true" }, "{action: AUDIT}"),
    want: "error",
    message: "works only with action ALLOW or DENY; this policy is AUDIT",
  },
  {
    name: "DENY without rules",
    yaml: "action: DENY",
    want: "error",
    message: "a DENY policy without rules never applies",
  },
  {
    name: "selector with an empty value",
    yaml: `selector: {matchLabels: {app: "", version: v1}}`,
    want: "valid",
  },
  {
    name: "selector with an empty key",
    yaml: `selector: {matchLabels: {app: httpbin, "": v1}}`,
    want: "error",
    message: "label keys may not be empty",
  },
  {
    name: "selector without labels",
    yaml: "selector: {}",
    want: "warning",
    message: "without labels",
  },
  {
    name: "selector with a wildcard value",
    yaml: `selector: {matchLabels: {app: "httpbin-*"}}`,
    want: "error",
    message: "wildcards are not allowed in label values",
  },
  {
    name: "selector with a wildcard key",
    yaml: `selector: {matchLabels: {"app-*": httpbin}}`,
    want: "error",
    message: "wildcards are not allowed in label keys",
  },
  {
    name: "targetRef to a Gateway",
    yaml: denyWithPort(
      "targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo}",
    ),
    want: "valid",
  },
  {
    name: "targetRefs to a Gateway",
    yaml: denyWithPort(
      "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: foo}]",
    ),
    want: "valid",
  },
  {
    name: "targetRefs to a Service",
    yaml: denyWithPort(`targetRefs: [{group: "", kind: Service, name: foo}]`),
    want: "valid",
  },
  {
    name: "targetRef with a namespace",
    yaml: denyWithPort(
      "targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo, namespace: bar}",
    ),
    want: "error",
    message: "cross-namespace references are not supported",
  },
  {
    name: "targetRef without a name",
    yaml: denyWithPort(`targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: ""}`),
    want: "error",
    message: "name may not be empty",
  },
  {
    name: "targetRef to a group Istio doesn't target",
    yaml: denyWithPort("targetRef: {group: wrong-group, kind: Gateway, name: foo}"),
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef to a kind Istio doesn't target",
    yaml: denyWithPort(
      "targetRef: {group: gateway.networking.k8s.io, kind: wrong-kind, name: foo}",
    ),
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef and selector",
    yaml: denyWithPort(
      "targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo}\n" +
        "selector: {matchLabels: {app: httpbin}}",
    ),
    want: "error",
    message: "can't both be set",
  },
  {
    name: "targetRefs and selector",
    yaml: denyWithPort(
      "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: foo}]\n" +
        "selector: {matchLabels: {app: httpbin}}",
    ),
    want: "error",
    message: "can't both be set",
  },
  // Istio's table builds from: [] and to: [] in Go and refuses them; from YAML, an empty list
  // decodes as unset, so Istio's webhook accepts them (mesh warns).
  {
    name: "from: [] (unset once decoded)",
    yaml: "rules: [{from: []}]",
    want: "warning",
    message: "from is empty, which Istio reads as unset",
  },
  {
    name: "a from entry without source",
    yaml: "rules: [{from: [{}]}]",
    want: "error",
    message: 'missing required field "source"',
  },
  { name: "an empty source", yaml: from("{}"), want: "error", message: "empty source" },
  {
    name: "to: [] (unset once decoded)",
    yaml: "rules: [{to: []}]",
    want: "warning",
    message: "to is empty, which Istio reads as unset",
  },
  {
    name: "a to entry without operation",
    yaml: "rules: [{to: [{}]}]",
    want: "error",
    message: 'missing required field "operation"',
  },
  { name: "an empty operation", yaml: to("{}"), want: "error", message: "empty operation" },
  ...[
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "serviceAccounts",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
  ].map((field): Case => ({
    name: `an empty value in ${field}`,
    yaml: from(`{${field}: [${field.includes("Ip") ? "1.2.3.4" : "ns/sa"}, ""]}`),
    want: "error",
    message: "empty values are not allowed",
  })),
  ...["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"].map(
    (field): Case => ({
      name: `an empty value in ${field}`,
      yaml: to(`{${field}: ["${field.includes("orts") ? "80" : "x"}", ""]}`),
      want: "error",
      message: "empty values are not allowed",
    }),
  ),
  {
    name: "an empty condition value",
    yaml: `rules: [{when: [{key: "request.headers[:authority]", values: [v1, ""]}]}]`,
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "bad addresses and ports in ipBlocks and ports",
    yaml: `
rules:
- from: [{source: {ipBlocks: [1.2.3.4, ip1], notIpBlocks: [5.6.7.8, ip2]}}]
  to: [{operation: {ports: ["80", port1], notPorts: ["90", port2]}}]`,
    want: "error",
    message: 'invalid IP address "ip1"',
  },
  {
    name: "bad addresses and ports in remoteIpBlocks and ports",
    yaml: `
rules:
- from: [{source: {remoteIpBlocks: [1.2.3.4, ip1], notRemoteIpBlocks: [5.6.7.8, ip2]}}]
  to: [{operation: {ports: ["80", port1], notPorts: ["90", port2]}}]`,
    want: "error",
    message: 'invalid port "port1"',
  },
  {
    name: "a condition without key",
    yaml: "rules: [{when: [{values: [v1, v2]}]}]",
    want: "error",
    message: 'missing required field "key"',
  },
  {
    name: "a condition with an empty key",
    yaml: `rules: [{when: [{key: "", values: [v1, v2]}]}]`,
    want: "error",
    message: "key may not be empty",
  },
  {
    name: "a condition without values",
    yaml: "rules: [{when: [{key: source.principal}]}]",
    want: "error",
    message: 'set values or notValues for key "source.principal"',
  },
  {
    name: "a bad address in a condition's values",
    yaml: "rules: [{when: [{key: source.ip, values: [a.b.c.d]}]}]",
    want: "error",
    message: 'invalid IP address "a.b.c.d"',
  },
  {
    name: "a bad address in a condition's notValues",
    yaml: "rules: [{when: [{key: source.ip, notValues: [a.b.c.d]}]}]",
    want: "error",
    message: 'invalid IP address "a.b.c.d"',
  },
  {
    name: "an unknown condition key",
    yaml: "rules: [{when: [{key: key1, values: [v1]}]}]",
    want: "error",
    message: 'unknown key "key1"',
  },
  {
    name: "DENY on request principals only",
    yaml: `action: DENY\n${from("{requestPrincipals: [example.com/sub-1]}")}`,
    want: "warning",
    message: "uses only HTTP attributes",
  },
  {
    name: "DENY on methods only",
    yaml: `action: DENY\n${to("{methods: [GET, DELETE]}")}`,
    want: "warning",
    message: "uses only HTTP attributes",
  },
  {
    name: "DENY on principals and methods",
    yaml: `
action: DENY
rules:
- from: [{source: {principals: [temp]}}]
  to: [{operation: {methods: [GET, DELETE]}}]`,
    want: "warning",
    message: "uses only HTTP attributes",
  },
  { name: "DENY on principals, methods and a port", yaml: denyWithPort(""), want: "valid" },

  // --- Istio's CRD test data (authz-valid.yaml, authz-invalid.yaml)
  {
    name: "every source, operation and condition (authz-valid full)",
    yaml: `
selector: {matchLabels: {app: httpbin}}
rules:
- from:
  - source:
      principals: [principal, principal-prefix-*, "*-suffix-principal", "*"]
      requestPrincipals: [rp, rp-prefix-*, "*-suffix-rp", "*"]
      namespaces: [ns, ns-prefix-*, "*-ns-suffix", "*"]
      ipBlocks: [1.2.3.4, 5.6.0.0/16]
      remoteIpBlocks: [1.2.3.4, 5.6.0.0/16]
      notPrincipals: [not-principal, "*"]
      notRequestPrincipals: [not-rp, "*"]
      notNamespaces: [not-ns, "*"]
      notIpBlocks: [9.0.0.1, 9.2.0.0/16]
      notRemoteIpBlocks: [9.0.0.1, 9.2.0.0/16]
      trustDomains: [cluster.local, cluster-prefix-*, "*-suffix-cluster", "*"]
      notTrustDomains: [not-cluster.local, "*"]
  to:
  - operation:
      methods: [method, method-prefix-*, "*-suffix-method", "*"]
      hosts: [exact.com, "*.suffix.com", prefix.*, "*"]
      ports: ["80", "90"]
      paths: [/exact, /prefix/*, "*/suffix", "*", "/path/template/{*}", "/{**}/path/template"]
      notMethods: [not-method, "*"]
      notHosts: [not-exact.com, "*"]
      notPorts: ["8000", "9000"]
      notPaths: [/not-exact, "*", "/not-path/template/{*}"]
  when:
  - {key: "request.headers[X-header]", values: [header, "*"], notValues: [not-header]}
  - {key: source.ip, values: [10.10.10.10, 192.168.10.0/24], notValues: [90.10.10.10]}
  - {key: remote.ip, values: [10.10.10.10, 192.168.10.0/24], notValues: [90.168.10.0/24]}
  - {key: source.namespace, values: [ns, "*-ns-suffix"], notValues: [not-ns]}
  - {key: source.principal, values: [principal, "*"], notValues: [not-principal]}
  - {key: request.auth.principal, values: ["https://example.com/*"], notValues: ["*"]}
  - {key: request.auth.audiences, values: [audiences], notValues: [not-audiences]}
  - {key: request.auth.presenter, values: [presenter], notValues: [not-presenter]}
  - {key: "request.auth.claims[iss]", values: [iss], notValues: [not-iss]}
  - {key: "request.auth.claims[nested1][nested2]", values: [nested], notValues: [x]}
  - {key: destination.ip, values: [10.10.10.10, 192.168.10.0/24], notValues: [90.10.10.10]}
  - {key: destination.port, values: ["91", "92"], notValues: ["9001", "9002"]}
  - {key: connection.sni, values: [exact.com, "*.suffix.com"], notValues: [not-exact.com]}
  - {key: source.trustDomain, values: [cluster.local, cluster-prefix-*], notValues: ["*"]}
  - {key: "experimental.envoy.filters.a.b[c]", values: [exact], notValues: ["*-not-suffix"]}`,
    want: "valid",
  },
  {
    name: "serviceAccounts, principals and namespaces in separate sources",
    yaml: `
rules:
- from:
  - source: {serviceAccounts: [baz/sa, sa]}
  - source: {principals: [bar]}
  - source: {namespaces: [bar]}`,
    want: "valid",
  },
  {
    name: "serviceAccounts with namespaces (CRD)",
    yaml: from("{serviceAccounts: [bar/sa], namespaces: [bar]}"),
    want: "error",
    message: "can't be combined",
  },
  {
    name: "serviceAccounts with principals (CRD)",
    yaml: from("{serviceAccounts: [baz/sa], principals: [bar]}"),
    want: "error",
    message: "serviceAccounts can't be combined with principals",
  },

  // --- The CRD's schema and the rest of ValidateAuthorizationPolicy
  {
    name: "serviceAccounts with principals: [] (the CRD counts the field)",
    yaml: from("{serviceAccounts: [ns/sa], principals: []}"),
    want: "error",
    message: "serviceAccounts can't be combined with principals",
  },
  {
    name: "notServiceAccounts with notNamespaces",
    yaml: from("{notServiceAccounts: [ns/sa], notNamespaces: [ns]}"),
    want: "error",
    message: "notServiceAccounts can't be combined with notNamespaces",
  },
  {
    name: "17 serviceAccounts",
    yaml: from(`{serviceAccounts: [${Array.from({ length: 17 }, (_, i) => `s${i}`).join(", ")}]}`),
    want: "error",
    message: "at most 16 serviceAccounts",
  },
  {
    name: "a source with only empty lists",
    yaml: from("{principals: [], namespaces: []}"),
    want: "error",
    message: "empty source",
  },
  {
    name: "an empty list beside a real one",
    yaml: from("{principals: [], namespaces: [ns]}"),
    want: "valid",
  },
  {
    name: "an operation with only empty lists",
    yaml: to("{paths: [], methods: []}"),
    want: "error",
    message: "empty operation",
  },
  {
    name: "DENY with rules: [] (no rules once decoded)",
    yaml: "action: DENY\nrules: []",
    want: "error",
    message: "a DENY policy without rules never applies",
  },
  {
    name: "CUSTOM with rules: []",
    yaml: "action: CUSTOM\nprovider: {name: ext}\nrules: []",
    want: "error",
    message: "a CUSTOM policy without rules never applies",
  },
  {
    name: "CUSTOM with serviceAccounts",
    yaml: `action: CUSTOM\nprovider: {name: ext}\n${from("{serviceAccounts: [ns/sa]}")}`,
    want: "error",
    message: "serviceAccounts is not supported with action CUSTOM",
  },
  {
    name: "CUSTOM with trustDomains",
    yaml: `action: CUSTOM\nprovider: {name: ext}\n${from("{trustDomains: [td]}")}`,
    want: "error",
    message: "trustDomains is not supported with action CUSTOM",
  },
  {
    name: "CUSTOM on source.trustDomain",
    yaml: `
action: CUSTOM
provider: {name: ext}
rules: [{when: [{key: source.trustDomain, values: [td]}]}]`,
    want: "error",
    message: "source.trustDomain is not supported with action CUSTOM",
  },
  {
    name: "CUSTOM on source.serviceAccount",
    yaml: `
action: CUSTOM
provider: {name: ext}
rules: [{when: [{key: source.serviceAccount, values: [ns/sa]}]}]`,
    want: "error",
    message: "source.serviceAccount is not supported with action CUSTOM",
  },
  {
    name: "CUSTOM on ipBlocks and paths",
    yaml: `
action: CUSTOM
provider: {name: ext}
rules:
- from: [{source: {ipBlocks: [10.0.0.0/8]}}]
  to: [{operation: {paths: [/admin]}}]`,
    want: "valid",
  },
  {
    name: "AUDIT without rules",
    yaml: "action: AUDIT",
    want: "valid",
  },
  {
    name: "an unknown action",
    yaml: "action: REJECT",
    want: "error",
    message: "must be one of ALLOW, DENY, AUDIT, CUSTOM",
  },
  {
    name: "DENY on trust domains only (Istio counts them as HTTP attributes)",
    yaml: `action: DENY\n${from("{trustDomains: [cluster.local]}")}`,
    want: "warning",
    message: "uses only HTTP attributes",
  },
  {
    name: "DENY on namespaces only",
    yaml: `action: DENY\n${from("{namespaces: [ns]}")}`,
    want: "valid",
  },
  {
    name: "DENY on notPorts",
    yaml: `action: DENY\n${to(`{notPorts: ["80"], paths: [/x]}`)}`,
    want: "valid",
  },
  {
    name: "targetRef to a GatewayClass",
    yaml: denyWithPort(
      "targetRef: {group: gateway.networking.k8s.io, kind: GatewayClass, name: x}",
    ),
    want: "valid",
  },
  {
    name: "targetRef with the core group",
    yaml: denyWithPort("targetRef: {group: core, kind: Service, name: x}"),
    want: "valid",
  },
  {
    name: "targetRefs: [] with a selector (the CRD counts the field)",
    yaml: denyWithPort("targetRefs: []\nselector: {matchLabels: {app: x}}"),
    want: "error",
    message: "can't both be set",
  },
  {
    name: "17 targetRefs",
    yaml: denyWithPort(
      `targetRefs: [${Array.from({ length: 17 }, (_, i) => `{kind: Service, name: s${i}}`)}]`,
    ),
    want: "error",
    message: "at most 16 targetRefs",
  },
  {
    name: "selector labels Kubernetes wouldn't take on a pod (Istio doesn't check)",
    yaml: `selector: {matchLabels: {"app/": "a b", "-x": "y."}}`,
    want: "valid",
  },
  {
    name: "a selector value of 64 characters",
    yaml: `selector: {matchLabels: {app: ${"a".repeat(64)}}}`,
    want: "error",
    message: "at most 63 characters",
  },
  {
    name: "dry-run 1 (Go's ParseBool)",
    yaml: annotated(
      { "istio.io/dry-run": "1" },
      "{action: DENY, rules: [{to: [{operation: {ports: ['80']}}]}]}",
    ),
    want: "valid",
  },
  {
    name: "dry-run False",
    yaml: annotated({ "istio.io/dry-run": "False" }, "{}"),
    want: "valid",
  },
  {
    name: "dry-run yes",
    yaml: annotated({ "istio.io/dry-run": "yes" }, "{}"),
    want: "error",
    message: 'got "yes"',
  },
  {
    name: "513 rules",
    yaml: `rules: [${Array(513).fill("{}").join(", ")}]`,
    want: "error",
    message: "at most 512 rules",
  },
];

tableTest("AuthorizationPolicy: Istio's cases", HEADER, CASES);
