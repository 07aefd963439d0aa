/**
 * Traffic policies (DestinationRule, its subsets and ports, and MeshConfig's defaults): load
 * balancing, connection pools, outlier detection and client TLS.
 * @module
 */

import { z } from "zod";
import {
  checkOneOf,
  checkUnique,
  countSet,
  duration,
  int32,
  intRange,
  isHostname,
  isIP,
  NOT_SUPPORTED,
  numberRange,
  type Path,
  portNumber,
  quote,
  type Reporter,
  stringList,
  uint32,
  uint64,
  warnUnsupported,
} from "./common.ts";
import { httpRetry, portSelector } from "./http_route.ts";
import {
  UNSUPPORTED_HASH,
  UNSUPPORTED_LB,
  UNSUPPORTED_OUTLIER,
  UNSUPPORTED_POOL_HTTP,
  UNSUPPORTED_POOL_TCP,
  UNSUPPORTED_TLS,
  UNSUPPORTED_TRAFFIC_POLICY,
} from "./unsupported.ts";
/** TLS modes of a DestinationRule. */
export const TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;
/** One of {@linkcode TLS_MODES}; mesh enforces all four (SIMPLE and MUTUAL outside the mesh). */
export type TLSMode = typeof TLS_MODES[number];

/** Client-side TLS of a DestinationRule. */
export interface ClientTLSSettings {
  mode?: TLSMode;
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
  caCrl?: string;
}

const clientTls: z.ZodType<ClientTLSSettings> = z.strictObject({
  mode: z.enum(TLS_MODES).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: stringList.optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});

/** Simple load-balancing algorithms. */
export const SIMPLE_LB = [
  "UNSPECIFIED",
  "LEAST_CONN",
  "RANDOM",
  "PASSTHROUGH",
  "ROUND_ROBIN",
  "LEAST_REQUEST",
] as const;
/** One of {@linkcode SIMPLE_LB}; mesh enforces all but `PASSTHROUGH` and `UNSPECIFIED`. */
export type SimpleLB = typeof SIMPLE_LB[number];

const consistentHash = z.strictObject({
  httpHeaderName: z.string().optional(),
  httpCookie: z.strictObject({
    name: z.string(),
    path: z.string().optional(),
    ttl: duration({ min: "0" }).optional(),
    attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() }))
      .optional(),
  }).optional(),
  useSourceIp: z.boolean().optional(),
  httpQueryParameterName: z.string().optional(),
  ringHash: z.strictObject({ minimumRingSize: uint64.optional() }).optional(),
  maglev: z.strictObject({ tableSize: uint64.optional() }).optional(),
  minimumRingSize: uint64.optional(),
});
/** Consistent-hash load balancing. */
export type ConsistentHashLB = z.infer<typeof consistentHash>;

const failover = z.strictObject({ from: z.string().optional(), to: z.string().optional() });

const localityLbSetting = z.strictObject({
  distribute: z.array(z.strictObject({
    from: z.string().optional(),
    to: z.record(z.string(), uint32).optional(),
  })).optional(),
  failover: z.array(failover).optional(),
  failoverPriority: stringList.optional(),
  enabled: z.boolean().optional(),
});
/** Locality-weighted load balancing. */
export type LocalityLoadBalancerSetting = z.infer<typeof localityLbSetting>;

const zoneAwareLbSetting = z.strictObject({
  enabled: z.boolean().optional(),
  failover: z.array(failover).optional(),
  failoverPriority: stringList.optional(),
  minClusterSize: intRange(1, Number.MAX_SAFE_INTEGER).optional(),
});

const warmup = z.strictObject({
  duration: duration(),
  minimumPercent: numberRange(0, 100).optional(),
  aggression: numberRange(0, Number.MAX_VALUE).optional(),
});

/** Load balancing of a DestinationRule. */
export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  zoneAwareLbSetting?: z.infer<typeof zoneAwareLbSetting>;
  /** A duration such as `60s`. */
  warmupDurationSecs?: string;
  warmup?: z.infer<typeof warmup>;
}

const loadBalancer: z.ZodType<LoadBalancerSettings> = z.strictObject({
  simple: z.enum(SIMPLE_LB).optional(),
  consistentHash: consistentHash.optional(),
  localityLbSetting: localityLbSetting.optional(),
  zoneAwareLbSetting: zoneAwareLbSetting.optional(),
  warmupDurationSecs: duration().optional(),
  warmup: warmup.optional(),
});

const tcpSettings = z.strictObject({
  maxConnections: int32.optional(),
  connectTimeout: duration().optional(),
  tcpKeepalive: z.strictObject({
    probes: uint32.optional(),
    time: duration().optional(),
    interval: duration().optional(),
  }).optional(),
  maxConnectionDuration: duration().optional(),
  idleTimeout: duration().optional(),
});

export const connectionPool = z.strictObject({
  tcp: tcpSettings.optional(),
  http: z.strictObject({
    http1MaxPendingRequests: int32.optional(),
    http2MaxRequests: int32.optional(),
    maxRequestsPerConnection: int32.optional(),
    maxRetries: int32.optional(),
    idleTimeout: duration().optional(),
    h2UpgradePolicy: z.enum(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]).optional(),
    useClientProtocol: z.boolean().optional(),
    maxConcurrentStreams: int32.optional(),
    http2KeepAlive: z.strictObject({
      interval: duration().optional(),
      timeout: duration().optional(),
    }).optional(),
  }).optional(),
});
/** Connection pool limits. */
export type ConnectionPoolSettings = z.infer<typeof connectionPool>;

/** TCP keepalive settings (shared with MeshConfig). */
export const tcpKeepalive = tcpSettings.shape.tcpKeepalive;
/** The connection pool schema (shared with Sidecar and MeshConfig). */
export const connectionPoolSchema = connectionPool;

const outlierDetection = z.strictObject({
  consecutiveErrors: int32.optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: uint32.optional(),
  consecutiveGatewayErrors: uint32.optional(),
  consecutive5xxErrors: uint32.optional(),
  interval: duration().optional(),
  baseEjectionTime: duration().optional(),
  maxEjectionPercent: int32.optional(),
  minHealthPercent: int32.optional(),
  outlierDetectionHttpErrorCodes: z.array(intRange(100, 599)).optional(),
});
/** Outlier detection (passive health checking). */
export type OutlierDetection = z.infer<typeof outlierDetection>;
/** The outlier detection schema (shared with MeshConfig). */
export const outlierDetectionSchema = outlierDetection;
/** The locality load-balancing schema (shared with MeshConfig). */
export const localityLbSettingSchema = localityLbSetting;
/** The zone-aware load-balancing schema (shared with MeshConfig). */
export const zoneAwareLbSettingSchema = zoneAwareLbSetting;
/** The client TLS schema (shared with MeshConfig). */
export const clientTlsSchema = clientTls;
/** The retry policy schema (shared with MeshConfig). */
export const httpRetrySchema = httpRetry;

const portTrafficPolicy = z.strictObject({
  port: portSelector.optional(),
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
});

const tunnel = z.strictObject({
  protocol: z.string().optional(),
  targetHost: z.string(),
  targetPort: portNumber,
});

const retryBudget = z.strictObject({
  percent: numberRange(0, 100).optional(),
  minRetryConcurrency: uint32.optional(),
  budgetInterval: duration().optional(),
});

/** Traffic policy of a DestinationRule. */
export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  tls?: ClientTLSSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  portLevelSettings?: z.infer<typeof portTrafficPolicy>[];
  tunnel?: z.infer<typeof tunnel>;
  proxyProtocol?: { version?: "V1" | "V2" };
  retryBudget?: z.infer<typeof retryBudget>;
}

export const trafficPolicy: z.ZodType<TrafficPolicy> = z.strictObject({
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
  portLevelSettings: z.array(portTrafficPolicy).optional(),
  tunnel: tunnel.optional(),
  proxyProtocol: z.strictObject({ version: z.enum(["V1", "V2"]).optional() }).optional(),
  retryBudget: retryBudget.optional(),
});

export function checkTrafficPolicy(
  tp: TrafficPolicy,
  path: Path,
  r: Reporter,
  warn: boolean,
): void {
  if (warn) warnUnsupported(tp, UNSUPPORTED_TRAFFIC_POLICY, path, r);
  if (countSet(tp, Object.keys(tp)).length === 0) {
    r.error(path, "empty traffic policy; set at least one field or remove it");
  }
  if (tp.tunnel !== undefined && tp.proxyProtocol !== undefined) {
    r.error([...path, "proxyProtocol"], "tunnel and proxyProtocol can't both be set; keep one");
  }
  if (tp.tunnel) {
    const t = tp.tunnel;
    if (t.protocol !== undefined && t.protocol !== "CONNECT" && t.protocol !== "POST") {
      r.error([...path, "tunnel", "protocol"], `tunnel protocol must be CONNECT or POST`);
    }
    if (!isIP(t.targetHost) && !isHostname(t.targetHost)) {
      r.error([...path, "tunnel", "targetHost"], `invalid host ${quote(t.targetHost)}`);
    }
  }
  checkPortPolicy(tp, path, r, warn);
  tp.portLevelSettings?.forEach((p, i) => {
    const at = [...path, "portLevelSettings", i];
    if (!p.port) r.error([...at, "port"], "each portLevelSettings entry needs a port");
    if (countSet(p, ["loadBalancer", "connectionPool", "outlierDetection", "tls"]).length === 0) {
      r.error(
        at,
        "empty port traffic policy; set loadBalancer, connectionPool, " +
          "outlierDetection or tls",
      );
    }
    checkPortPolicy(p, at, r, warn);
  });
  checkUnique(
    tp.portLevelSettings,
    (p) => p.port?.number,
    (i) => [...path, "portLevelSettings", i, "port"],
    "port",
    r,
  );
}

/**
 * Warns about the connection pool and outlier detection fields mesh doesn't honour (for
 * MeshConfig `defaultTrafficPolicy`, which shares DestinationRule's types).
 */
export function warnUnsupportedPolicy(
  tp: Pick<TrafficPolicy, "connectionPool" | "outlierDetection">,
  path: Path,
  r: Reporter,
): void {
  const cp = tp.connectionPool;
  if (cp?.tcp) warnUnsupported(cp.tcp, UNSUPPORTED_POOL_TCP, [...path, "connectionPool", "tcp"], r);
  if (cp?.http) {
    warnUnsupported(cp.http, UNSUPPORTED_POOL_HTTP, [...path, "connectionPool", "http"], r);
  }
  if (tp.outlierDetection) {
    warnUnsupported(tp.outlierDetection, UNSUPPORTED_OUTLIER, [...path, "outlierDetection"], r);
  }
}

/** The parts a traffic policy shares with its port-level settings. */
function checkPortPolicy(
  tp: Pick<TrafficPolicy, "tls" | "loadBalancer" | "connectionPool" | "outlierDetection">,
  path: Path,
  r: Reporter,
  warn: boolean,
): void {
  if (tp.tls) {
    if (warn) {
      warnUnsupported(tp.tls, UNSUPPORTED_TLS, [...path, "tls"], r);
    }
    checkClientTls(tp.tls, [...path, "tls"], r);
  }
  if (tp.loadBalancer) {
    const at = [...path, "loadBalancer"];
    if (warn) {
      warnUnsupported(tp.loadBalancer, UNSUPPORTED_LB, at, r);
      const ch = tp.loadBalancer.consistentHash;
      if (ch) {
        warnUnsupported(ch, UNSUPPORTED_HASH, [...at, "consistentHash"], r);
        if (ch.httpCookie?.attributes) {
          r.warn([...at, "consistentHash", "httpCookie", "attributes"], NOT_SUPPORTED);
        }
      }
      const simple = tp.loadBalancer.simple;
      if (
        simple !== undefined &&
        !["ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "LEAST_CONN"].includes(simple)
      ) {
        r.warn([...at, "simple"], `${simple} is ${NOT_SUPPORTED} (mesh uses ROUND_ROBIN)`);
      }
    }
    checkLoadBalancer(tp.loadBalancer, at, r, tp.outlierDetection !== undefined);
  }
  if (tp.connectionPool) {
    const at = [...path, "connectionPool"];
    if (warn) {
      if (tp.connectionPool.tcp) {
        warnUnsupported(tp.connectionPool.tcp, UNSUPPORTED_POOL_TCP, [...at, "tcp"], r);
      }
      if (tp.connectionPool.http) {
        warnUnsupported(tp.connectionPool.http, UNSUPPORTED_POOL_HTTP, [...at, "http"], r);
      }
    }
    checkConnectionPool(tp.connectionPool, at, r);
  }
  if (tp.outlierDetection) {
    const at = [...path, "outlierDetection"];
    if (warn) warnUnsupported(tp.outlierDetection, UNSUPPORTED_OUTLIER, at, r);
    checkOutlierDetection(tp.outlierDetection, at, r);
  }
}

/** Checks client TLS settings (DestinationRule, MeshConfig). */
export function checkClientTls(tls: ClientTLSSettings, path: Path, r: Reporter): void {
  if (tls.insecureSkipVerify) {
    if (
      tls.mode === "SIMPLE" &&
      countSet(tls, ["caCertificates", "credentialName", "subjectAltNames"]).length
    ) {
      r.error(
        [...path, "insecureSkipVerify"],
        "insecureSkipVerify can't be combined with caCertificates, credentialName or " +
          "subjectAltNames",
      );
    }
    if (tls.mode === "MUTUAL" && countSet(tls, ["caCertificates", "subjectAltNames"]).length) {
      r.error(
        [...path, "insecureSkipVerify"],
        "insecureSkipVerify can't be combined with caCertificates or subjectAltNames",
      );
    }
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && tls.credentialName) {
    const files = countSet(tls, ["clientCertificate", "caCertificates", "privateKey", "caCrl"]);
    if (files.length) {
      r.error(
        [...path, files[0]],
        `${files.join(", ")} can't be set with credentialName; the credential holds them`,
      );
    }
    return;
  }
  if (tls.mode === "MUTUAL") {
    for (const field of ["clientCertificate", "privateKey"] as const) {
      if (!tls[field]) r.error([...path, field], `mode MUTUAL needs ${field} (or credentialName)`);
    }
  }
}

function checkLoadBalancer(
  lb: LoadBalancerSettings,
  path: Path,
  r: Reporter,
  hasOutlierDetection: boolean,
): void {
  checkOneOf(lb, ["simple", "consistentHash"], path, r);
  const ch = lb.consistentHash;
  if (ch) {
    const at = [...path, "consistentHash"];
    checkOneOf(
      ch,
      ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"],
      at,
      r,
    );
    checkOneOf(ch, ["ringHash", "maglev", "minimumRingSize"], at, r);
    if (ch.httpCookie && ch.httpCookie.name === "") {
      r.error([...at, "httpCookie", "name"], "the cookie needs a name");
    }
    if (ch.minimumRingSize !== undefined) {
      r.warn([...at, "minimumRingSize"], "minimumRingSize is deprecated; use ringHash");
    }
    const size = ch.maglev?.tableSize;
    if (ch.maglev && (size === undefined || size === 0 || size >= 5000011 || !isPrime(size))) {
      r.error(
        [...at, "maglev", "tableSize"],
        "maglev needs a tableSize that is a prime number below 5000011, like 65537",
      );
    }
  }
  const loc = lb.localityLbSetting;
  if (loc) {
    const at = [...path, "localityLbSetting"];
    if (loc.distribute?.length && loc.failover?.length) {
      r.error([...at, "failover"], "distribute and failover can't both be set; keep one");
    }
    loc.distribute?.forEach((d, i) => {
      const weights = Object.values(d.to ?? {});
      if (weights.some((w) => w < 1 || w > 100)) {
        r.error([...at, "distribute", i, "to"], "locality weights must be from 1 to 100");
      } else if (weights.reduce((a, b) => a + b, 0) !== 100) {
        r.error([...at, "distribute", i, "to"], "locality weights must sum to 100");
      }
    });
    loc.failover?.forEach((f, i) => {
      const fAt = [...at, "failover", i];
      if (f.from === f.to) r.error(fAt, "failover from and to must be different regions");
      if (`${f.from ?? ""}${f.to ?? ""}`.match(/[/*]/)) {
        r.error(fAt, "failover names regions only: no '/' and no '*'");
      }
    });
    if ((loc.failover?.length || loc.failoverPriority?.length) && !hasOutlierDetection) {
      r.warn(at, "failover needs outlierDetection in the same traffic policy to take effect");
    }
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0) return false;
  for (let f = 3; f * f <= n; f += 2) if (n % f === 0) return false;
  return true;
}

/** Checks connection pool settings (DestinationRule, Sidecar, MeshConfig). */
export function checkConnectionPool(cp: ConnectionPoolSettings, path: Path, r: Reporter): void {
  if (!cp.http && !cp.tcp) r.error(path, "empty connectionPool; set tcp and/or http");
  const http = cp.http;
  if (http) {
    for (
      const field of [
        "http1MaxPendingRequests",
        "http2MaxRequests",
        "maxRequestsPerConnection",
        "maxRetries",
        "maxConcurrentStreams",
      ] as const
    ) {
      if ((http[field] ?? 0) < 0) r.error([...path, "http", field], `${field} may not be negative`);
    }
    if (http.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol) {
      r.error(
        [...path, "http", "useClientProtocol"],
        "useClientProtocol can't be true with h2UpgradePolicy UPGRADE",
      );
    }
  }
  if ((cp.tcp?.maxConnections ?? 0) < 0) {
    r.error([...path, "tcp", "maxConnections"], "maxConnections may not be negative");
  }
}

/** Checks outlier detection (DestinationRule, MeshConfig). */
export function checkOutlierDetection(od: OutlierDetection, path: Path, r: Reporter): void {
  if (od.consecutiveErrors !== undefined) {
    r.warn(
      [...path, "consecutiveErrors"],
      "consecutiveErrors is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors",
    );
  }
  if ((od.consecutiveLocalOriginFailures ?? 0) > 0 && !od.splitExternalLocalOriginErrors) {
    r.error(
      [...path, "consecutiveLocalOriginFailures"],
      "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true",
    );
  }
  for (const field of ["maxEjectionPercent", "minHealthPercent"] as const) {
    const v = od[field];
    if (v !== undefined && (v < 0 || v > 100)) {
      r.error([...path, field], `${field} must be from 0 to 100; got ${v}`);
    }
  }
}
