/**
 * mesh's own `MeshConfig` kind (`config.mesh.dev/v1alpha1`): a resource whose `spec` is Istio's
 * MeshConfig (`istio.mesh.v1alpha1.MeshConfig`, as written under `meshConfig:` in an
 * IstioOperator or in the `istio` ConfigMap), with the same field names, checked as Istio's
 * ValidateMeshConfig checks a mesh config after applying it over Istio's defaults: a field that
 * isn't set has a valid default, so only what is written is checked.
 *
 * mesh honours the fields in {@linkcode MESH_CONFIG_SUPPORTED} (trust domain and its aliases,
 * root namespace, outbound policy, access logs, telemetry providers, tracing sampling, default
 * retries and traffic policy, path normalization, discovery selectors); every other field is validated and warned
 * about. `defaultConfig` is in mesh_proxy_config.ts, the providers in
 * mesh_extension_providers.ts, the networking types in mesh_networking.ts and mesh_locality.ts.
 * @module
 */

import { z } from "zod";
import {
  int32,
  labelMap,
  NOT_SUPPORTED,
  parseDuration,
  type Path,
  quote,
  type Reporter,
  stringList,
  warnUnsupported,
} from "./common.ts";
import { portProblem, trustDomainProblem } from "./istio_names.ts";
import { wildcardDomainProblem } from "./server_hosts.ts";
import {
  checkExtensionProviders,
  defaultProviders,
  type ExtensionProvider,
  extensionProviders,
} from "./mesh_extension_providers.ts";
import { checkLocalityLb, checkZoneAwareLb } from "./locality_lb.ts";
import {
  checkDefaultTrafficPolicy,
  checkInboundRetry,
  clientTls,
  connectionPool,
  httpRetry,
  isRetryOnPolicy,
  localityLbSetting,
  outlierDetection,
  pdur,
  tcpKeepalive,
  validateDuration,
  zoneAwareLbSetting,
} from "./mesh_networking.ts";
import {
  checkMeshProxyConfig,
  type MeshProxyConfig,
  meshProxyConfig,
} from "./mesh_proxy_config.ts";
import { UNSUPPORTED_OUTLIER, UNSUPPORTED_POOL_HTTP, UNSUPPORTED_POOL_TCP } from "./unsupported.ts";

export type { ExtensionProvider, MeshProxyConfig };

/** The apiVersion of mesh's MeshConfig resource. */
export const MESH_CONFIG_API_VERSION = "config.mesh.dev/v1alpha1";

/** MeshConfig fields mesh honours; every other field is warned about. */
export const MESH_CONFIG_SUPPORTED = [
  "trustDomain",
  "trustDomainAliases",
  "rootNamespace",
  "outboundTrafficPolicy",
  "accessLogFile",
  "accessLogEncoding",
  "extensionProviders",
  "defaultProviders",
  "defaultConfig",
  "defaultHttpRetryPolicy",
  "defaultTrafficPolicy",
  "pathNormalization",
  "h2UpgradePolicy",
  "localityLbSetting",
  // The Kubernetes source's namespaces (control/kube/namespaces.ts).
  "discoverySelectors",
];

const bool = z.boolean();

const labelSelector = z.strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z.array(z.strictObject({
    key: z.string().optional(),
    operator: z.string().optional(),
    values: stringList.optional(),
  })).optional(),
});

const tlsConfig = z.strictObject({
  minProtocolVersion: z.enum(["TLS_AUTO", "TLSV1_2", "TLSV1_3"]).optional(),
  ecdhCurves: stringList.optional(),
  cipherSuites: stringList.optional(),
});

const visibility = z.enum(["VISIBILITY_UNSPECIFIED", "NONE", "NAMESPACE", "PUBLIC"]);

/** Modes of `outboundTrafficPolicy`; mesh honours `ALLOW_ANY` and `REGISTRY_ONLY`. */
export const OUTBOUND_TRAFFIC_MODES = [
  "REGISTRY_ONLY",
  "ALLOW_ANY",
  "ALLOW_ANY_DYNAMIC_DNS",
] as const;

/** The schema of a MeshConfig `spec`. */
export const meshConfigSpec = z.strictObject({
  proxyListenPort: int32.optional(),
  proxyInboundListenPort: int32.optional(),
  proxyHttpPort: int32.optional(),
  connectTimeout: pdur().optional(),
  hboneIdleTimeout: pdur().optional(),
  protocolDetectionTimeout: pdur().optional(),
  tcpKeepalive: tcpKeepalive.optional(),
  ingressClass: z.string().optional(),
  ingressService: z.string().optional(),
  ingressControllerMode: z.enum(["UNSPECIFIED", "OFF", "DEFAULT", "STRICT"]).optional(),
  ingressSelector: z.string().optional(),
  enableTracing: bool.optional(),
  accessLogFile: z.string().optional(),
  accessLogFormat: z.string().optional(),
  accessLogEncoding: z.enum(["TEXT", "JSON"]).optional(),
  enableEnvoyAccessLogService: bool.optional(),
  disableEnvoyListenerLog: bool.optional(),
  defaultConfig: meshProxyConfig.optional(),
  outboundTrafficPolicy: z.strictObject({
    mode: z.enum(OUTBOUND_TRAFFIC_MODES).optional(),
    tls: clientTls.optional(),
  }).optional(),
  inboundTrafficPolicy: z.strictObject({ mode: z.enum(["PASSTHROUGH", "LOCALHOST"]).optional() })
    .optional(),
  configSources: z.array(z.strictObject({
    address: z.string().optional(),
    tlsSettings: clientTls.optional(),
    subscribedResources: z.array(z.enum(["SERVICE_REGISTRY"])).optional(),
  })).optional(),
  enableAutoMtls: bool.optional(),
  trustDomain: z.string().optional(),
  trustDomainAliases: stringList.optional(),
  caCertificates: z.array(z.strictObject({
    pem: z.string().optional(),
    spiffeBundleUrl: z.string().optional(),
    certSigners: stringList.optional(),
    trustDomains: stringList.optional(),
  })).optional(),
  defaultServiceExportTo: stringList.optional(),
  defaultVirtualServiceExportTo: stringList.optional(),
  defaultDestinationRuleExportTo: stringList.optional(),
  rootNamespace: z.string().optional(),
  localityLbSetting: localityLbSetting.optional(),
  zoneAwareLbSetting: zoneAwareLbSetting.optional(),
  dnsRefreshRate: pdur().optional(),
  h2UpgradePolicy: z.enum(["DO_NOT_UPGRADE", "UPGRADE"]).optional(),
  inboundClusterStatName: z.string().optional(),
  outboundClusterStatName: z.string().optional(),
  certificates: z.array(z.strictObject({
    secretName: z.string().optional(),
    dnsNames: stringList.optional(),
  })).optional(),
  serviceSettings: z.array(z.strictObject({
    settings: z.strictObject({ clusterLocal: bool.optional() }).optional(),
    hosts: stringList.optional(),
  })).optional(),
  serviceScopeConfigs: z.array(z.strictObject({
    namespaceSelector: labelSelector.optional(),
    servicesSelector: labelSelector.optional(),
    scope: z.enum(["LOCAL", "GLOBAL"]).optional(),
  })).optional(),
  enablePrometheusMerge: bool.optional(),
  verifyCertificateAtClient: bool.optional(),
  ca: z.strictObject({
    address: z.string().optional(),
    tlsSettings: clientTls.optional(),
    requestTimeout: pdur().optional(),
    istiodSide: bool.optional(),
  }).optional(),
  extensionProviders: extensionProviders.optional(),
  defaultProviders: defaultProviders.optional(),
  discoverySelectors: z.array(labelSelector).optional(),
  pathNormalization: z.strictObject({
    normalization: z.enum(["DEFAULT", "NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"])
      .optional(),
  }).optional(),
  defaultHttpRetryPolicy: httpRetry.optional(),
  defaultInboundHttpRetryPolicy: httpRetry.optional(),
  meshMTLS: tlsConfig.optional(),
  tlsDefaults: tlsConfig.optional(),
  defaultTrafficPolicy: z.strictObject({
    connectionPool: connectionPool.optional(),
    outlierDetection: outlierDetection.optional(),
  }).optional(),
  serviceEntryVisibility: z.strictObject({
    defaultVisibility: visibility.optional(),
    applyToSidecars: bool.optional(),
    policies: z.array(z.strictObject({
      visibility: visibility.optional(),
      matchingRules: z.array(z.strictObject({ namespaceSelector: labelSelector.optional() }))
        .optional(),
    })).optional(),
  }).optional(),
});
/**
 * `spec` of a MeshConfig: Istio's MeshConfig. mesh honours {@linkcode MESH_CONFIG_SUPPORTED}
 * (`trustDomain` defaults to `cluster.local`, `rootNamespace` to `istio-system`;
 * `outboundTrafficPolicy.mode` `ALLOW_ANY_DYNAMIC_DNS` is warned about and ignored).
 */
export type MeshConfigSpec = z.infer<typeof meshConfigSpec>;

/** The ECDH curves Istio knows for `tlsDefaults.ecdhCurves` (BoringSSL's names). */
const ECDH_CURVES = new Set([
  "P-224",
  "P-256",
  "P-521",
  "P-384",
  "X25519",
  "X25519Kyber768Draft00",
  "X25519MLKEM768",
]);

const ONE_HOUR_NS = 3_600_000_000_000n;

/** Checks a MeshConfig spec as Istio does, and warns about each field mesh doesn't honour. */
export function checkMeshConfig(spec: MeshConfigSpec, r: Reporter): void {
  const base: Path = ["spec"];
  warnNotHonoured(spec, r);
  if (spec.proxyListenPort !== undefined) {
    const problem = portProblem(spec.proxyListenPort);
    if (problem) r.error([...base, "proxyListenPort"], `invalid proxy listen port: ${problem}`);
  }
  if (spec.connectTimeout !== undefined) {
    const at = [...base, "connectTimeout"];
    const errors = r.errors;
    validateDuration(spec.connectTimeout, at, r);
    const ns = parseDuration(spec.connectTimeout);
    if (r.errors === errors && typeof ns === "bigint" && ns > ONE_HOUR_NS) {
      r.error(at, `connectTimeout ${quote(spec.connectTimeout)} must be at most 1h`);
    }
  }
  if (spec.protocolDetectionTimeout !== undefined) {
    const ns = parseDuration(spec.protocolDetectionTimeout);
    if (typeof ns === "bigint" && ns % 1_000_000n !== 0n) {
      r.error(
        [...base, "protocolDetectionTimeout"],
        "only durations to ms precision are supported (0s turns the timeout off)",
      );
    }
  }
  if (spec.defaultConfig) checkMeshProxyConfig(spec.defaultConfig, [...base, "defaultConfig"], r);
  if (spec.localityLbSetting) {
    // Mesh-wide, Istio passes an outlier policy: failover never warns about a missing one.
    checkLocalityLb(spec.localityLbSetting, [...base, "localityLbSetting"], r, true);
  }
  if (spec.zoneAwareLbSetting) {
    checkZoneAwareLb(spec.zoneAwareLbSetting, [...base, "zoneAwareLbSetting"], r, true);
  }
  spec.serviceSettings?.forEach((s, i) => {
    s.hosts?.forEach((h, j) => {
      const problem = wildcardDomainProblem(h);
      if (problem) r.error([...base, "serviceSettings", i, "hosts", j], problem);
    });
  });
  if (spec.trustDomain !== undefined) {
    const problem = trustDomainProblem(spec.trustDomain);
    if (problem) {
      r.error(
        [...base, "trustDomain"],
        `invalid trust domain ${quote(spec.trustDomain)}: ${problem}`,
      );
    }
  }
  spec.trustDomainAliases?.forEach((alias, i) => {
    const problem = trustDomainProblem(alias);
    if (problem) {
      r.error(
        [...base, "trustDomainAliases", i],
        `invalid trust domain ${quote(alias)} in trustDomainAliases: ${problem}`,
      );
    }
  });
  checkExtensionProviders(spec, r);
  if (spec.meshMTLS?.ecdhCurves?.length) {
    r.error(
      [...base, "meshMTLS", "ecdhCurves"],
      "mesh TLS does not support ECDH curves configuration",
    );
  }
  checkTlsDefaults(spec.tlsDefaults?.ecdhCurves, [...base, "tlsDefaults", "ecdhCurves"], r);
  if (spec.defaultTrafficPolicy) {
    checkDefaultTrafficPolicy(spec.defaultTrafficPolicy, [...base, "defaultTrafficPolicy"], r);
  }
  if (spec.defaultInboundHttpRetryPolicy) {
    checkInboundRetry(
      spec.defaultInboundHttpRetryPolicy,
      [...base, "defaultInboundHttpRetryPolicy"],
      r,
    );
  }
}

function checkTlsDefaults(curves: readonly string[] | undefined, path: Path, r: Reporter): void {
  const unknown = new Set<string>();
  const seen = new Set<string>();
  const duplicate = new Set<string>();
  for (const c of curves ?? []) {
    if (c !== "" && !ECDH_CURVES.has(c)) unknown.add(c);
    else if (seen.has(c)) duplicate.add(c);
    else seen.add(c);
  }
  if (unknown.size) {
    r.warn(path, `detected unrecognized ECDH curves: ${[...unknown].sort().join(", ")}`);
  }
  if (duplicate.size) {
    r.warn(path, `detected duplicate ECDH curves: ${[...duplicate].sort().join(", ")}`);
  }
}

/** mesh's notes: the fields it doesn't honour (Istio says nothing about them). */
function warnNotHonoured(spec: MeshConfigSpec, r: Reporter): void {
  const base: Path = ["spec"];
  for (const key of Object.keys(spec) as (keyof MeshConfigSpec)[]) {
    if (spec[key] !== undefined && !MESH_CONFIG_SUPPORTED.includes(key)) {
      r.warn([...base, key], NOT_SUPPORTED);
    }
  }
  // Of the proxies' default config, mesh uses the tracing sampling rate.
  for (const key of Object.keys(spec.defaultConfig ?? {})) {
    if (key !== "tracing") r.warn([...base, "defaultConfig", key], NOT_SUPPORTED);
  }
  for (const key of Object.keys(spec.defaultConfig?.tracing ?? {})) {
    if (key !== "sampling") r.warn([...base, "defaultConfig", "tracing", key], NOT_SUPPORTED);
  }
  const otp = spec.outboundTrafficPolicy;
  if (otp?.mode === "ALLOW_ANY_DYNAMIC_DNS") {
    r.warn([...base, "outboundTrafficPolicy", "mode"], `ALLOW_ANY_DYNAMIC_DNS is ${NOT_SUPPORTED}`);
  }
  if (otp?.tls) r.warn([...base, "outboundTrafficPolicy", "tls"], NOT_SUPPORTED);
  const tp = spec.defaultTrafficPolicy;
  const at = [...base, "defaultTrafficPolicy"];
  if (tp?.connectionPool?.tcp) {
    warnUnsupported(
      tp.connectionPool.tcp,
      UNSUPPORTED_POOL_TCP,
      [...at, "connectionPool", "tcp"],
      r,
    );
  }
  if (tp?.connectionPool?.http) {
    warnUnsupported(tp.connectionPool.http, UNSUPPORTED_POOL_HTTP, [
      ...at,
      "connectionPool",
      "http",
    ], r);
  }
  if (tp?.outlierDetection) {
    warnUnsupported(tp.outlierDetection, UNSUPPORTED_OUTLIER, [...at, "outlierDetection"], r);
  }
  // Istio passes defaultHttpRetryPolicy to Envoy unchecked; mesh ignores what it can't read.
  const retry = spec.defaultHttpRetryPolicy;
  const rAt = [...base, "defaultHttpRetryPolicy"];
  if (retry?.retryRemoteLocalities !== undefined) {
    r.warn([...rAt, "retryRemoteLocalities"], `localities are ${NOT_SUPPORTED}`);
  }
  for (const policy of retry?.retryOn?.split(",") ?? []) {
    if (policy === "retriable-headers" || policy === "envoy-ratelimited") {
      r.warn([...rAt, "retryOn"], `retry condition ${quote(policy)} is ${NOT_SUPPORTED}`);
    } else if (!isRetryOnPolicy(policy.trim())) {
      r.warn(
        [...rAt, "retryOn"],
        `retry condition ${quote(policy)} is not supported by mesh (Istio passes it to Envoy ` +
          "unchecked); ignored",
      );
    }
  }
}
