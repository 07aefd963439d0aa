/**
 * MeshConfig `defaultConfig` (Istio's ProxyConfig) as Istio's ValidateMeshConfigProxyConfig
 * decides it, after merging over Istio's default proxy config (MergeProxyConfig): a field a case
 * doesn't set has its valid default (configPath, binaryPath, serviceCluster, drainDuration,
 * discoveryAddress, proxyAdminPort, statusPort, controlPlaneAuthPolicy).
 */
import { type Case, tableTest } from "./case_table.ts";

const MESH_CONFIG_HEADER = { apiVersion: "config.mesh.dev/v1alpha1", kind: "MeshConfig" };

/** A MeshConfig whose defaultConfig is `body` (flow or block YAML of the ProxyConfig). */
function pc(body: string): string {
  return body.includes("\n")
    ? `defaultConfig:\n${body.replace(/^/gm, "  ")}`
    : `defaultConfig: ${body}`;
}

function tracer(body: string): string {
  return pc(`{tracing: ${body}}`);
}

function tls(body: string): string {
  return tracer(`{tlsSettings: ${body}}`);
}

const VALID_PROXY = `configPath: /etc/istio/proxy
binaryPath: /usr/local/bin/envoy
discoveryAddress: istio-pilot.istio-system:15010
proxyAdminPort: 15000
drainDuration: 45s
serviceCluster: istio-proxy
statsdUdpAddress: istio-statsd-prom-bridge.istio-system:9125
envoyMetricsService: {address: metrics-service.istio-system:15000}
envoyAccessLogService: {address: accesslog-service.istio-system:15000}
controlPlaneAuthPolicy: MUTUAL_TLS
statusPort: 15020`;

const CASES: Case[] = [
  // --- Istio's ValidateMeshConfigProxyConfig table
  { name: "no defaultConfig fields: Istio's defaults", yaml: pc("{}"), want: "valid" },
  { name: "the valid proxy config", yaml: pc(VALID_PROXY), want: "valid" },
  { name: "configPath empty", yaml: pc(`{configPath: ""}`), want: "error", message: "config path" },
  { name: "binaryPath empty", yaml: pc(`{binaryPath: ""}`), want: "error", message: "binary path" },
  {
    name: "discovery address without a port",
    yaml: pc("{discoveryAddress: 10.0.0.100}"),
    want: "error",
  },
  { name: "discovery address empty", yaml: pc(`{discoveryAddress: ""}`), want: "error" },
  { name: "proxyAdminPort 0", yaml: pc("{proxyAdminPort: 0}"), want: "error" },
  { name: "proxyAdminPort 65536", yaml: pc("{proxyAdminPort: 65536}"), want: "error" },
  { name: "statusPort 0", yaml: pc("{statusPort: 0}"), want: "error" },
  { name: "statusPort 65536", yaml: pc("{statusPort: 65536}"), want: "error" },
  { name: "negative drainDuration", yaml: pc("{drainDuration: -1s}"), want: "error" },
  { name: "serviceCluster empty", yaml: pc(`{serviceCluster: ""}`), want: "error" },
  {
    name: "statsd address without a port",
    yaml: pc("{statsdUdpAddress: 10.0.0.100}"),
    want: "error",
  },
  {
    name: "metrics service address without a port",
    yaml: pc("{envoyMetricsService: {address: metrics-service.istio-system}}"),
    want: "error",
  },
  {
    name: "access log service address without a port",
    yaml: pc("{envoyAccessLogService: {address: accesslog-service.istio-system}}"),
    want: "error",
  },
  {
    name: "control plane auth INHERIT",
    yaml: pc("{controlPlaneAuthPolicy: INHERIT}"),
    want: "error",
  },
  { name: "control plane auth unknown", yaml: pc("{controlPlaneAuthPolicy: TLS}"), want: "error" },
  { name: "control plane auth NONE", yaml: pc("{controlPlaneAuthPolicy: NONE}"), want: "valid" },
  {
    name: "zipkin address",
    yaml: tracer("{zipkin: {address: zipkin.istio-system:9411}}"),
    want: "valid",
  },
  {
    name: "zipkin with $(HOST_IP)",
    yaml: tracer(`{zipkin: {address: "$(HOST_IP):9411"}}`),
    want: "valid",
  },
  {
    name: "zipkin address without a port",
    yaml: tracer("{zipkin: {address: 10.0.0.100}}"),
    want: "error",
  },
  { name: "zipkin without an address", yaml: tracer("{zipkin: {}}"), want: "error" },
  {
    name: "lightstep",
    yaml: tracer("{lightstep: {address: collector.lightstep:8080, accessToken: abcdefg1234567}}"),
    want: "valid",
  },
  {
    name: "lightstep address without a port",
    yaml: tracer("{lightstep: {address: 10.0.0.100, accessToken: abcdefg1234567}}"),
    want: "error",
  },
  {
    name: "lightstep without an address",
    yaml: tracer(`{lightstep: {address: "", accessToken: abcdefg1234567}}`),
    want: "error",
  },
  {
    name: "lightstep without a token",
    yaml: tracer(`{lightstep: {address: collector.lightstep:8080, accessToken: ""}}`),
    want: "error",
  },
  {
    name: "lightstep with a bad address and no token",
    yaml: tracer(`{lightstep: {address: 10.0.0.100, accessToken: ""}}`),
    want: "error",
  },
  { name: "lightstep with nothing", yaml: tracer("{lightstep: {}}"), want: "error" },
  { name: "datadog without an address", yaml: tracer("{datadog: {}}"), want: "error" },
  { name: "datadog", yaml: tracer("{datadog: {address: datadog-agent:8126}}"), want: "valid" },
  {
    name: "datadog address without a port",
    yaml: tracer("{datadog: {address: address-missing-port-number}}"),
    want: "error",
  },
  {
    name: "custom tag with a literal",
    yaml: tracer("{customTags: {clusterID: {literal: {value: cluster1}}}}"),
    want: "valid",
  },
  {
    name: "custom tag that is null",
    yaml: tracer("{customTags: {clusterID: null}}"),
    want: "error",
  },
  {
    name: "private key provider without a provider",
    yaml: pc("{privateKeyProvider: {}}"),
    want: "error",
  },
  {
    name: "cryptomb without pollDelay",
    yaml: pc("{privateKeyProvider: {cryptomb: {}}}"),
    want: "error",
    message: "pollDelay",
  },
  {
    name: "cryptomb pollDelay 0",
    yaml: pc("{privateKeyProvider: {cryptomb: {pollDelay: 0s}}}"),
    want: "error",
  },
  {
    name: "cryptomb pollDelay 10us",
    yaml: pc("{privateKeyProvider: {cryptomb: {pollDelay: 10us}}}"),
    want: "valid",
  },
  { name: "qat without pollDelay", yaml: pc("{privateKeyProvider: {qat: {}}}"), want: "error" },
  {
    name: "qat pollDelay 0",
    yaml: pc("{privateKeyProvider: {qat: {pollDelay: 0s}}}"),
    want: "error",
  },
  {
    name: "qat pollDelay 1us",
    yaml: pc("{privateKeyProvider: {qat: {pollDelay: 1us}}}"),
    want: "valid",
  },
  {
    name: "ISTIO_META_DNS_AUTO_ALLOCATE is deprecated",
    yaml: pc(`{proxyMetadata: {ISTIO_META_DNS_AUTO_ALLOCATE: "true"}}`),
    want: "warning",
    message: "deprecated",
  },
  // --- ValidateProxyAddress, through discoveryAddress
  ...([
    ["istio-pilot:80", "valid"],
    ["istio-pilot", "error"],
    ["isti..:80", "error"],
    ["10.0.0.100:9090", "valid"],
    ["10.0.0.100", "error"],
    ["istio-pilot:port", "error"],
    ["istio-pilot:100000", "error"],
    ["[2001:db8::100]:80", "valid"],
    ["[2001:db8::10::20]:80", "error"],
    ["[2001:db8::100]", "error"],
    ["[2001:db8::100]:port", "error"],
    ["2001:db8::100:80", "error"],
    ["Istiod.Istio-System.svc:15012", "valid"],
    [":15012", "error"],
  ] as const).map(([address, want]): Case => ({
    name: `discovery address ${address}`,
    yaml: pc(`{discoveryAddress: "${address}"}`),
    want,
  })),
  // --- ValidateDrainDuration
  { name: "drainDuration 1s", yaml: pc("{drainDuration: 1s}"), want: "valid" },
  {
    name: "drainDuration 1.001s",
    yaml: pc("{drainDuration: 1.001s}"),
    want: "error",
    message: "seconds",
  },
  { name: "drainDuration 0s", yaml: pc("{drainDuration: 0s}"), want: "error" },
  // --- ValidateTLS, through tracing.tlsSettings
  ...([
    ["SIMPLE with credentialName", "{mode: SIMPLE, credentialName: some credential}", "valid"],
    [
      "SIMPLE credentialName and clientCertificate",
      "{mode: SIMPLE, credentialName: c, clientCertificate: cert}",
      "error",
    ],
    [
      "SIMPLE credentialName and privateKey",
      "{mode: SIMPLE, credentialName: c, privateKey: key}",
      "error",
    ],
    [
      "SIMPLE credentialName and caCertificates",
      "{mode: SIMPLE, credentialName: c, caCertificates: ca}",
      "error",
    ],
    ["MUTUAL with credentialName", "{mode: MUTUAL, credentialName: some credential}", "valid"],
    [
      "MUTUAL credentialName and clientCertificate",
      "{mode: MUTUAL, credentialName: c, clientCertificate: cert}",
      "error",
    ],
    [
      "MUTUAL credentialName and privateKey",
      "{mode: MUTUAL, credentialName: c, privateKey: key}",
      "error",
    ],
    [
      "MUTUAL credentialName and caCertificates",
      "{mode: MUTUAL, credentialName: c, caCertificates: ca}",
      "error",
    ],
    ["MUTUAL credentialName and caCrl", "{mode: MUTUAL, credentialName: c, caCrl: ca}", "error"],
    [
      "MUTUAL with certificate and key",
      "{mode: MUTUAL, clientCertificate: cert, privateKey: key}",
      "valid",
    ],
    ["MUTUAL without a key", "{mode: MUTUAL, clientCertificate: cert}", "error"],
    ["MUTUAL without a certificate", "{mode: MUTUAL, privateKey: key}", "error"],
    [
      "SIMPLE insecureSkipVerify with caCertificates",
      "{mode: SIMPLE, insecureSkipVerify: true, caCertificates: ca}",
      "error",
    ],
    [
      "MUTUAL insecureSkipVerify with credentialName",
      "{mode: MUTUAL, insecureSkipVerify: true, credentialName: c}",
      "valid",
    ],
    [
      "a configmap:// credential (tracing has no namespace)",
      "{mode: SIMPLE, credentialName: 'configmap://ca'}",
      "error",
    ],
  ] as const).map(([name, settings, want]): Case => ({
    name: `tracing TLS: ${name}`,
    yaml: tls(settings),
    want,
  })),
  // --- validateConnectionSettings
  {
    name: "connection settings: EDGE",
    yaml: pc(`connectionSettings:
  profile: EDGE
  listenerPerConnectionBufferLimitBytes: 32768
  httpIdleTimeout: 3600s
  httpMaxConcurrentStreams: 100
  http2InitialStreamWindowSize: 65536
  http2InitialConnectionWindowSize: 1048576`),
    want: "valid",
  },
  {
    name: "connection settings: negative buffer limit",
    yaml: pc("{connectionSettings: {listenerPerConnectionBufferLimitBytes: -1}}"),
    want: "error",
  },
  {
    name: "connection settings: zero concurrent streams",
    yaml: pc("{connectionSettings: {httpMaxConcurrentStreams: 0}}"),
    want: "error",
  },
  {
    name: "connection settings: small window and negative duration",
    yaml: pc("{connectionSettings: {http2InitialStreamWindowSize: 100, httpIdleTimeout: -1s}}"),
    want: "error",
  },
  {
    name: "connection settings: small connection window",
    yaml: pc("{connectionSettings: {http2InitialConnectionWindowSize: 1000}}"),
    want: "error",
  },
  {
    name: "connection settings: negative stream window",
    yaml: pc("{connectionSettings: {http2InitialStreamWindowSize: -1}}"),
    want: "error",
  },
  { name: "connection settings: empty", yaml: pc("{connectionSettings: {}}"), want: "valid" },
  {
    name: "connection settings: zero listener connection limit",
    yaml: pc("{connectionSettings: {listenerConnectionLimit: 0}}"),
    want: "error",
  },
  {
    name: "connection settings: zero global connection limit",
    yaml: pc("{connectionSettings: {globalDownstreamConnectionLimit: 0}}"),
    want: "error",
  },
  {
    name: "connection settings: zero timeouts (they switch limits off)",
    yaml: pc("{connectionSettings: {httpIdleTimeout: 0s, httpRequestTimeout: 0s}}"),
    want: "valid",
  },
  // --- the rest of ProxyConfig: oneofs, and what Istio doesn't check
  {
    name: "two tracers",
    yaml: tracer("{zipkin: {address: a.b:9411}, datadog: {address: a.b:8126}}"),
    want: "error",
  },
  {
    name: "serviceCluster and tracingServiceName",
    yaml: pc("{serviceCluster: a, tracingServiceName: CANONICAL_NAME_ONLY}"),
    want: "error",
  },
  {
    name: "tracingServiceName",
    yaml: pc("{tracingServiceName: CANONICAL_NAME_AND_NAMESPACE}"),
    want: "valid",
  },
  {
    name: "negative concurrency (not checked in MeshConfig)",
    yaml: pc("{concurrency: -1}"),
    want: "valid",
  },
  {
    name: "stats regex that isn't RE2 (not checked)",
    yaml: pc(`{proxyStatsMatcher: {inclusionRegexps: ["(?=a)"]}}`),
    want: "valid",
  },
  {
    name: "readiness probe of any shape (not checked)",
    yaml: pc("{readinessProbe: {exec: {command: []}}}"),
    want: "valid",
  },
  {
    name: "terminationDrainDuration 1.5ms",
    yaml: pc("{terminationDrainDuration: 1500us}"),
    want: "valid",
  },
  { name: "statsd address empty (unset)", yaml: pc(`{statsdUdpAddress: ""}`), want: "valid" },
  {
    name: "deprecated envoyMetricsServiceAddress (Istio logs a warning)",
    yaml: pc("{envoyMetricsServiceAddress: metrics.istio-system:15000}"),
    want: "warning",
    message: "deprecated",
  },
  {
    name: "envoyMetricsServiceAddress without a port",
    yaml: pc("{envoyMetricsServiceAddress: metrics}"),
    want: "error",
  },
  { name: "tracing sampling 101 (not checked)", yaml: tracer("{sampling: 101}"), want: "valid" },
  {
    name: "interception mode that doesn't exist",
    yaml: pc("{interceptionMode: NAT}"),
    want: "error",
  },
];

tableTest("MeshConfig defaultConfig: Istio's validation, case by case", MESH_CONFIG_HEADER, CASES);
