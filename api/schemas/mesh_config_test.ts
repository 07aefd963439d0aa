/**
 * MeshConfig validation as Istio decides it when it loads a mesh config: the YAML is applied
 * over Istio's defaults (ApplyMeshConfigDefaults), then ValidateMeshConfig runs on the result.
 * A case is therefore a partial MeshConfig; a field it doesn't set has Istio's (valid) default.
 * The `defaultConfig` and `extensionProviders` tables are in mesh_proxy_config_test.ts and
 * mesh_extension_providers_test.ts.
 */
import assert from "node:assert/strict";
import { parseResources } from "../resources.ts";
import { type Case, tableTest } from "./case_table.ts";

const MESH_CONFIG_HEADER = { apiVersion: "config.mesh.dev/v1alpha1", kind: "MeshConfig" };

const x63 = "x".repeat(63);

const CASES: Case[] = [
  // --- ValidateMeshConfig: its table's invalid config, field by field
  { name: "empty spec: Istio's defaults", yaml: "", want: "valid" },
  { name: "proxyListenPort 0", yaml: "proxyListenPort: 0", want: "error", message: "1..65535" },
  { name: "proxyListenPort 65536", yaml: "proxyListenPort: 65536", want: "error" },
  { name: "proxyListenPort 15001", yaml: "proxyListenPort: 15001", want: "valid" },
  {
    name: "proxyInboundListenPort 0 (not checked)",
    yaml: "proxyInboundListenPort: 0",
    want: "valid",
  },
  { name: "proxyHttpPort 70000 (not checked)", yaml: "proxyHttpPort: 70000", want: "valid" },
  { name: "negative connectTimeout", yaml: "connectTimeout: -1s", want: "error" },
  {
    name: "trustDomain empty",
    yaml: `trustDomain: ""`,
    want: "error",
    message: "invalid trust domain",
  },
  {
    name: "trustDomainAliases with $, / and an empty one",
    yaml: `trustDomainAliases: ["a.$b", "a/b", ""]`,
    want: "error",
    message: "in trustDomainAliases",
  },
  {
    name: "meshMTLS with ECDH curves",
    yaml: "meshMTLS: {ecdhCurves: [P-256]}",
    want: "error",
    message: "does not support ECDH curves",
  },
  {
    name: "tlsDefaults with a duplicate ECDH curve",
    yaml: "tlsDefaults: {ecdhCurves: [P-256, P-256]}",
    want: "warning",
    message: "duplicate ECDH curves",
  },
  {
    name: "tlsDefaults with an unknown ECDH curve",
    yaml: "tlsDefaults: {ecdhCurves: [P-256, invalid]}",
    want: "warning",
    message: "unrecognized ECDH curves",
  },
  // --- ConnectTimeout and ValidateDuration
  { name: "connectTimeout 1s", yaml: "connectTimeout: 1s", want: "valid" },
  { name: "connectTimeout 31s", yaml: "connectTimeout: 31s", want: "valid" },
  { name: "connectTimeout over an hour", yaml: "connectTimeout: 999999999s", want: "error" },
  { name: "connectTimeout 0s", yaml: "connectTimeout: 0s", want: "error" },
  { name: "connectTimeout finer than 1ms", yaml: "connectTimeout: 1000001us", want: "error" },
  // --- ProtocolDetectionTimeout
  { name: "protocolDetectionTimeout 1s", yaml: "protocolDetectionTimeout: 1s", want: "valid" },
  {
    name: "protocolDetectionTimeout 99999ns",
    yaml: "protocolDetectionTimeout: 99999ns",
    want: "error",
  },
  { name: "protocolDetectionTimeout 0s", yaml: "protocolDetectionTimeout: 0s", want: "valid" },
  // --- ValidateTrustDomain
  { name: "trust domain of 63 characters", yaml: `trustDomain: ${x63}`, want: "valid" },
  { name: "trust domain with dots", yaml: "trustDomain: foo.bar.com", want: "valid" },
  { name: "trust domain with a dash", yaml: "trustDomain: f-oo.bar.com", want: "valid" },
  { name: "trust domain with a trailing dot", yaml: "trustDomain: foo.bar.com.", want: "valid" },
  { name: "trust domain starting with a dash", yaml: "trustDomain: -foo.bar.com", want: "error" },
  { name: "trust domain with slashes", yaml: "trustDomain: foo/bar/com", want: "error" },
  { name: "trust domain with colons", yaml: "trustDomain: foo:bar:com", want: "error" },
  { name: "trust domain with capitals", yaml: "trustDomain: Cluster.Local", want: "valid" },
  { name: "trust domain with an underscore", yaml: "trustDomain: Cluster_Local", want: "error" },
  { name: "trust domain alias", yaml: "trustDomainAliases: [old.example.com]", want: "valid" },
  // --- validateServiceSettings / ValidateWildcardDomain
  {
    name: "service settings hosts",
    yaml:
      `serviceSettings: [{settings: {clusterLocal: true}, hosts: ["*.foo.bar", bar.baz.svc.cluster.local]}]`,
    want: "valid",
  },
  {
    name: "service settings host with a trailing *",
    yaml: `serviceSettings: [{hosts: ["foo.bar.*"]}]`,
    want: "error",
  },
  { name: "service host empty", yaml: `serviceSettings: [{hosts: [""]}]`, want: "error" },
  {
    name: "service host too long",
    yaml: `serviceSettings: [{hosts: [${"x".repeat(256)}]}]`,
    want: "error",
  },
  {
    name: "service host of 63 characters",
    yaml: `serviceSettings: [{hosts: [${x63}]}]`,
    want: "valid",
  },
  { name: "service host *", yaml: `serviceSettings: [{hosts: ["*"]}]`, want: "valid" },
  {
    name: "service host *.bar.com",
    yaml: `serviceSettings: [{hosts: ["*.bar.com"]}]`,
    want: "valid",
  },
  { name: "service host *foo", yaml: `serviceSettings: [{hosts: ["*foo"]}]`, want: "valid" },
  {
    name: "service host *foo.bar.com",
    yaml: `serviceSettings: [{hosts: ["*foo.bar.com"]}]`,
    want: "valid",
  },
  {
    name: "service host *-foo.bar.com",
    yaml: `serviceSettings: [{hosts: ["*-foo.bar.com"]}]`,
    want: "valid",
  },
  {
    name: "service host foo.*.com",
    yaml: `serviceSettings: [{hosts: ["foo.*.com"]}]`,
    want: "error",
  },
  {
    name: "service host foo*.bar.com",
    yaml: `serviceSettings: [{hosts: ["foo*.bar.com"]}]`,
    want: "error",
  },
  {
    name: "service host that is an IP",
    yaml: `serviceSettings: [{hosts: ["1.1.1.1"]}]`,
    want: "error",
  },
  // --- validateMeshConfigDefaultTrafficPolicy
  {
    name: "default traffic policy with a pool and outlier detection",
    yaml:
      "defaultTrafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}, outlierDetection: {maxEjectionPercent: 50}}",
    want: "valid",
  },
  {
    name: "default traffic policy with an empty pool",
    yaml: "defaultTrafficPolicy: {connectionPool: {}}",
    want: "error",
    message: "at least one field",
  },
  {
    name: "default traffic policy with negative maxConnections",
    yaml: "defaultTrafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}",
    want: "error",
  },
  {
    name: "default traffic policy ejecting 101%",
    yaml: "defaultTrafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}",
    want: "error",
  },
  {
    name: "default http idleTimeout 0s (ValidateDuration: at least 1ms)",
    yaml: "defaultTrafficPolicy: {connectionPool: {http: {idleTimeout: 0s}}}",
    want: "error",
  },
  {
    name: "default tcp idleTimeout 0s (disables it)",
    yaml: "defaultTrafficPolicy: {connectionPool: {tcp: {idleTimeout: 0s}}}",
    want: "valid",
  },
  {
    name: "default pool UPGRADE with useClientProtocol",
    yaml:
      "defaultTrafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}",
    want: "error",
  },
  {
    name: "default local origin failures without the split",
    yaml: "defaultTrafficPolicy: {outlierDetection: {consecutiveLocalOriginFailures: 3}}",
    want: "error",
  },
  {
    name: "default negative minHealthPercent",
    yaml: "defaultTrafficPolicy: {outlierDetection: {minHealthPercent: -1}}",
    want: "error",
  },
  {
    name: "default http2KeepAlive without interval (not checked in MeshConfig)",
    yaml: "defaultTrafficPolicy: {connectionPool: {http: {http2KeepAlive: {}}}}",
    want: "valid",
  },
  {
    name: "default consecutiveErrors (no deprecation warning in MeshConfig)",
    yaml: "defaultTrafficPolicy: {outlierDetection: {consecutiveErrors: 5}}",
    want: "valid",
  },
  {
    name: "default tcp keepalive time 1.5ms (finer than 1ms)",
    yaml: "defaultTrafficPolicy: {connectionPool: {tcp: {tcpKeepalive: {time: 1500us}}}}",
    want: "error",
  },
  {
    name: "default baseEjectionTime 0s",
    yaml: "defaultTrafficPolicy: {outlierDetection: {baseEjectionTime: 0s}}",
    want: "error",
  },
  // --- validateMeshConfigDefaultInboundHTTPRetryPolicy
  {
    name: "inbound retries: empty (disabled)",
    yaml: "defaultInboundHttpRetryPolicy: {}",
    want: "valid",
  },
  {
    name: "inbound retries: a valid policy",
    yaml:
      "defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: 'reset-before-request,503', backoff: 50ms}",
    want: "valid",
  },
  {
    name: "inbound retries: negative attempts",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: -1}",
    want: "error",
  },
  {
    name: "inbound retries: unknown retryOn",
    yaml:
      "defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: 'reset-before-request,not-a-policy'}",
    want: "error",
    message: "not-a-policy",
  },
  {
    name: "inbound retries: status 600",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: '600'}",
    want: "error",
  },
  {
    name: "inbound retries: status 599 (Go has no text for it)",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: '599'}",
    want: "error",
  },
  {
    name: "inbound retries: status 418",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: '418'}",
    want: "valid",
  },
  {
    name: "inbound retries: backoff below 1ms precision",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, backoff: 999ns}",
    want: "error",
  },
  {
    name: "inbound retries: retryOn while disabled",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 0, retryOn: reset-before-request}",
    want: "error",
  },
  {
    name: "inbound retries: backoff while disabled",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 0, backoff: 50ms}",
    want: "error",
  },
  {
    name: "inbound retries: perTryTimeout is ignored",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, perTryTimeout: 1s}",
    want: "warning",
    message: "perTryTimeout is ignored",
  },
  {
    name: "inbound retries: retryRemoteLocalities is ignored",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, retryRemoteLocalities: true}",
    want: "warning",
  },
  {
    name: "inbound retries: retryIgnorePreviousHosts is ignored",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, retryIgnorePreviousHosts: true}",
    want: "warning",
  },
  {
    name: "inbound retries: ignored perTryTimeout that is invalid",
    yaml: "defaultInboundHttpRetryPolicy: {attempts: 3, perTryTimeout: 999ns}",
    want: "error",
  },
  // --- defaultHttpRetryPolicy: Istio doesn't validate it
  {
    name: "default retries with a condition Envoy doesn't know",
    yaml: "defaultHttpRetryPolicy: {attempts: 3, retryOn: '5xx,sometimes'}",
    want: "valid",
  },
  {
    name: "default retries with retryOn but no attempts",
    yaml: "defaultHttpRetryPolicy: {retryOn: 5xx}",
    want: "valid",
  },
  // --- ValidateLocalityLbSetting (the mesh-wide setting always has outlier detection)
  {
    name: "locality weights over 100",
    yaml: `localityLbSetting: {distribute: [{from: a/b/c, to: {"a/b/c": 80, "a/b1": 25}}]}`,
    want: "error",
    message: "100",
  },
  {
    name: "locality weights under 100",
    yaml: `localityLbSetting: {distribute: [{from: a/b/c, to: {"a/b/c": 80, "a/b1": 15}}]}`,
    want: "error",
  },
  {
    name: "locality weight 0",
    yaml: `localityLbSetting: {distribute: [{from: a/b/c, to: {"a/b/c": 0, "a/b1": 100}}]}`,
    want: "error",
  },
  {
    name: "locality distribute and failover",
    yaml:
      `localityLbSetting: {distribute: [{from: a/b/c, to: {"a/b/c": 80, "a/b1": 20}}], failover: [{from: region1, to: region2}]}`,
    want: "error",
  },
  {
    name: "failover to the same region",
    yaml: "localityLbSetting: {failover: [{from: region1, to: region1}]}",
    want: "error",
  },
  {
    name: "failover from *",
    yaml: `localityLbSetting: {failover: [{from: "*", to: region2}]}`,
    want: "error",
  },
  {
    name: "failover to *",
    yaml: `localityLbSetting: {failover: [{from: region1, to: "*"}]}`,
    want: "error",
  },
  {
    name: "failover from a zone",
    yaml: "localityLbSetting: {failover: [{from: region1/zone1, to: region2}]}",
    want: "error",
  },
  {
    name: "failover to a zone",
    yaml: "localityLbSetting: {failover: [{from: region1, to: region2/zone1}]}",
    want: "error",
  },
  {
    name: "failoverPriority (mesh-wide: no outlier detection needed)",
    yaml:
      "localityLbSetting: {failoverPriority: [topology.istio.io/network, topology.kubernetes.io/region, topology.kubernetes.io/zone, topology.istio.io/subzone]}",
    want: "valid",
  },
  {
    name: "failover (mesh-wide: no outlier detection needed)",
    yaml:
      "localityLbSetting: {failover: [{from: us-east, to: eu-west}, {from: us-west, to: eu-east}]}",
    want: "valid",
  },
  {
    name: "failover with a region failoverPriority",
    yaml:
      "localityLbSetting: {failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}",
    want: "error",
  },
  { name: "locality: enabled only", yaml: "localityLbSetting: {enabled: false}", want: "valid" },
  // --- validateLocalities, through distribute's from
  ...([
    ["two wildcards", ["*/zone/*"], "error"],
    ["wildcard not at the end", ["*/zone"], "error"],
    ["* overlaps a/b/c", ["*", "a/b/c"], "error"],
    ["a overlaps a/b/c", ["a", "a/b/c"], "error"],
    ["a/* overlaps a/b/c", ["a/*", "a/b/c"], "error"],
    ["a/b overlaps a/b/c", ["a/b", "a/b/c"], "error"],
    ["a/b/* overlaps a/b/c", ["a/b/*", "a/b/c"], "error"],
    ["localities that don't overlap", ["a1/*", "a2/*", "a3/b3/c3", "a4/b4", "a5/b5/*"], "valid"],
    ["an empty zone", ["a//c"], "error"],
  ] as const).map(([name, froms, want]): Case => ({
    name: `localities: ${name}`,
    yaml: `localityLbSetting: {distribute: [${
      froms.map((f) => `{from: "${f}", to: {"x/y": 100}}`).join(", ")
    }]}`,
    want,
  })),
  // --- ValidateZoneAwareLbSetting
  { name: "zone-aware: enabled", yaml: "zoneAwareLbSetting: {enabled: true}", want: "valid" },
  {
    name: "zone-aware: region failover",
    yaml: "zoneAwareLbSetting: {failover: [{from: us-east, to: eu-west}]}",
    want: "valid",
  },
  {
    name: "zone-aware: same region",
    yaml: "zoneAwareLbSetting: {failover: [{from: region1, to: region1}]}",
    want: "error",
  },
  {
    name: "zone-aware: from a zone",
    yaml: "zoneAwareLbSetting: {failover: [{from: region1/zone1, to: region2}]}",
    want: "error",
  },
  {
    name: "zone-aware: to a zone",
    yaml: "zoneAwareLbSetting: {failover: [{from: region1, to: region2/zone1}]}",
    want: "error",
  },
  {
    name: "zone-aware: from *",
    yaml: `zoneAwareLbSetting: {failover: [{from: "*", to: region2}]}`,
    want: "error",
  },
  {
    name: "zone-aware: to *",
    yaml: `zoneAwareLbSetting: {failover: [{from: region1, to: "*"}]}`,
    want: "error",
  },
  {
    name: "zone-aware: failover and a region priority",
    yaml:
      "zoneAwareLbSetting: {failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}",
    want: "error",
  },
  {
    name: "zone-aware: region priority",
    yaml: "zoneAwareLbSetting: {failoverPriority: [topology.kubernetes.io/region]}",
    want: "error",
  },
  {
    name: "zone-aware: zone priority",
    yaml: "zoneAwareLbSetting: {failoverPriority: [topology.kubernetes.io/zone]}",
    want: "error",
  },
  {
    name: "zone-aware: subzone priority",
    yaml: "zoneAwareLbSetting: {failoverPriority: [topology.istio.io/subzone]}",
    want: "error",
  },
  {
    name: "zone-aware: other priorities",
    yaml: `zoneAwareLbSetting: {failoverPriority: [version, "app=ratings"]}`,
    want: "valid",
  },
  {
    name: "zone-aware and locality settings together (allowed mesh-wide)",
    yaml: "zoneAwareLbSetting: {enabled: true}\nlocalityLbSetting: {enabled: true}",
    want: "valid",
  },
  // --- what Istio doesn't check in a MeshConfig
  {
    name: "root namespace that isn't a name",
    yaml: `rootNamespace: "Istio System"`,
    want: "valid",
  },
  { name: "dnsRefreshRate 1.5ms", yaml: "dnsRefreshRate: 1500us", want: "valid" },
  { name: "mesh tcpKeepalive time 0s", yaml: "tcpKeepalive: {time: 0s, probes: 3}", want: "valid" },
  { name: "hboneIdleTimeout 0s", yaml: "hboneIdleTimeout: 0s", want: "valid" },
  {
    name: "ca requestTimeout 0s",
    yaml: "ca: {address: istiod.istio-system.svc:15012, requestTimeout: 0s}",
    want: "valid",
  },
  {
    name: "outbound TLS MUTUAL without certificates (not checked)",
    yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, tls: {mode: MUTUAL}}",
    want: "valid",
  },
  {
    name: "meshMTLS with no curves",
    yaml: "meshMTLS: {ecdhCurves: [], minProtocolVersion: TLSV1_3}",
    want: "valid",
  },
  { name: "tlsDefaults curves", yaml: "tlsDefaults: {ecdhCurves: [P-256, X25519]}", want: "valid" },
  {
    name: "discovery selectors with any labels",
    yaml: `discoverySelectors: [{matchLabels: {"a b": c}}]`,
    want: "valid",
  },
  {
    name: "ALLOW_ANY_DYNAMIC_DNS",
    yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}",
    want: "valid",
  },
  // --- the schema (proto types and enums)
  {
    name: "outbound mode that doesn't exist",
    yaml: "outboundTrafficPolicy: {mode: DENY_ALL}",
    want: "error",
  },
  { name: "access log encoding YAML", yaml: "accessLogEncoding: YAML", want: "error" },
  {
    name: "path normalization",
    yaml: "pathNormalization: {normalization: MERGE_SLASHES}",
    want: "valid",
  },
  { name: "proxyListenPort as text", yaml: "proxyListenPort: many", want: "error" },
  { name: "connectTimeout without a unit", yaml: "connectTimeout: '5'", want: "error" },
];

tableTest("MeshConfig: Istio's validation, case by case", MESH_CONFIG_HEADER, CASES);

Deno.test("MeshConfig: a misspelt field is an error (Istio ignores unknown fields; deliberate)", () => {
  const text = "apiVersion: config.mesh.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\n" +
    "spec: {trustDomian: example.org}\n";
  const { diagnostics } = parseResources(text, "m.yaml");
  assert.ok(diagnostics.some((d) => d.severity === "error" && d.path === "spec.trustDomian"));
});
