/**
 * mesh's own `MeshConfig` kind (`config.mesh.dev/v1alpha1`): a resource whose `spec` is Istio's
 * MeshConfig (`istio.mesh.v1alpha1.MeshConfig`, as written under `meshConfig:` in an
 * IstioOperator or in the `istio` ConfigMap), with the same field names.
 *
 * mesh honours the fields in {@linkcode MESH_CONFIG_SUPPORTED} (trust domain and its aliases, root namespace,
 * outbound policy, access logs, telemetry providers, tracing sampling, default retries and
 * traffic policy, path normalization); every other field is validated and warned about.
 * @module
 */

import { z } from "zod";
import {
  checkLabels,
  checkOneOf,
  checkUnique,
  countSet,
  duration,
  int32,
  isDns1123Label,
  isWildcardHost,
  labelMap,
  NOT_SUPPORTED,
  numberRange,
  parseDuration,
  type Path,
  portNumber,
  quote,
  regex,
  type Reporter,
  stringList,
  uint32,
} from "./common.ts";
import {
  checkClientTls,
  checkConnectionPool,
  checkOutlierDetection,
  checkProbe,
  checkRetries,
  clientTlsSchema,
  connectionPoolSchema,
  type HTTPRetry,
  httpRetrySchema,
  localityLbSettingSchema,
  outlierDetectionSchema,
  readinessProbeSchema,
  tcpKeepalive,
  type TrafficPolicy,
  warnUnsupportedPolicy,
  zoneAwareLbSettingSchema,
} from "./networking.ts";

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
];

/** Extension provider kinds mesh can use, with the fields it honours. */
const USED_PROVIDER_FIELDS: Record<string, Set<string>> = {
  zipkin: new Set(["service", "port", "path", "maxTagLength"]),
  envoyFileAccessLog: new Set(["path"]),
};

const bool = z.boolean();
const anyValue = z.unknown();

// ---------------------------------------------------------------------------------------------
// ProxyConfig (MeshConfig.defaultConfig)

const remoteService = z.strictObject({
  address: z.string().optional(),
  tlsSettings: clientTlsSchema.optional(),
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
    context: z.array(
      z.enum(["UNSPECIFIED", "W3C_TRACE_CONTEXT", "GRPC_BIN", "CLOUD_TRACE_CONTEXT", "B3"]),
    ).optional(),
  }).optional(),
  customTags: z.record(z.string(), tracingCustomTag).optional(),
  maxPathTagLength: uint32.optional(),
  sampling: numberRange(0, 100).optional(),
  tlsSettings: clientTlsSchema.optional(),
  enableIstioTags: bool.optional(),
});

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
  pollDelay: duration({ min: "0" }).optional(),
  fallback: bool.optional(),
});

const connectionSettings = z.strictObject({
  profile: z.enum(["SIDECAR", "EDGE"]).optional(),
  listenerPerConnectionBufferLimitBytes: int32.optional(),
  clusterPerConnectionBufferLimitBytes: int32.optional(),
  httpIdleTimeout: duration({ min: "0" }).optional(),
  httpMaxConnectionDuration: duration({ min: "0" }).optional(),
  httpDrainTimeout: duration({ min: "0" }).optional(),
  httpRequestTimeout: duration({ min: "0" }).optional(),
  httpRequestHeadersTimeout: duration({ min: "0" }).optional(),
  httpStreamIdleTimeout: duration({ min: "0" }).optional(),
  httpMaxStreamDuration: duration({ min: "0" }).optional(),
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

const proxyConfig = z.strictObject({
  configPath: z.string().optional(),
  binaryPath: z.string().optional(),
  serviceCluster: z.string().optional(),
  tracingServiceName: z.enum([
    "APP_LABEL_AND_NAMESPACE",
    "CANONICAL_NAME_ONLY",
    "CANONICAL_NAME_AND_NAMESPACE",
  ]).optional(),
  drainDuration: duration({ precision: "s" }).optional(),
  discoveryAddress: z.string().optional(),
  discoveryRefreshDelay: duration().optional(),
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
  terminationDrainDuration: duration().optional(),
  meshId: z.string().optional(),
  readinessProbe: readinessProbeSchema.optional(),
  proxyStatsMatcher: z.strictObject({
    inclusionPrefixes: stringList.optional(),
    inclusionSuffixes: stringList.optional(),
    inclusionRegexps: z.array(regex()).optional(),
  }).optional(),
  holdApplicationUntilProxyStarts: bool.optional(),
  caCertificatesPem: stringList.optional(),
  image: z.strictObject({ imageType: z.string().optional() }).optional(),
  privateKeyProvider: z.strictObject({
    cryptomb: pollDelayProvider.optional(),
    qat: pollDelayProvider.optional(),
  }).optional(),
  proxyHeaders: proxyHeaders.optional(),
  fileFlushInterval: duration().optional(),
  fileFlushMinSizeKb: uint32.optional(),
  statsCompression: bool.optional(),
  connectionSettings: connectionSettings.optional(),
});
/** Istio's ProxyConfig, as `MeshConfig.defaultConfig`. */
export type MeshProxyConfig = z.infer<typeof proxyConfig>;

// ---------------------------------------------------------------------------------------------
// Extension providers

const httpHeader = z.strictObject({
  name: z.string().optional(),
  value: z.string().optional(),
  envName: z.string().optional(),
});
const requestBody = z.strictObject({
  maxRequestBytes: uint32.optional(),
  allowPartialMessage: bool.optional(),
  packAsBytes: bool.optional(),
});
const logFormat = z.strictObject({
  text: z.string().optional(),
  labels: z.record(z.string(), anyValue).optional(),
});
const httpService = z.strictObject({
  path: z.string().optional(),
  timeout: duration().optional(),
  headers: z.array(httpHeader).optional(),
});
const service = { service: z.string().optional(), port: uint32.optional() };

/** Provider kinds of `extensionProviders`, each with its settings. */
const PROVIDERS = {
  envoyExtAuthzHttp: z.strictObject({
    ...service,
    timeout: duration().optional(),
    pathPrefix: z.string().optional(),
    failOpen: bool.optional(),
    clearRouteCache: bool.optional(),
    statusOnError: z.string().optional(),
    includeHeadersInCheck: stringList.optional(),
    includeRequestHeadersInCheck: stringList.optional(),
    includeAdditionalHeadersInCheck: labelMap.optional(),
    includeRequestBodyInCheck: requestBody.optional(),
    headersToUpstreamOnAllow: stringList.optional(),
    headersToDownstreamOnDeny: stringList.optional(),
    headersToDownstreamOnAllow: stringList.optional(),
  }),
  envoyExtAuthzGrpc: z.strictObject({
    ...service,
    timeout: duration().optional(),
    failOpen: bool.optional(),
    clearRouteCache: bool.optional(),
    statusOnError: z.string().optional(),
    includeRequestBodyInCheck: requestBody.optional(),
  }),
  zipkin: z.strictObject({
    ...service,
    maxTagLength: uint32.optional(),
    enable64bitTraceId: bool.optional(),
    path: z.string().optional(),
    traceContextOption: z.enum(["USE_B3", "USE_B3_WITH_W3C_PROPAGATION"]).optional(),
    timeout: duration().optional(),
    headers: z.array(httpHeader).optional(),
  }),
  lightstep: z.strictObject({
    ...service,
    accessToken: z.string().optional(),
    maxTagLength: uint32.optional(),
  }),
  datadog: z.strictObject({ ...service, maxTagLength: uint32.optional() }),
  stackdriver: z.strictObject({
    debug: bool.optional(),
    maxNumberOfAttributes: int32.optional(),
    maxNumberOfAnnotations: int32.optional(),
    maxNumberOfMessageEvents: int32.optional(),
    maxTagLength: uint32.optional(),
    logging: z.strictObject({ labels: labelMap.optional() }).optional(),
  }),
  opencensus: z.strictObject({
    ...service,
    context: z.array(
      z.enum(["UNSPECIFIED", "W3C_TRACE_CONTEXT", "GRPC_BIN", "CLOUD_TRACE_CONTEXT", "B3"]),
    ).optional(),
    maxTagLength: uint32.optional(),
  }),
  skywalking: z.strictObject({ ...service, accessToken: z.string().optional() }),
  opentelemetry: z.strictObject({
    ...service,
    maxTagLength: uint32.optional(),
    http: httpService.optional(),
    grpc: z.strictObject({
      timeout: duration().optional(),
      initialMetadata: z.array(httpHeader).optional(),
    }).optional(),
    resourceDetectors: z.strictObject({
      environment: z.strictObject({}).optional(),
      dynatrace: z.strictObject({}).optional(),
    }).optional(),
    serviceAttributeEnrichment: z.enum(["ISTIO_CANONICAL", "OTEL_SEMANTIC_CONVENTIONS"])
      .optional(),
    dynatraceSampler: z.strictObject({
      tenant: z.string().optional(),
      clusterId: int32.optional(),
      rootSpansPerMinute: uint32.optional(),
      httpService: z.strictObject({ ...service, http: httpService.optional() }).optional(),
    }).optional(),
  }),
  prometheus: z.strictObject({}),
  envoyFileAccessLog: z.strictObject({
    path: z.string().optional(),
    logFormat: logFormat.optional(),
    omitEmptyValues: bool.optional(),
  }),
  envoyHttpAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    filterStateObjectsToLog: stringList.optional(),
    additionalRequestHeadersToLog: stringList.optional(),
    additionalResponseHeadersToLog: stringList.optional(),
    additionalResponseTrailersToLog: stringList.optional(),
  }),
  envoyTcpAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    filterStateObjectsToLog: stringList.optional(),
  }),
  envoyOtelAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    logFormat: logFormat.optional(),
  }),
  sds: z.strictObject({ name: z.string().optional(), ...service }),
};
const PROVIDER_KINDS = Object.keys(PROVIDERS) as (keyof typeof PROVIDERS)[];

const extensionProvider = z.strictObject({
  name: z.string(),
  ...Object.fromEntries(PROVIDER_KINDS.map((k) => [k, PROVIDERS[k].optional()])) as {
    [K in keyof typeof PROVIDERS]: z.ZodOptional<typeof PROVIDERS[K]>;
  },
});
/** One `extensionProviders` entry: a name and exactly one provider. */
export type ExtensionProvider = z.infer<typeof extensionProvider>;

// ---------------------------------------------------------------------------------------------
// MeshConfig

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
  connectTimeout: duration().optional(),
  hboneIdleTimeout: duration().optional(),
  protocolDetectionTimeout: duration({ min: "0" }).optional(),
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
  defaultConfig: proxyConfig.optional(),
  outboundTrafficPolicy: z.strictObject({
    mode: z.enum(OUTBOUND_TRAFFIC_MODES).optional(),
    tls: clientTlsSchema.optional(),
  }).optional(),
  inboundTrafficPolicy: z.strictObject({ mode: z.enum(["PASSTHROUGH", "LOCALHOST"]).optional() })
    .optional(),
  configSources: z.array(z.strictObject({
    address: z.string().optional(),
    tlsSettings: clientTlsSchema.optional(),
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
  localityLbSetting: localityLbSettingSchema.optional(),
  zoneAwareLbSetting: zoneAwareLbSettingSchema.optional(),
  dnsRefreshRate: duration().optional(),
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
    tlsSettings: clientTlsSchema.optional(),
    requestTimeout: duration().optional(),
    istiodSide: bool.optional(),
  }).optional(),
  extensionProviders: z.array(extensionProvider).optional(),
  defaultProviders: z.strictObject({
    tracing: stringList.optional(),
    metrics: stringList.optional(),
    accessLogging: stringList.optional(),
  }).optional(),
  discoverySelectors: z.array(labelSelector).optional(),
  pathNormalization: z.strictObject({
    normalization: z.enum(["DEFAULT", "NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"])
      .optional(),
  }).optional(),
  defaultHttpRetryPolicy: httpRetrySchema.optional(),
  meshMTLS: tlsConfig.optional(),
  tlsDefaults: tlsConfig.optional(),
  defaultTrafficPolicy: z.strictObject({
    connectionPool: connectionPoolSchema.optional(),
    outlierDetection: outlierDetectionSchema.optional(),
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

const ECDH_CURVES = new Set(["P-224", "P-256", "P-521", "P-384", "X25519", "CECPQ2"]);

/** Checks a MeshConfig spec, and warns about each field mesh doesn't honour. */
export function checkMeshConfig(spec: MeshConfigSpec, r: Reporter): void {
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
  if (spec.trustDomain !== undefined && !isTrustDomain(spec.trustDomain)) {
    r.error(
      [...base, "trustDomain"],
      `invalid trust domain ${quote(spec.trustDomain)}; use a DNS name like cluster.local`,
    );
  }
  spec.trustDomainAliases?.forEach((alias, i) => {
    if (!isTrustDomain(alias)) {
      r.error([...base, "trustDomainAliases", i], `invalid trust domain ${quote(alias)}`);
    }
  });
  if (spec.rootNamespace !== undefined && !isDns1123Label(spec.rootNamespace)) {
    r.error(
      [...base, "rootNamespace"],
      `invalid namespace ${quote(spec.rootNamespace)}; use a namespace name like istio-system`,
    );
  }
  const otp = spec.outboundTrafficPolicy;
  if (otp?.mode === "ALLOW_ANY_DYNAMIC_DNS") {
    r.warn([...base, "outboundTrafficPolicy", "mode"], `ALLOW_ANY_DYNAMIC_DNS is ${NOT_SUPPORTED}`);
  }
  if (otp?.tls) {
    r.warn([...base, "outboundTrafficPolicy", "tls"], NOT_SUPPORTED);
    checkClientTls(otp.tls, [...base, "outboundTrafficPolicy", "tls"], r);
  }
  for (const field of ["proxyListenPort", "proxyInboundListenPort", "proxyHttpPort"] as const) {
    const port = spec[field];
    if (port !== undefined && port !== 0 && (port < 1 || port > 65535)) {
      r.error([...base, field], `must be a port from 1 to 65535; got ${port}`);
    }
  }
  if (spec.connectTimeout !== undefined) {
    const ns = parseDuration(spec.connectTimeout);
    if (typeof ns === "bigint" && ns > 3_600_000_000_000n) {
      r.error([...base, "connectTimeout"], "connectTimeout must be at most 1h");
    }
  }
  spec.serviceSettings?.forEach((s, i) => {
    s.hosts?.forEach((h, j) => {
      if (!isWildcardHost(h)) {
        r.error([...base, "serviceSettings", i, "hosts", j], `invalid host ${quote(h)}`);
      }
    });
  });
  if (spec.meshMTLS?.ecdhCurves !== undefined) {
    r.error([...base, "meshMTLS", "ecdhCurves"], "mesh mTLS doesn't take ecdhCurves; remove them");
  }
  spec.tlsDefaults?.ecdhCurves?.forEach((c, i) => {
    if (!ECDH_CURVES.has(c)) {
      r.warn([...base, "tlsDefaults", "ecdhCurves", i], `unknown ECDH curve ${quote(c)}`);
    }
  });
  spec.discoverySelectors?.forEach((s, i) => {
    checkLabels(s.matchLabels, [...base, "discoverySelectors", i, "matchLabels"], r);
  });
  if (spec.defaultHttpRetryPolicy) {
    checkRetries(
      spec.defaultHttpRetryPolicy as HTTPRetry,
      [...base, "defaultHttpRetryPolicy"],
      r,
    );
  }
  if (spec.defaultTrafficPolicy) {
    warnUnsupportedPolicy(
      spec.defaultTrafficPolicy as Pick<TrafficPolicy, "connectionPool" | "outlierDetection">,
      [...base, "defaultTrafficPolicy"],
      r,
    );
  }
  if (spec.defaultTrafficPolicy?.connectionPool) {
    checkConnectionPool(
      spec.defaultTrafficPolicy.connectionPool,
      [...base, "defaultTrafficPolicy", "connectionPool"],
      r,
    );
  }
  if (spec.defaultTrafficPolicy?.outlierDetection) {
    checkOutlierDetection(
      spec.defaultTrafficPolicy.outlierDetection,
      [...base, "defaultTrafficPolicy", "outlierDetection"],
      r,
    );
  }
  if (spec.defaultConfig) checkProxyConfig(spec.defaultConfig, [...base, "defaultConfig"], r);
  checkExtensionProviders(spec, r);
}

function isTrustDomain(s: string): boolean {
  const labels = s.split(".");
  if (labels.length > 1 && labels[labels.length - 1] === "") labels.pop();
  return s.length > 0 && s.length <= 255 && labels.every(isDns1123Label);
}

function checkProxyConfig(pc: MeshProxyConfig, path: Path, r: Reporter): void {
  if (pc.concurrency !== undefined && pc.concurrency < 0) {
    r.error([...path, "concurrency"], "concurrency may not be negative (0 means one per CPU)");
  }
  for (const field of ["proxyAdminPort", "statusPort"] as const) {
    const port = pc[field];
    if (port !== undefined && (port < 1 || port > 65535)) {
      r.error([...path, field], `must be a port from 1 to 65535; got ${port}`);
    }
  }
  checkOneOf(pc, ["serviceCluster", "tracingServiceName"], path, r);
  const tracers = countSet(pc.tracing ?? {}, [
    "zipkin",
    "lightstep",
    "datadog",
    "stackdriver",
    "openCensusAgent",
  ]);
  if (tracers.length > 1) {
    r.error([...path, "tracing", tracers[1]], `${tracers.join(" and ")} can't both be set`);
  }
  if (pc.tracing?.tlsSettings) {
    checkClientTls(pc.tracing.tlsSettings, [...path, "tracing", "tlsSettings"], r);
  }
  if (pc.readinessProbe) checkProbe(pc.readinessProbe, [...path, "readinessProbe"], r);
  if (pc.privateKeyProvider) {
    checkOneOf(
      pc.privateKeyProvider,
      ["cryptomb", "qat"],
      [...path, "privateKeyProvider"],
      r,
      true,
    );
  }
}

function checkExtensionProviders(spec: MeshConfigSpec, r: Reporter): void {
  const providers = spec.extensionProviders ?? [];
  const base: Path = ["spec", "extensionProviders"];
  providers.forEach((p, i) => {
    const at = [...base, i];
    if (p.name === "") r.error([...at, "name"], "the provider needs a name");
    const kinds = countSet(p, PROVIDER_KINDS) as (keyof typeof PROVIDERS)[];
    if (kinds.length === 0) {
      r.error(at, `set one provider kind, like ${PROVIDER_KINDS.slice(0, 4).join(", ")}`);
    } else if (kinds.length > 1) {
      r.error([...at, kinds[1]], `${kinds.join(" and ")} can't both be set; one provider each`);
    }
    for (const kind of kinds) {
      const used = USED_PROVIDER_FIELDS[kind];
      if (!used) {
        r.warn(
          [...at, kind],
          `${kind} providers are ${NOT_SUPPORTED} (zipkin and envoyFileAccessLog are)`,
        );
      } else {
        for (const field of Object.keys(p[kind] ?? {})) {
          if (used.has(field)) continue;
          r.warn(
            [...at, kind, field],
            field === "logFormat"
              ? "custom log formats are not supported by mesh yet: it writes Envoy's default " +
                "format (JSON when labels are set)"
              : NOT_SUPPORTED,
          );
        }
      }
      const settings = p[kind] as { service?: string; port?: number } | undefined;
      if (!settings || !("service" in PROVIDERS[kind].shape)) continue;
      if (!settings.service) {
        r.warn([...at, kind, "service"], "no service; the provider can't be reached");
      }
      if (settings.port === undefined || !portNumber.safeParse(settings.port).success) {
        r.warn([...at, kind, "port"], "no valid port (1..65535); the provider can't be reached");
      }
    }
  });
  checkUnique(providers, (p) => p.name, (i) => [...base, i, "name"], "provider name", r);
  const names = new Set(providers.map((p) => p.name));
  const defaults = spec.defaultProviders;
  if (defaults?.metrics !== undefined) {
    r.warn(["spec", "defaultProviders", "metrics"], NOT_SUPPORTED);
  }
  for (const field of ["tracing", "metrics", "accessLogging"] as const) {
    defaults?.[field]?.forEach((name, i) => {
      if (!names.has(name) && !BUILTIN_PROVIDERS.has(name)) {
        r.warn(
          ["spec", "defaultProviders", field, i],
          `no extension provider named ${quote(name)}; define it under extensionProviders`,
        );
      }
    });
  }
}

/** Providers Istio defines without configuration. */
const BUILTIN_PROVIDERS = new Set(["envoy", "prometheus", "stackdriver"]);
