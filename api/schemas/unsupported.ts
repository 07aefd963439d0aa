/**
 * Fields of Istio's kinds that mesh validates but does not enforce yet, in one place: each
 * kind's checks warn about them (`not supported by mesh yet; ignored`), and docs/compatibility.md
 * lists them.
 * @module
 */

export const UNSUPPORTED_L4_MATCH = ["destinationSubnets", "sourceSubnet"] as const;
export const UNSUPPORTED_HTTP_ROUTE: readonly string[] = [];
export const UNSUPPORTED_MATCH = ["statPrefix"] as const;
export const UNSUPPORTED_DR = ["workloadSelector"] as const;
export const UNSUPPORTED_TRAFFIC_POLICY = [
  "tunnel",
  "proxyProtocol",
  "retryBudget",
] as const;
export const UNSUPPORTED_POOL_TCP = [
  "tcpKeepalive",
  "maxConnectionDuration",
  "idleTimeout",
] as const;
export const UNSUPPORTED_POOL_HTTP = [
  "maxRetries",
  "idleTimeout",
  "http2KeepAlive",
] as const;
export const UNSUPPORTED_OUTLIER = [
  "interval",
  "splitExternalLocalOriginErrors",
  "consecutiveLocalOriginFailures",
  "outlierDetectionHttpErrorCodes",
] as const;
/** Consistent-hash tuning mesh doesn't take (its ring has 256 points per endpoint). */
export const UNSUPPORTED_HASH = ["ringHash", "maglev", "minimumRingSize"] as const;
export const UNSUPPORTED_LB = [
  "zoneAwareLbSetting",
  "warmupDurationSecs",
  "warmup",
  "backendUtilization",
] as const;
export const UNSUPPORTED_TLS = ["credentialName", "caCrl"] as const;
export const UNSUPPORTED_SERVER = ["bind", "defaultEndpoint"] as const;
/**
 * Server TLS fields a gateway doesn't use with mode SIMPLE (it serves one certificate); MUTUAL
 * uses `caCertificates`. `insecureSkipVerify: true` is warned about by the Gateway's checks.
 */
export const UNSUPPORTED_SERVER_TLS = [
  "caCertificates",
  "caCrl",
  "caCertCredentialName",
  "credentialNames",
  "tlsCertificates",
  "subjectAltNames",
  "verifyCertificateSpki",
  "verifyCertificateHash",
  "minProtocolVersion",
  "maxProtocolVersion",
  "cipherSuites",
  "ecdhCurves",
] as const;
export const UNSUPPORTED_SE = ["subjectAltNames"] as const;
export const UNSUPPORTED_WE = ["network", "weight", "serviceAccount"] as const;
/** Telemetry tracing fields mesh doesn't honour. */
export const UNSUPPORTED_TELEMETRY_TRACING = [
  "match",
  "useRequestIdForTraceSampling",
  "enableIstioTags",
  "disableContextPropagation",
] as const;
/** Telemetry metrics fields mesh doesn't honour. */
export const UNSUPPORTED_TELEMETRY_METRICS = ["reportingInterval"] as const;
/** Telemetry access logging fields mesh doesn't honour (`filter` has its own warning). */
export const UNSUPPORTED_TELEMETRY_ACCESS_LOGGING = ["match"] as const;
/** JWT rule fields mesh doesn't enforce (`presence`: istiod doesn't apply it either yet). */
export const UNSUPPORTED_JWT_RULE = ["presence"] as const;
