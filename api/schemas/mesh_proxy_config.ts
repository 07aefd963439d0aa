/**
 * MeshConfig `defaultConfig`: Istio's ProxyConfig (`istio.mesh.v1alpha1.ProxyConfig`), and the
 * checks of ValidateMeshConfigProxyConfig. Istio merges it over its default proxy config first,
 * whose values are all valid, so a field that isn't set is never wrong; one set to `""` or `0`
 * is checked like any other value.
 * @module
 */

import { z } from "zod";
import {
  checkOneOf,
  countSet,
  int32,
  labelMap,
  parseDuration,
  type Path,
  type Reporter,
  stringList,
  uint32,
} from "./common.ts";
import { portProblem, proxyAddressProblem } from "./istio_names.ts";
import {
  checkMeshTls,
  clientTls,
  pdur,
  tcpKeepalive,
  validateDuration,
} from "./mesh_networking.ts";

const bool = z.boolean();

const remoteService = z.strictObject({
  address: z.string().optional(),
  tlsSettings: clientTls.optional(),
  tcpKeepalive: tcpKeepalive.optional(),
});

const tracingCustomTag = z.strictObject({
  literal: z.strictObject({ value: z.string().optional() }).optional(),
  environment: z.strictObject({
    name: z.string().optional(),
    defaultValue: z.string().optional(),
  }).optional(),
  header: z.strictObject({
    name: z.string().optional(),
    defaultValue: z.string().optional(),
  }).optional(),
});

const TRACE_CONTEXT = z.enum([
  "UNSPECIFIED",
  "W3C_TRACE_CONTEXT",
  "GRPC_BIN",
  "CLOUD_TRACE_CONTEXT",
  "B3",
]);

const proxyTracing = z.strictObject({
  zipkin: z.strictObject({ address: z.string().optional() }).optional(),
  lightstep: z.strictObject({
    address: z.string().optional(),
    accessToken: z.string().optional(),
  }).optional(),
  datadog: z.strictObject({ address: z.string().optional() }).optional(),
  stackdriver: z.strictObject({
    debug: bool.optional(),
    maxNumberOfAttributes: int32.optional(),
    maxNumberOfAnnotations: int32.optional(),
    maxNumberOfMessageEvents: int32.optional(),
  }).optional(),
  openCensusAgent: z.strictObject({
    address: z.string().optional(),
    context: z.array(TRACE_CONTEXT).optional(),
  }).optional(),
  customTags: z.record(z.string(), tracingCustomTag).optional(),
  maxPathTagLength: uint32.optional(),
  // Not range-checked by Istio; mesh samples everything above 100 and nothing below 0.
  sampling: z.number().refine(Number.isFinite, { error: "must be a number" }).optional(),
  tlsSettings: clientTls.optional(),
  enableIstioTags: bool.optional(),
});

const TRACERS = ["zipkin", "lightstep", "datadog", "stackdriver", "openCensusAgent"] as const;

const FORWARD_CLIENT_CERT = z.enum([
  "UNDEFINED",
  "SANITIZE",
  "FORWARD_ONLY",
  "APPEND_FORWARD",
  "SANITIZE_SET",
  "ALWAYS_FORWARD_ONLY",
]);
const disabled = z.strictObject({ disabled: bool.optional() });
const enabled = z.strictObject({ enabled: bool.optional() });

const proxyHeaders = z.strictObject({
  forwardedClientCert: FORWARD_CLIENT_CERT.optional(),
  setCurrentClientCertDetails: z.strictObject({
    subject: bool.optional(),
    cert: bool.optional(),
    chain: bool.optional(),
    dns: bool.optional(),
    uri: bool.optional(),
  }).optional(),
  requestId: disabled.optional(),
  server: z.strictObject({ disabled: bool.optional(), value: z.string().optional() }).optional(),
  attemptCount: disabled.optional(),
  envoyDebugHeaders: disabled.optional(),
  metadataExchangeHeaders: z.strictObject({ mode: z.enum(["UNDEFINED", "IN_MESH"]).optional() })
    .optional(),
  preserveHttp1HeaderCase: bool.optional(),
  xForwardedHost: enabled.optional(),
  xForwardedPort: enabled.optional(),
});

const pollDelayProvider = z.strictObject({
  pollDelay: pdur().optional(),
  fallback: bool.optional(),
});

const connectionSettings = z.strictObject({
  profile: z.enum(["SIDECAR", "EDGE"]).optional(),
  listenerPerConnectionBufferLimitBytes: int32.optional(),
  clusterPerConnectionBufferLimitBytes: int32.optional(),
  httpIdleTimeout: pdur().optional(),
  httpMaxConnectionDuration: pdur().optional(),
  httpDrainTimeout: pdur().optional(),
  httpRequestTimeout: pdur().optional(),
  httpRequestHeadersTimeout: pdur().optional(),
  httpStreamIdleTimeout: pdur().optional(),
  httpMaxStreamDuration: pdur().optional(),
  httpMaxConcurrentStreams: int32.optional(),
  http2InitialStreamWindowSize: int32.optional(),
  http2InitialConnectionWindowSize: int32.optional(),
  httpHeadersWithUnderscoresAction: z.enum([
    "HEADERS_WITH_UNDERSCORES_UNSPECIFIED",
    "HEADERS_WITH_UNDERSCORES_ALLOW",
    "HEADERS_WITH_UNDERSCORES_REJECT_REQUEST",
    "HEADERS_WITH_UNDERSCORES_DROP_HEADER",
  ]).optional(),
  httpMergeSlashes: bool.optional(),
  httpPathWithEscapedSlashesAction: z.enum([
    "PATH_WITH_ESCAPED_SLASHES_UNSPECIFIED",
    "KEEP_UNCHANGED",
    "REJECT_REQUEST",
    "UNESCAPE_AND_REDIRECT",
    "UNESCAPE_AND_FORWARD",
  ]).optional(),
  listenerConnectionLimit: int32.optional(),
  globalDownstreamConnectionLimit: int32.optional(),
});

/** ReadinessProbe, as protobuf reads it (Istio doesn't check a mesh-wide probe). */
const readinessProbe = z.strictObject({
  initialDelaySeconds: int32.optional(),
  timeoutSeconds: int32.optional(),
  periodSeconds: int32.optional(),
  successThreshold: int32.optional(),
  failureThreshold: int32.optional(),
  httpGet: z.strictObject({
    path: z.string().optional(),
    port: uint32.optional(),
    host: z.string().optional(),
    scheme: z.string().optional(),
    httpHeaders: z.array(z.strictObject({
      name: z.string().optional(),
      value: z.string().optional(),
    })).optional(),
  }).optional(),
  tcpSocket: z.strictObject({ host: z.string().optional(), port: uint32.optional() }).optional(),
  exec: z.strictObject({ command: stringList.optional() }).optional(),
  grpc: z.strictObject({ port: uint32.optional(), service: z.string().optional() }).optional(),
});

/** The schema of Istio's ProxyConfig (MeshConfig `defaultConfig`). */
export const meshProxyConfig = z.strictObject({
  configPath: z.string().optional(),
  binaryPath: z.string().optional(),
  serviceCluster: z.string().optional(),
  tracingServiceName: z.enum([
    "APP_LABEL_AND_NAMESPACE",
    "CANONICAL_NAME_ONLY",
    "CANONICAL_NAME_AND_NAMESPACE",
  ]).optional(),
  drainDuration: pdur().optional(),
  discoveryAddress: z.string().optional(),
  discoveryRefreshDelay: pdur().optional(),
  zipkinAddress: z.string().optional(),
  statsdUdpAddress: z.string().optional(),
  envoyMetricsServiceAddress: z.string().optional(),
  proxyAdminPort: int32.optional(),
  availabilityZone: z.string().optional(),
  controlPlaneAuthPolicy: z.enum(["NONE", "MUTUAL_TLS", "INHERIT"]).optional(),
  customConfigFile: z.string().optional(),
  statNameLength: int32.optional(),
  concurrency: int32.optional(),
  proxyBootstrapTemplatePath: z.string().optional(),
  interceptionMode: z.enum(["REDIRECT", "TPROXY", "NONE"]).optional(),
  tracing: proxyTracing.optional(),
  sds: z.strictObject({ enabled: bool.optional(), k8sSaJwtPath: z.string().optional() })
    .optional(),
  envoyAccessLogService: remoteService.optional(),
  envoyMetricsService: remoteService.optional(),
  proxyMetadata: labelMap.optional(),
  runtimeValues: labelMap.optional(),
  statusPort: int32.optional(),
  extraStatTags: stringList.optional(),
  gatewayTopology: z.strictObject({
    numTrustedProxies: uint32.optional(),
    forwardClientCertDetails: FORWARD_CLIENT_CERT.optional(),
    proxyProtocol: z.strictObject({}).optional(),
  }).optional(),
  terminationDrainDuration: pdur().optional(),
  meshId: z.string().optional(),
  readinessProbe: readinessProbe.optional(),
  proxyStatsMatcher: z.strictObject({
    inclusionPrefixes: stringList.optional(),
    inclusionSuffixes: stringList.optional(),
    inclusionRegexps: stringList.optional(),
  }).optional(),
  holdApplicationUntilProxyStarts: bool.optional(),
  caCertificatesPem: stringList.optional(),
  image: z.strictObject({ imageType: z.string().optional() }).optional(),
  privateKeyProvider: z.strictObject({
    cryptomb: pollDelayProvider.optional(),
    qat: pollDelayProvider.optional(),
  }).optional(),
  proxyHeaders: proxyHeaders.optional(),
  fileFlushInterval: pdur().optional(),
  fileFlushMinSizeKb: uint32.optional(),
  statsCompression: bool.optional(),
  connectionSettings: connectionSettings.optional(),
});
/** Istio's ProxyConfig, as `MeshConfig.defaultConfig`. */
export type MeshProxyConfig = z.infer<typeof meshProxyConfig>;

function checkAddress(address: string | undefined, path: Path, r: Reporter, what: string): void {
  if (address === undefined) return;
  const problem = proxyAddressProblem(address);
  if (problem) r.error(path, `invalid ${what} address: ${problem}`);
}

/** Checks a mesh's default ProxyConfig as ValidateMeshConfigProxyConfig does. */
export function checkMeshProxyConfig(pc: MeshProxyConfig, path: Path, r: Reporter): void {
  if (pc.configPath === "") r.error([...path, "configPath"], "config path must be set");
  if (pc.binaryPath === "") r.error([...path, "binaryPath"], "binary path must be set");
  // A oneof: protobuf refuses both at once.
  checkOneOf(pc, ["serviceCluster", "tracingServiceName"], path, r);
  if (pc.serviceCluster === "") {
    r.error([...path, "serviceCluster"], "service cluster must be specified");
  }
  if (pc.drainDuration !== undefined) {
    validateDuration(pc.drainDuration, [...path, "drainDuration"], r);
    const ns = parseDuration(pc.drainDuration);
    if (typeof ns === "bigint" && ns % 1_000_000n === 0n && ns % 1_000_000_000n !== 0n) {
      r.error(
        [...path, "drainDuration"],
        "drain time only supports durations to seconds precision",
      );
    }
  }
  if (pc.discoveryAddress === "") {
    r.error(
      [...path, "discoveryAddress"],
      "discovery address must be set to the proxy discovery service",
    );
  } else checkAddress(pc.discoveryAddress, [...path, "discoveryAddress"], r, "discovery");
  checkTracing(pc.tracing, [...path, "tracing"], r);
  if (pc.statsdUdpAddress) {
    checkAddress(pc.statsdUdpAddress, [...path, "statsdUdpAddress"], r, "statsd udp");
  }
  if (pc.envoyMetricsServiceAddress) {
    const at = [...path, "envoyMetricsServiceAddress"];
    const errors = r.errors;
    checkAddress(pc.envoyMetricsServiceAddress, at, r, "envoy metrics service");
    if (r.errors === errors) {
      r.warn(at, "envoyMetricsServiceAddress is deprecated; use envoyMetricsService instead");
    }
  }
  if (pc.proxyMetadata?.ISTIO_META_DNS_AUTO_ALLOCATE !== undefined) {
    r.warn(
      [...path, "proxyMetadata", "ISTIO_META_DNS_AUTO_ALLOCATE"],
      "ISTIO_META_DNS_AUTO_ALLOCATE is deprecated; see DNS auto-allocation v2 in Istio's DNS " +
        "proxying docs for its replacement",
    );
  }
  for (const field of ["envoyMetricsService", "envoyAccessLogService"] as const) {
    const address = pc[field]?.address;
    if (address) checkAddress(address, [...path, field, "address"], r, field);
  }
  for (const field of ["proxyAdminPort", "statusPort"] as const) {
    const problem = pc[field] === undefined ? undefined : portProblem(pc[field]!);
    if (problem) r.error([...path, field], problem);
  }
  if (pc.controlPlaneAuthPolicy === "INHERIT") {
    r.error(
      [...path, "controlPlaneAuthPolicy"],
      "unrecognized control plane auth policy INHERIT; use NONE or MUTUAL_TLS",
    );
  }
  if (pc.privateKeyProvider) {
    checkPrivateKeyProvider(pc.privateKeyProvider, [...path, "privateKeyProvider"], r);
  }
  if (pc.connectionSettings) {
    checkConnectionSettings(pc.connectionSettings, [...path, "connectionSettings"], r);
  }
}

function checkTracing(t: MeshProxyConfig["tracing"], path: Path, r: Reporter): void {
  if (!t) return;
  const tracers = countSet(t, TRACERS);
  if (tracers.length > 1) {
    r.error([...path, tracers[1]], `${tracers.join(" and ")} can't both be set; keep one tracer`);
  }
  if (t.lightstep) {
    const at = [...path, "lightstep"];
    if (!t.lightstep.address) r.error([...at, "address"], "lightstep: address is required");
    else checkAddress(t.lightstep.address, [...at, "address"], r, "lightstep");
    if (!t.lightstep.accessToken) {
      r.error([...at, "accessToken"], "lightstep: access token is required");
    }
  }
  for (const tracer of ["zipkin", "datadog"] as const) {
    const settings = t[tracer];
    if (!settings) continue;
    // An empty address is refused too; $(HOST_IP) stands for the node's address.
    const address = (settings.address ?? "").replace("$(HOST_IP)", "127.0.0.1");
    const problem = proxyAddressProblem(address);
    if (problem) r.error([...path, tracer, "address"], `invalid ${tracer} config: ${problem}`);
  }
  if (t.tlsSettings) checkMeshTls(t.tlsSettings, [...path, "tlsSettings"], r);
}

function checkPrivateKeyProvider(
  pkp: NonNullable<MeshProxyConfig["privateKeyProvider"]>,
  path: Path,
  r: Reporter,
): void {
  const set = countSet(pkp, ["cryptomb", "qat"]) as ("cryptomb" | "qat")[];
  if (set.length === 0) {
    return r.error(path, "private key provider configuration is required: set cryptomb or qat");
  }
  checkOneOf(pkp, ["cryptomb", "qat"], path, r);
  const provider = set[0];
  const delay = pkp[provider]?.pollDelay;
  if (delay === undefined) r.error([...path, provider], "pollDelay is required");
  else if (parseDuration(delay) === 0n) {
    r.error([...path, provider, "pollDelay"], "pollDelay must be non zero");
  }
}

function checkConnectionSettings(
  cs: NonNullable<MeshProxyConfig["connectionSettings"]>,
  path: Path,
  r: Reporter,
): void {
  const rule = (field: keyof typeof cs, ok: (n: number) => boolean, what: string) => {
    const v = cs[field];
    if (typeof v === "number" && !ok(v)) r.error([...path, field], `${field} ${what}; got ${v}`);
  };
  rule("listenerPerConnectionBufferLimitBytes", (n) => n >= 0, "must be non-negative");
  rule("clusterPerConnectionBufferLimitBytes", (n) => n >= 0, "must be non-negative");
  rule("httpMaxConcurrentStreams", (n) => n > 0, "must be positive");
  rule("http2InitialStreamWindowSize", (n) => n >= 65535, "must be at least 65535");
  rule("http2InitialConnectionWindowSize", (n) => n >= 65535, "must be at least 65535");
  rule("listenerConnectionLimit", (n) => n > 0, "must be positive");
  rule("globalDownstreamConnectionLimit", (n) => n > 0, "must be positive");
  // Negative durations are refused by the schema (mesh reads no negative durations at all).
}

/** The fields of `defaultConfig` mesh honours. */
export const MESH_PROXY_CONFIG_SUPPORTED: readonly string[] = ["tracing"];

/** Whether a `defaultConfig.tracing` field is honoured by mesh. */
export function isSupportedProxyTracingField(field: string): boolean {
  return field === "sampling";
}
