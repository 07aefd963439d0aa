/**
 * The networking types inside a MeshConfig (client TLS, connection pool, outlier detection,
 * locality and zone-aware load balancing, retries, TCP keepalive), as protobuf reads them (no
 * CRD rules apply to a mesh config), with the checks Istio's ValidateMeshConfig runs on them.
 * These deliberately don't reuse the DestinationRule schemas: a MeshConfig has no CRD, and
 * Istio checks these fields differently there.
 * @module
 */

import { z } from "zod";
import { localityLbSetting } from "./locality_lb.ts";
import {
  countSet,
  duration,
  int32,
  parseDuration,
  type Path,
  quote,
  type Reporter,
  stringList,
  uint32,
} from "./common.ts";

/** A google.protobuf.Duration as Istio reads it: any non-negative Go duration. */
export const pdur = () => duration({ min: "0", precision: "ns" });
const bool = z.boolean();

/** ClientTLSSettings. */
export const clientTls = z.strictObject({
  mode: z.enum(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: stringList.optional(),
  sni: z.string().optional(),
  insecureSkipVerify: bool.optional(),
  caCrl: z.string().optional(),
});
/** Client TLS settings in a MeshConfig. */
export type MeshClientTls = z.infer<typeof clientTls>;

/** ConnectionPoolSettings.TCPSettings.TcpKeepalive. */
export const tcpKeepalive = z.strictObject({
  probes: uint32.optional(),
  time: pdur().optional(),
  interval: pdur().optional(),
});

/** ConnectionPoolSettings. */
export const connectionPool = z.strictObject({
  tcp: z.strictObject({
    maxConnections: int32.optional(),
    connectTimeout: pdur().optional(),
    tcpKeepalive: tcpKeepalive.optional(),
    maxConnectionDuration: pdur().optional(),
    idleTimeout: pdur().optional(),
  }).optional(),
  http: z.strictObject({
    http1MaxPendingRequests: int32.optional(),
    http2MaxRequests: int32.optional(),
    maxRequestsPerConnection: int32.optional(),
    maxRetries: int32.optional(),
    idleTimeout: pdur().optional(),
    h2UpgradePolicy: z.enum(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]).optional(),
    useClientProtocol: bool.optional(),
    maxConcurrentStreams: int32.optional(),
    http2KeepAlive: z.strictObject({
      interval: pdur().optional(),
      timeout: pdur().optional(),
    }).optional(),
  }).optional(),
});

/** OutlierDetection. */
export const outlierDetection = z.strictObject({
  consecutiveErrors: int32.optional(),
  splitExternalLocalOriginErrors: bool.optional(),
  consecutiveLocalOriginFailures: uint32.optional(),
  consecutiveGatewayErrors: uint32.optional(),
  consecutive5xxErrors: uint32.optional(),
  interval: pdur().optional(),
  baseEjectionTime: pdur().optional(),
  maxEjectionPercent: int32.optional(),
  minHealthPercent: int32.optional(),
  outlierDetectionHttpErrorCodes: z.array(uint32).optional(),
});

/** LocalityLoadBalancerSetting: the DestinationRule's (no CRD rule differs). */
export { localityLbSetting };

const failover = z.strictObject({ from: z.string().optional(), to: z.string().optional() });

/** ZoneAwareLoadBalancerSetting. */
export const zoneAwareLbSetting = z.strictObject({
  enabled: bool.optional(),
  failover: z.array(failover).optional(),
  failoverPriority: stringList.optional(),
  minClusterSize: uint32.optional(),
});

/** HTTPRetry. */
export const httpRetry = z.strictObject({
  attempts: int32.optional(),
  perTryTimeout: pdur().optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: bool.optional(),
  retryIgnorePreviousHosts: bool.optional(),
  backoff: pdur().optional(),
});
/** A retry policy in a MeshConfig. */
export type MeshHttpRetry = z.infer<typeof httpRetry>;

/** Istio's ValidateDuration: at least 1ms, to the millisecond. */
export function validateDuration(d: string | undefined, path: Path, r: Reporter): void {
  if (d === undefined) return;
  const ns = parseDuration(d);
  if (typeof ns !== "bigint") return; // refused by the schema already
  if (ns < 1_000_000n) r.error(path, `duration ${quote(d)} must be at least 1ms`);
  else if (ns % 1_000_000n !== 0n) {
    r.error(path, `duration ${quote(d)}: only durations to ms precision are supported`);
  }
}

/** Istio's ValidateTLS, as MeshConfig uses it (for tracing; no config namespace). */
export function checkMeshTls(tls: MeshClientTls, path: Path, r: Reporter): void {
  if (tls.credentialName?.startsWith("configmap://")) {
    r.error(
      [...path, "credentialName"],
      "invalid configmap:// credentialName: namespace must match the configuration namespace",
    );
  }
  if (tls.insecureSkipVerify) {
    if (
      tls.mode === "SIMPLE" &&
      countSet(tls, ["caCertificates", "credentialName", "subjectAltNames"]).length
    ) {
      r.error(
        [...path, "insecureSkipVerify"],
        "cannot specify caCertificates, credentialName or subjectAltNames when insecureSkipVerify is true",
      );
    }
    if (tls.mode === "MUTUAL" && countSet(tls, ["caCertificates", "subjectAltNames"]).length) {
      r.error(
        [...path, "insecureSkipVerify"],
        "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is true",
      );
    }
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && tls.credentialName) {
    const files = (["clientCertificate", "caCertificates", "privateKey", "caCrl"] as const)
      .filter((k) => tls[k]);
    if (files.length) {
      r.error(
        [...path, files[0]],
        `${files.join(", ")} can't be set with credentialName; the credential holds them`,
      );
    }
    return;
  }
  if (tls.mode === "MUTUAL") {
    if (!tls.clientCertificate) {
      r.error([...path, "clientCertificate"], "client certificate required for mutual tls");
    }
    if (!tls.privateKey) r.error([...path, "privateKey"], "private key required for mutual tls");
  }
}

/** Checks `defaultTrafficPolicy` as validateMeshConfigDefaultTrafficPolicy does. */
export function checkDefaultTrafficPolicy(
  tp: {
    connectionPool?: z.infer<typeof connectionPool>;
    outlierDetection?: z.infer<typeof outlierDetection>;
  },
  path: Path,
  r: Reporter,
): void {
  const cp = tp.connectionPool;
  if (cp) {
    const at = [...path, "connectionPool"];
    if (!cp.http && !cp.tcp) r.error(at, "connection pool must have at least one field");
    const http = cp.http;
    if (http) {
      for (
        const f of [
          "http1MaxPendingRequests",
          "http2MaxRequests",
          "maxRequestsPerConnection",
          "maxRetries",
          "maxConcurrentStreams",
        ] as const
      ) {
        if ((http[f] ?? 0) < 0) r.error([...at, "http", f], `${f} must be non-negative`);
      }
      validateDuration(http.idleTimeout, [...at, "http", "idleTimeout"], r);
      if (http.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol) {
        r.error(
          [...at, "http", "useClientProtocol"],
          "use client protocol must not be true when h2UpgradePolicy is UPGRADE",
        );
      }
    }
    const tcp = cp.tcp;
    if (tcp) {
      if ((tcp.maxConnections ?? 0) < 0) {
        r.error([...at, "tcp", "maxConnections"], "maxConnections must be non-negative");
      }
      validateDuration(tcp.connectTimeout, [...at, "tcp", "connectTimeout"], r);
      validateDuration(tcp.maxConnectionDuration, [...at, "tcp", "maxConnectionDuration"], r);
      // 0s switches the idle timeout off.
      if (
        tcp.idleTimeout !== undefined && (parseDuration(tcp.idleTimeout) as bigint) >= 1_000_000n
      ) {
        validateDuration(tcp.idleTimeout, [...at, "tcp", "idleTimeout"], r);
      }
      validateDuration(tcp.tcpKeepalive?.time, [...at, "tcp", "tcpKeepalive", "time"], r);
      validateDuration(tcp.tcpKeepalive?.interval, [...at, "tcp", "tcpKeepalive", "interval"], r);
    }
  }
  const od = tp.outlierDetection;
  if (od) {
    const at = [...path, "outlierDetection"];
    validateDuration(od.baseEjectionTime, [...at, "baseEjectionTime"], r);
    validateDuration(od.interval, [...at, "interval"], r);
    if (!od.splitExternalLocalOriginErrors && (od.consecutiveLocalOriginFailures ?? 0) > 0) {
      r.error(
        [...at, "consecutiveLocalOriginFailures"],
        "consecutive local origin failures is specified, but splitExternalLocalOriginErrors is false",
      );
    }
    for (const f of ["maxEjectionPercent", "minHealthPercent"] as const) {
      const v = od[f] ?? 0;
      if (v < 0 || v > 100) r.error([...at, f], `percentage ${v} is not in range 0..100`);
    }
  }
}

/** Go's net/http status codes with a text (http.StatusText). */
const HTTP_STATUSES = new Set([
  100,
  101,
  102,
  103,
  200,
  201,
  202,
  203,
  204,
  205,
  206,
  207,
  208,
  226,
  300,
  301,
  302,
  303,
  304,
  305,
  307,
  308,
  400,
  401,
  402,
  403,
  404,
  405,
  406,
  407,
  408,
  409,
  410,
  411,
  412,
  413,
  414,
  415,
  416,
  417,
  418,
  421,
  422,
  423,
  424,
  425,
  426,
  428,
  429,
  431,
  451,
  500,
  501,
  502,
  503,
  504,
  505,
  506,
  507,
  508,
  510,
  511,
]);

/** The retry conditions Istio accepts in `retryOn` (Envoy's x-envoy-retry-on and -grpc-on). */
export const RETRY_ON_POLICIES = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);

/** Whether Istio's ValidateHTTPRetry takes `policy` as a retryOn entry. */
export function isRetryOnPolicy(policy: string): boolean {
  if (RETRY_ON_POLICIES.has(policy)) return true;
  return /^[+-]?\d+$/.test(policy) && HTTP_STATUSES.has(Number(policy));
}

/** Checks `defaultInboundHttpRetryPolicy` (ValidateHTTPRetry plus the inbound rules). */
export function checkInboundRetry(rt: MeshHttpRetry, path: Path, r: Reporter): void {
  const attempts = rt.attempts ?? 0;
  if (attempts < 0) r.error([...path, "attempts"], "attempts cannot be negative");
  if (
    attempts === 0 &&
    (rt.perTryTimeout !== undefined || !!rt.retryOn || rt.retryRemoteLocalities !== undefined)
  ) {
    r.error(
      [...path, "attempts"],
      "http retry policy configured when attempts are set to 0 (disabled)",
    );
  }
  validateDuration(rt.perTryTimeout, [...path, "perTryTimeout"], r);
  if (rt.retryOn) {
    for (const policy of rt.retryOn.split(",")) {
      if (!isRetryOnPolicy(policy)) {
        r.error([...path, "retryOn"], `${quote(policy)} is not a valid retryOn policy`);
      }
    }
  }
  validateDuration(rt.backoff, [...path, "backoff"], r);
  if (attempts === 0 && rt.backoff !== undefined) {
    r.error([...path, "backoff"], "backoff configured when attempts are set to 0 (disabled)");
  }
  for (const f of ["perTryTimeout", "retryRemoteLocalities", "retryIgnorePreviousHosts"] as const) {
    if (rt[f] !== undefined) {
      r.warn([...path, f], `${f} is ignored by the default inbound http retry policy`);
    }
  }
}
