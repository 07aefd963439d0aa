/**
 * Traffic policies (DestinationRule, its subsets and ports): load balancing, connection pools,
 * outlier detection, client TLS, tunnels; validated as Istio's validateTrafficPolicy and its
 * helpers, agent.ValidateTLS and the CRD do. Locality load balancing is in locality_lb.ts.
 * @module
 */

import { z } from "zod";
import {
  countSet,
  duration,
  durationProblem,
  int32,
  intRange,
  NOT_SUPPORTED,
  numberRange,
  parseDuration,
  type Path,
  portNumber,
  quote,
  type Reporter,
  stringList,
  uint32,
  uint64,
  warnUnsupported,
} from "./common.ts";
import { httpRetry } from "./http_route.ts";
import {
  checkLocalityLb,
  checkZoneAwareLb,
  localityLbSetting,
  zoneAwareLbSetting,
} from "./locality_lb.ts";
import { fqdnProblem, isGoIP } from "./server_hosts.ts";
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

/** A duration Istio takes as written: no 1ms minimum, any precision. */
const anyDuration = () => duration({ min: "0", precision: "ns" });

const consistentHash = z.strictObject({
  httpHeaderName: z.string().optional(),
  httpCookie: z.strictObject({
    name: z.string(),
    path: z.string().optional(),
    ttl: anyDuration().optional(),
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
/** Locality-weighted load balancing. */
export type LocalityLoadBalancerSetting = z.infer<typeof localityLbSetting>;

const warmup = z.strictObject({
  // Required (the CRD), checked by ValidateDuration.
  duration: duration(),
  minimumPercent: numberRange(0, 100).optional(),
  aggression: numberRange(0, Number.MAX_VALUE).optional(),
});

const backendUtilization = z.strictObject({
  errorUtilizationPenaltyPercent: uint32.optional(),
  metricNamesForComputingUtilization: stringList.optional(),
  weightExpirationPeriod: anyDuration().optional(),
  weightStabilizationPeriod: anyDuration().optional(),
  weightUpdatePeriod: anyDuration().optional(),
});

/** Load balancing of a DestinationRule. */
export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  backendUtilization?: z.infer<typeof backendUtilization>;
  localityLbSetting?: LocalityLoadBalancerSetting;
  zoneAwareLbSetting?: z.infer<typeof zoneAwareLbSetting>;
  /** A duration such as `60s`. */
  warmupDurationSecs?: string;
  warmup?: z.infer<typeof warmup>;
}

const loadBalancer: z.ZodType<LoadBalancerSettings> = z.strictObject({
  simple: z.enum(SIMPLE_LB).optional(),
  consistentHash: consistentHash.optional(),
  backendUtilization: backendUtilization.optional(),
  localityLbSetting: localityLbSetting.optional(),
  zoneAwareLbSetting: zoneAwareLbSetting.optional(),
  // The CRD wants at least 1ms; Istio's webhook doesn't look at the precision.
  warmupDurationSecs: duration({ precision: "ns" }).optional(),
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
  // Under 1ms (0s) turns the timeout off; else ValidateDuration applies (checkConnectionPool).
  idleTimeout: anyDuration().optional(),
});

/** Connection pool settings (DestinationRule, Sidecar). */
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

/** TCP keepalive settings. */
export const tcpKeepalive = tcpSettings.shape.tcpKeepalive;
/** The connection pool schema (shared with Sidecar). */
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
/** The outlier detection schema. */
export const outlierDetectionSchema = outlierDetection;
/** The locality load-balancing schema. */
export const localityLbSettingSchema = localityLbSetting;
/** The zone-aware load-balancing schema. */
export const zoneAwareLbSettingSchema = zoneAwareLbSetting;
/** The client TLS schema. */
export const clientTlsSchema = clientTls;
/** The retry policy schema. */
export const httpRetrySchema = httpRetry;

const portTrafficPolicy = z.strictObject({
  // Istio only asks that the port be there (the CRD: a uint32).
  port: z.strictObject({ number: uint32.optional() }).optional(),
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
  budgetInterval: anyDuration().optional(),
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

/** The schema of a traffic policy. */
export const trafficPolicy: z.ZodType<TrafficPolicy> = z.strictObject({
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
  portLevelSettings: z.array(portTrafficPolicy).max(4096, { error: "at most 4096 port settings" })
    .optional(),
  tunnel: tunnel.optional(),
  proxyProtocol: z.strictObject({ version: z.enum(["V1", "V2"]).optional() }).optional(),
  retryBudget: retryBudget.optional(),
});

/** The parts a traffic policy shares with its port-level settings. */
const PORT_PARTS = ["loadBalancer", "connectionPool", "outlierDetection", "tls"] as const;

/**
 * Checks a traffic policy of a DestinationRule (or a subset) in `namespace`, and warns about
 * what mesh doesn't enforce.
 */
export function checkTrafficPolicy(
  tp: TrafficPolicy,
  path: Path,
  r: Reporter,
  namespace = "",
): void {
  warnUnsupported(tp, UNSUPPORTED_TRAFFIC_POLICY, path, r);
  const set = countSet(tp, [...PORT_PARTS, "tunnel", "proxyProtocol", "retryBudget"]);
  if (set.length === 0 && !tp.portLevelSettings?.length) {
    r.error(path, "traffic policy must have at least one field; set one or remove it");
  }
  if (tp.tunnel !== undefined && tp.proxyProtocol !== undefined) {
    r.error([...path, "proxyProtocol"], "tunnel and proxyProtocol can't both be set; keep one");
  }
  if (tp.tunnel) {
    const t = tp.tunnel;
    if (t.protocol !== undefined && !["", "CONNECT", "POST"].includes(t.protocol)) {
      r.error([...path, "tunnel", "protocol"], `tunnel protocol must be "CONNECT" or "POST"`);
    }
    if (!isGoIP(t.targetHost) && fqdnProblem(t.targetHost)) {
      r.error(
        [...path, "tunnel", "targetHost"],
        `tunnel targetHost ${quote(t.targetHost)} is neither an FQDN nor an IP address`,
      );
    }
  }
  checkPortPolicy(tp, path, r, namespace);
  tp.portLevelSettings?.forEach((p, i) => {
    const at = [...path, "portLevelSettings", i];
    if (!p.port) r.error([...at, "port"], "each portLevelSettings entry needs a port");
    if (countSet(p, PORT_PARTS).length === 0) {
      r.error(
        at,
        "port traffic policy must have at least one field: loadBalancer, connectionPool, " +
          "outlierDetection or tls",
      );
    } else checkPortPolicy(p, at, r, namespace);
  });
}

/**
 * Warns about the connection pool and outlier detection fields mesh doesn't honour (for the
 * kinds that share DestinationRule's types).
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

/** The parts a traffic policy shares with its port-level settings, and their warnings. */
function checkPortPolicy(
  tp: Pick<TrafficPolicy, typeof PORT_PARTS[number]>,
  path: Path,
  r: Reporter,
  namespace: string,
): void {
  if (tp.tls) {
    warnUnsupported(tp.tls, UNSUPPORTED_TLS, [...path, "tls"], r);
    checkClientTls(tp.tls, [...path, "tls"], r, namespace);
  }
  warnUnsupportedPolicy(tp, path, r);
  if (tp.loadBalancer) {
    const at = [...path, "loadBalancer"];
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
    checkLoadBalancer(tp.loadBalancer, at, r, tp.outlierDetection !== undefined);
  }
  if (tp.connectionPool) checkConnectionPool(tp.connectionPool, [...path, "connectionPool"], r);
  if (tp.outlierDetection) {
    checkOutlierDetection(tp.outlierDetection, [...path, "outlierDetection"], r);
  }
}

const CONFIGMAP = "configmap://";

/**
 * Checks client TLS settings as agent.ValidateTLS does, for a resource in `namespace` (a
 * `configmap://` credential must be in it): insecureSkipVerify without CA material, no files
 * next to a credentialName, a certificate and key for MUTUAL.
 */
export function checkClientTls(
  tls: ClientTLSSettings,
  path: Path,
  r: Reporter,
  namespace = "",
): void {
  const cred = tls.credentialName ?? "";
  if (cred.startsWith(CONFIGMAP)) {
    const [ns, name] = cred.slice(CONFIGMAP.length).split("/");
    const problem = name === undefined
      ? "expected configmap://<namespace>/<name>"
      : ns === ""
      ? "the namespace is empty"
      : name === ""
      ? "the name is empty"
      : ns !== namespace || namespace === ""
      ? `the namespace must be the rule's own (${quote(namespace)})`
      : undefined;
    if (problem) {
      r.error([...path, "credentialName"], `invalid configmap:// credentialName: ${problem}`);
    }
  }
  /** The fields among `keys` with a value (Istio: a non-empty string or list). */
  const given = (keys: readonly (keyof ClientTLSSettings)[]) =>
    keys.filter((k) => {
      const v = tls[k];
      return typeof v === "string" ? v !== "" : Array.isArray(v) ? v.length > 0 : false;
    });
  if (tls.insecureSkipVerify) {
    const ca = tls.mode === "SIMPLE"
      ? given(["caCertificates", "credentialName", "subjectAltNames"])
      : tls.mode === "MUTUAL"
      ? given(["caCertificates", "subjectAltNames"])
      : [];
    if (ca.length) {
      r.error(
        [...path, "insecureSkipVerify"],
        `insecureSkipVerify can't be true with ${ca.join(" and ")}; it skips verification`,
      );
    }
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && cred !== "") {
    const files = given(["clientCertificate", "caCertificates", "privateKey", "caCrl"]);
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
  oneOf(lb, ["simple", "consistentHash", "backendUtilization"], path, r);
  const ch = lb.consistentHash;
  if (ch) {
    const at = [...path, "consistentHash"];
    oneOf(ch, ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"], at, r);
    oneOf(ch, ["ringHash", "maglev"], at, r);
    const cookie = ch.httpCookie;
    if (cookie && cookie.name === "") {
      r.error([...at, "httpCookie", "name"], "name required for httpCookie");
    }
    const seen = new Set<string>();
    cookie?.attributes?.forEach((a, i) => {
      const aAt = [...at, "httpCookie", "attributes", i, "name"];
      if (a.name === "") r.error(aAt, "cookie attribute name cannot be empty");
      else if (seen.has(a.name)) r.error(aAt, `duplicate cookie attribute name ${quote(a.name)}`);
      seen.add(a.name);
    });
    if (ch.minimumRingSize) {
      r.warn([...at, "minimumRingSize"], "minimumRingSize is deprecated; use ringHash");
      if (ch.ringHash !== undefined || ch.maglev !== undefined) {
        r.error(
          [...at, "minimumRingSize"],
          "only one of minimumRingSize or maglev/ringHash can be specified",
        );
      }
    }
    if (ch.maglev) {
      const size = ch.maglev.tableSize ?? 0;
      const bad = size === 0
        ? "tableSize must be set for maglev"
        : size >= 5000011
        ? "tableSize must be less than 5000011 for maglev"
        : !isPrime(size)
        ? `tableSize ${size} is not a prime number; maglev needs one, like 65537`
        : undefined;
      if (bad) r.error([...at, "maglev", "tableSize"], bad);
    }
  }
  if (lb.localityLbSetting && lb.zoneAwareLbSetting) {
    r.error(
      [...path, "zoneAwareLbSetting"],
      "only one of localityLbSetting and zoneAwareLbSetting can be set",
    );
  }
  if (lb.localityLbSetting) {
    checkLocalityLb(lb.localityLbSetting, [...path, "localityLbSetting"], r, hasOutlierDetection);
  }
  if (lb.zoneAwareLbSetting) {
    checkZoneAwareLb(
      lb.zoneAwareLbSetting,
      [...path, "zoneAwareLbSetting"],
      r,
      hasOutlierDetection,
    );
  }
  const aggression = lb.warmup?.aggression;
  if (aggression !== undefined && aggression <= 0) {
    r.error([...path, "warmup", "aggression"], "aggression should be greater than 0");
  }
}

/** At most one of `keys` is set (a protobuf oneof, as the CRD's oneOf checks it). */
function oneOf(obj: object, keys: readonly string[], path: Path, r: Reporter): void {
  const set = countSet(obj, keys);
  if (set.length > 1) {
    r.error(
      [...path, set[1]],
      `${set.join(" and ")} can't both be set; keep one of ${keys.join(", ")}`,
    );
  }
}

/** Envoy's primality test, as Istio copies it (1, 2 and 3 are prime; 0 is not). */
function isPrime(n: number): boolean {
  if (n !== 0 && n < 4) return true;
  if (n % 2 === 0) return false;
  for (let f = 3; f * f <= n; f += 2) if (n % f === 0) return false;
  return true;
}

/** Checks connection pool settings as validateConnectionPool does (DestinationRule, Sidecar). */
export function checkConnectionPool(cp: ConnectionPoolSettings, path: Path, r: Reporter): void {
  if (!cp.http && !cp.tcp) {
    r.error(path, "connection pool must have at least one field: tcp or http");
    return;
  }
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
    const ka = http.http2KeepAlive;
    for (const field of ["interval", "timeout"] as const) {
      if (ka && ka[field] === undefined) {
        r.error([...path, "http", "http2KeepAlive", field], `http2 keepalive ${field} is required`);
      }
    }
  }
  const tcp = cp.tcp;
  if ((tcp?.maxConnections ?? 0) < 0) {
    r.error([...path, "tcp", "maxConnections"], "maxConnections may not be negative");
  }
  const idle = tcp?.idleTimeout;
  if (idle !== undefined) {
    // Under a millisecond turns the timeout off; anything else is an ordinary duration.
    const ns = parseDuration(idle);
    const problem = typeof ns === "bigint" && ns >= 1_000_000n ? durationProblem(idle) : undefined;
    if (problem) r.error([...path, "tcp", "idleTimeout"], problem);
  }
}

/** Checks outlier detection as validateOutlierDetection does. */
export function checkOutlierDetection(od: OutlierDetection, path: Path, r: Reporter): void {
  if (od.consecutiveErrors) {
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
