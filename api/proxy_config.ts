/**
 * The configuration the control plane pushes to each proxy: the contract
 * between `control/` (which generates it) and `proxy/` (which runs it).
 *
 * Names follow Envoy's where they have one: a proxy has virtual hosts (matched
 * by `Host`), whose routes pick weighted clusters, whose endpoints it balances
 * over. Cluster names use Istio's form `outbound|<port>|<subset>|<host>`.
 *
 * @example
 * ```ts
 * const cluster = clusterName(9080, "v1", "reviews.default.svc.cluster.local");
 * // "outbound|9080|v1|reviews.default.svc.cluster.local"
 * ```
 * @module
 */
import type { HealthProbe } from "./health_probe.ts";
import type { NameEntry } from "./name_table.ts";
export type { HealthProbe, NameEntry };

/** One of exact, prefix or regex (a full match, as Envoy's safe_regex). */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** Conditions that must all hold (AND) for a route to match. */
export interface RouteMatch {
  uri?: StringMatch;
  /** Header name (lowercase) to condition. */
  headers?: Record<string, StringMatch>;
  method?: StringMatch;
  authority?: StringMatch;
  /** The destination port the request was addressed to. */
  port?: number;
  /** Query parameters by name; `exact: ""` tests for presence (as Istio). */
  queryParams?: Record<string, StringMatch>;
  /** Match `uri` exact and prefix without regard to case. */
  ignoreUriCase?: boolean;
  /** Headers (lowercase names) that must not match. */
  withoutHeaders?: Record<string, StringMatch>;
  /** The request's scheme (`http` on mesh listeners). */
  scheme?: StringMatch;
}

/** A cluster picked with a relative weight. */
export interface WeightedCluster {
  cluster: string;
  weight: number;
  /** Header changes when this destination is picked. */
  headers?: HeaderOps;
}

/** Header changes (names lowercase): `set` replaces, `add` appends, `remove` deletes. */
export interface HeaderChanges {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

/** Header changes on the request sent upstream and on the response sent back. */
export interface HeaderOps {
  request?: HeaderChanges;
  response?: HeaderChanges;
}

/** An HTTP redirect (VirtualService `redirect`). */
export interface RouteRedirect {
  /** Replaces the path; with `prefixRewrite`, only the matched prefix. */
  uri?: string;
  prefixRewrite?: string;
  authority?: string;
  port?: number;
  /** `FROM_PROTOCOL_DEFAULT` drops the port, `FROM_REQUEST_PORT` keeps the request's. */
  derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  scheme?: string;
  /** Default 301. */
  code: number;
}

/** A fixed answer (VirtualService `directResponse`). */
export interface RouteDirectResponse {
  status: number;
  /** The body as base64 (from `body.bytes`, or `body.string` encoded). */
  bodyBase64?: string;
}

/** Path and authority rewrites before forwarding (VirtualService `rewrite`). */
export interface RouteRewrite {
  /** Replaces the matched prefix (prefix matches) or the whole path (other matches). */
  uri?: string;
  authority?: string;
  /** RE2 `match` replaced by `rewrite` (`\\1` style groups) over the path. */
  regex?: { match: string; rewrite: string };
}

/** An HTTP route: any of `match` (OR; none means every request) sends to `destinations`. */
export interface Route {
  /** `<namespace>/<VirtualService name>` or `default` for the implicit route. */
  source: string;
  name?: string;
  match: RouteMatch[];
  destinations: WeightedCluster[];
  /**
   * How long the upstream may take to answer (VirtualService `timeout`), in
   * milliseconds; past it the caller gets 504. Unset: no timeout, as in Istio.
   */
  timeoutMs?: number;
  /** Faults to inject (VirtualService `fault`). */
  fault?: RouteFault;
  /** Retries (VirtualService `retries`, or Istio's default policy). */
  retries?: RetryPolicy;
  /** Answer with a redirect instead of forwarding (`destinations` is empty). */
  redirect?: RouteRedirect;
  /** Answer with a fixed response instead of forwarding (`destinations` is empty). */
  directResponse?: RouteDirectResponse;
  rewrite?: RouteRewrite;
  /** Header changes for every request on this route. */
  headers?: HeaderOps;
  /** Traffic shadowing: a copy of `percent` of requests to `cluster`, its answer dropped. */
  mirrors?: { cluster: string; percent: number }[];
  cors?: RouteCors;
}

/** A CORS policy (VirtualService `corsPolicy`), answered as Envoy's CORS filter does. */
export interface RouteCors {
  /** Origins allowed (`allowOrigins`, and the deprecated exact `allowOrigin`). */
  allowOrigins: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  /** Seconds. */
  maxAge?: number;
  allowCredentials?: boolean;
  /** A preflight from an origin that isn't allowed: forwarded (default) or answered bare. */
  unmatchedPreflights: "FORWARD" | "IGNORE";
}

/** When and how often to retry a request (Istio's `HTTPRetry`, resolved). */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables them. */
  attempts: number;
  /** Envoy `retry_on` conditions (`5xx`, `gateway-error`, `connect-failure`, ..., or codes). */
  retryOn: string[];
  /** Statuses retried under `retriable-status-codes`. */
  retriableStatusCodes?: number[];
  perTryTimeoutMs?: number;
  /** Base backoff interval (default 25 ms). */
  backoffMs?: number;
  /** Retry on another endpoint than the ones tried (default true). */
  ignorePreviousHosts?: boolean;
}

/**
 * Fault injection on a route. Each fault applies to `percent` of requests
 * (0..100, fractional), independently of the other.
 */
export interface RouteFault {
  /** Wait `ms` before forwarding. */
  delay?: { ms: number; percent: number };
  /**
   * Answer with `status` instead of forwarding; with `grpcStatus` (`abort.grpcStatus`), a
   * gRPC trailers-only answer with that status code (HTTP status 200).
   */
  abort?: { status: number; percent: number; grpcStatus?: number };
}

/** Routes for a set of domains (`host` or `host:port`, or wildcards like `*.example.com`, `*`). */
export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}

/**
 * How a sidecar's inbound port takes connections (PeerAuthentication): STRICT only
 * mesh mTLS, PERMISSIVE mesh mTLS or plaintext, DISABLE only plaintext.
 */
export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

/** A backend address of a cluster. */
export interface Endpoint {
  address: string;
  port: number;
  /** Connect with mesh mTLS (to a peer's inbound port). */
  mtls: boolean;
  /**
   * The address is a mesh sidecar's inbound port (mTLS or, for a workload whose
   * PeerAuthentication allows it, plaintext): TCP goes through a CONNECT tunnel.
   */
  sidecar?: boolean;
  /** The SPIFFE ID the peer must present when `mtls`. */
  identity?: string;
  labels: Record<string, string>;
  /**
   * Where the workload runs, `region/zone/subzone` (a WorkloadEntry's or ServiceEntry
   * endpoint's `locality`, a sidecar's `--locality`); absent when unknown.
   */
  locality?: string;
}

/** A concrete backend: a service port, optionally narrowed to a subset. */
export interface Cluster {
  name: string;
  host: string;
  port: number;
  subset?: string;
  lb: "ROUND_ROBIN" | "RANDOM" | "LEAST_REQUEST";
  endpoints: Endpoint[];
  /** Connection pool limits (DestinationRule `connectionPool`): past them, 503 at once. */
  limits?: ClusterLimits;
  /** Passive health checking (DestinationRule `outlierDetection`). */
  outlier?: OutlierPolicy;
  /**
   * No endpoints: each request goes to the host and port it was sent to (a ServiceEntry with
   * `resolution: NONE` and no endpoints, Envoy's original destination cluster).
   */
  originalDst?: boolean;
  /** TLS origination to endpoints outside the mesh (DestinationRule `tls` SIMPLE or MUTUAL). */
  tls?: UpstreamTls;
  /** `connectionPool.tcp.connectTimeout` in milliseconds (Istio's default: 10 s). */
  connectTimeoutMs?: number;
  /**
   * The HTTP version requests to the endpoints go over, as Istio's cluster protocol options:
   * `HTTP2` when the service port speaks it (protocol GRPC or HTTP2, a `grpc`/`http2` name
   * prefix) or a DestinationRule's `h2UpgradePolicy: UPGRADE` (or MeshConfig's) upgrades an
   * HTTP port; `CLIENT` (`useClientProtocol`, or a port that declares no protocol) the version
   * the client spoke; HTTP/1.1 when absent. To a mesh sidecar HTTP/2 goes over mesh mTLS with
   * ALPN h2 (h2c with prior knowledge to a plaintext one); outside the mesh, h2c or ALPN h2
   * with TLS origination. An upgrade request (WebSocket) always goes as HTTP/1.1.
   */
  protocol?: "HTTP2" | "CLIENT";
  /**
   * Consistent hashing (DestinationRule `loadBalancer.consistentHash`): requests with the
   * same key go to the same endpoint (a ring of endpoints, as Envoy's ring hash).
   */
  hash?: HashPolicy;
  /**
   * Locality load balancing (DestinationRule or MeshConfig `localityLbSetting`), present when it
   * applies: always with `distribute`, else only with outlier detection (as Istio). Each proxy
   * orders the endpoints into priority levels from its own locality and labels (docs/locality.md).
   */
  locality?: LocalityLbPolicy;
}

/**
 * A cluster's locality load balancing as the control plane resolved it. With `distribute`,
 * the proxy's locality picks the first rule whose `from` matches it and its weights go to the
 * localities they name (others get no traffic). Without, failover: endpoints by closeness to
 * the proxy (`failoverPriority` labels, then region/zone/subzone and `failover`), a lower
 * level taking what the closer one can't (Envoy's priorities, overprovisioning factor 1.4).
 */
export interface LocalityLbPolicy {
  distribute?: { from: string; to: Record<string, number> }[];
  /** Regions to fail over to: from the proxy's region `from`, region `to` comes next. */
  failover?: { from: string; to: string }[];
  /** Label keys (or `key=value`), in order: endpoints matching more of them first. */
  failoverPriority?: string[];
}

/** What a consistent-hash cluster hashes: exactly one of these. */
export interface HashPolicy {
  /** A request header (lowercase name). */
  header?: string;
  /** A cookie; with `ttlSeconds`, a request without it gets one (set on the response). */
  cookie?: { name: string; path?: string; ttlSeconds?: number };
  /** The client's IP address. */
  sourceIp?: boolean;
  /** A query parameter. */
  queryParameter?: string;
}

/**
 * How a proxy opens TLS to an upstream outside the mesh (Istio's ClientTLSSettings). Files
 * are paths on the proxy's host, read when a connection pool starts.
 */
export interface UpstreamTls {
  mode: "SIMPLE" | "MUTUAL";
  /** SNI; the endpoint's host name (or the service host for an IP endpoint) when absent. */
  sni?: string;
  /** PEM file of the CAs that verify the server; the runtime's default roots when absent. */
  caCertificates?: string;
  /** The server certificate must carry one of these (DNS or URI SAN); its SNI name otherwise. */
  subjectAltNames?: string[];
  insecureSkipVerify?: boolean;
  /** MUTUAL: the client certificate chain and key files. */
  clientCertificate?: string;
  privateKey?: string;
}

/** Circuit-breaker limits of a cluster (Envoy's thresholds, as Istio sets them). */
export interface ClusterLimits {
  /** Connections (HTTP/1.1: requests in flight) to all endpoints together (`tcp.maxConnections`). */
  maxConnections?: number;
  /** Requests waiting for a connection (`http.http1MaxPendingRequests`). */
  maxPendingRequests?: number;
  /** Requests in flight (`http.http2MaxRequests`). */
  maxRequests?: number;
  /** Requests per connection before it is closed (`http.maxRequestsPerConnection`). */
  maxRequestsPerConnection?: number;
  /** Streams in flight per HTTP/2 connection (`http.maxConcurrentStreams`). */
  maxConcurrentStreams?: number;
}

/** When an endpoint is ejected from its cluster's balancing, and for how long. */
export interface OutlierPolicy {
  /** Consecutive 5xx (or connect failures) that eject; 0 disables. */
  consecutive5xx: number;
  /** Consecutive 502/503/504 (or connect failures) that eject; 0 disables. */
  consecutiveGatewayErrors: number;
  /** Ejection lasts this × the number of times the endpoint was ejected. */
  baseEjectionMs: number;
  /** At most this share of endpoints is ejected at once (at least one). */
  maxEjectionPercent: number;
  /**
   * Panic threshold: below this share of healthy endpoints, ejections are ignored and every
   * endpoint takes traffic (Envoy's panic mode; Istio's default 0 turns it off).
   */
  minHealthPercent?: number;
}

/** A gateway's listener, from a Gateway server. */
export interface GatewayListener {
  /** `<namespace>/<Gateway name>` of the first server on this port. */
  name: string;
  port: number;
  /**
   * HTTP and HTTPS: routed by `virtualHosts`; TCP: each connection to one of
   * `destinations`; TLS (passthrough): each connection by its SNI, by `sniRoutes`.
   */
  protocol: "HTTP" | "HTTPS" | "TCP" | "TLS";
  virtualHosts: VirtualHost[];
  /** For HTTPS: where the gateway finds its certificate and key (Gateway `tls`, SIMPLE). */
  tls?: GatewayTls;
  /** For TCP: the weighted clusters of the bound VirtualService's `tcp` route. */
  destinations?: TcpDestination[];
  /** For TLS passthrough: the bound VirtualServices' `tls` routes, in order. */
  sniRoutes?: SniRoute[];
}

/** A VirtualService `tls` route: connections whose SNI matches one of `sniHosts`. */
export interface SniRoute {
  /** Host names or wildcards (`*.example.com`), lowercase. */
  sniHosts: string[];
  destinations: TcpDestination[];
}

/**
 * A gateway's serving certificate: PEM files on the gateway's host (`serverCertificate`,
 * `privateKey`), or a named credential the gateway looks up in its credentials directory
 * (`credentialName`, as a Kubernetes TLS secret: `<dir>/<name>/tls.crt` and `tls.key`).
 */
export interface GatewayTls {
  /** SIMPLE (the default) or MUTUAL: clients must present a certificate from `caCertificates`. */
  mode?: "SIMPLE" | "MUTUAL";
  serverCertificate?: string;
  privateKey?: string;
  /** MUTUAL: the CAs client certificates must chain to (with a credential: its `ca.crt`). */
  caCertificates?: string;
  credentialName?: string;
}

/** A weighted cluster of a TCP route (VirtualService `tcp`). */
export interface TcpDestination {
  cluster: string;
  weight: number;
}

/** A listener a Sidecar's egress asks for: HTTP (routed as outbound) or TCP (to one cluster). */
export interface EgressListener {
  /** `<namespace>/<Sidecar name>[<index>]`. */
  name: string;
  bind: string;
  port: number;
  protocol: "HTTP" | "TCP";
  /** For TCP: the cluster connections go to (absent when no service matches). */
  cluster?: string;
  /** For TCP: a VirtualService `tcp` route's weighted clusters, used instead of `cluster`. */
  destinations?: TcpDestination[];
  /** For HTTP: the routes of the services its `hosts` admit (the outbound listener's, narrowed). */
  virtualHosts?: VirtualHost[];
}

/**
 * Request path normalization (Istio's `ProxyPathNormalization.NormalizationType`; `DEFAULT`
 * is `BASE`): see `proxy/path_normalize.ts`.
 */
export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";

/** All a proxy needs; replaced whole on each push. */
export interface ProxyConfig {
  /** The control plane's snapshot revision this was generated from. */
  version: string;
  trustDomain: string;
  /**
   * MeshConfig `trustDomainAliases`: other trust domains whose SPIFFE IDs count as this mesh's
   * (a peer `spiffe://<alias>/ns/x/sa/y` is accepted where `spiffe://<trustDomain>/ns/x/sa/y`
   * is). Absent when there are none.
   */
  trustDomainAliases?: string[];
  /** Trusted roots, PEM bundle. */
  roots: string;
  /** SHA-256 (hex) of the root the CA signs under now; a proxy whose certificate chains elsewhere renews. */
  signingRoot?: string;
  /** What to do with traffic for hosts that aren't in the mesh's registry. */
  outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  /**
   * MeshConfig `pathNormalization.normalization`: how gateways and the inbound side normalize
   * request paths before routing and authorization (the app gets the same path). `BASE`
   * (Istio's default) when absent.
   */
  pathNormalization?: PathNormalization;
  /** Outbound (sidecar) virtual hosts. Empty for gateways. */
  virtualHosts: VirtualHost[];
  /** Gateway listeners. Empty for sidecars. */
  listeners: GatewayListener[];
  /** Sidecar egress listeners from a Sidecar resource (explicit ports, captureMode NONE). */
  egressListeners?: EgressListener[];
  clusters: Record<string, Cluster>;
  /** The inbound listener's mTLS mode (PeerAuthentication); STRICT when absent. */
  inboundMtls?: MtlsMode;
  /**
   * What the inbound side speaks to the app, from the ports of the services that select the
   * workload (Istio's inbound cluster protocol): `HTTP2` (h2c with prior knowledge) for a GRPC
   * or HTTP2 port, `CLIENT` (what the peer spoke) for a port that declares no protocol,
   * HTTP/1.1 when absent.
   */
  inboundProtocol?: "HTTP2" | "CLIENT";
  /**
   * JWT issuers whose tokens this proxy verifies (RequestAuthentications that select it),
   * on the inbound listener of a sidecar and the listeners of a gateway.
   */
  jwt?: JwtProvider[];
  /** AuthorizationPolicies that select this workload, enforced on its inbound listener. */
  authz?: AuthzPolicy[];
  /** Telemetry `metrics` overrides (metrics left out, tags removed or set); none: Istio's. */
  metrics?: MetricOverride[];
  /** Distributed tracing (Telemetry `tracing` with a zipkin provider); none when off. */
  tracing?: TracingSettings;
  /** Where to write access logs (MeshConfig `accessLogFile`); none when unset. */
  accessLog?: AccessLogSettings;
  /**
   * The readiness probe of the proxy's WorkloadGroup (`spec.probe`): the proxy runs it against
   * its app and reports the result, which decides whether its workload takes traffic.
   * Sidecars registered with `--workload-group` only.
   */
  healthProbe?: HealthProbe;
  /**
   * The services in the sidecar's scope by name and address (Istio's name table): what its
   * DNS proxy answers and how a captured connection's original destination maps to a
   * service. Sidecars only; absent when there are none.
   */
  names?: NameEntry[];
}

/**
 * One RequestAuthentication `jwtRules` entry as a proxy applies it. A request
 * with a token in one of the locations must carry a valid token of a
 * configured issuer (else 401); a request without one goes on without a
 * request identity.
 */
export interface JwtProvider {
  /** The tokens' `iss`; "" (a rule with only a `jwksUri`) takes any issuer the keys verify. */
  issuer: string;
  /** Accepted `aud` values; any when absent. */
  audiences?: string[];
  /**
   * The JSON Web Key Set as JSON text: inline `jwks`, or what the control plane fetched
   * from `jwksUri` (`{"keys":[]}` while that fails, so its tokens are refused).
   */
  jwks: string;
  /** Token locations; without any, `Authorization: Bearer` and the `access_token` parameter. */
  fromHeaders?: { name: string; prefix?: string }[];
  fromParams?: string[];
  fromCookies?: string[];
  /** Keep the token header on the forwarded request (it is removed by default). */
  forwardOriginalToken?: boolean;
  /** A header to carry the verified payload (base64url of its JSON). */
  outputPayloadToHeader?: string;
  /** Claims copied into headers. */
  outputClaimToHeaders?: { header: string; claim: string }[];
  /** Claims that hold space-separated lists (besides `scope` and `permission`). */
  spaceDelimitedClaims?: string[];
}

/**
 * Tracing as a proxy applies it: B3 headers propagated and, for sampled requests, Zipkin v2
 * spans sent to a collector (Istio's `zipkin` extension provider).
 */
export interface TracingSettings {
  /** Where spans go: a cluster of the mesh, or a plain address outside it. */
  collector: { cluster: string } | { address: string; port: number };
  /** The collector's path (default `/api/v2/spans`). */
  path: string;
  /** Share of new traces sampled, 0..100 (Istio's default: 1). */
  samplingPercent: number;
  /** The span's local service name (Istio: `<app label>.<namespace>`). */
  serviceName: string;
  /** Extra span tags: a literal, a request header, or an environment variable of the proxy. */
  customTags?: Record<string, TracingTag>;
  /** Tags longer than this are cut (the provider's `maxTagLength`, default 256). */
  maxTagLength: number;
  /** Propagate and decide sampling, but send no spans. */
  disableSpanReporting?: boolean;
}

/**
 * A Telemetry `metrics` override as a proxy applies it when metrics are read: a metric
 * (Istio's name, e.g. `REQUEST_COUNT`, or `ALL_METRICS`) on the client side, the server side
 * or both is left out, or has tags removed or set.
 */
export interface MetricOverride {
  metric: string;
  mode: "CLIENT_AND_SERVER" | "CLIENT" | "SERVER";
  disabled?: boolean;
  /** Tags to remove (`remove`), or to set to a fixed value. */
  tags?: Record<string, { remove: true } | { value: string }>;
}

/** A custom span tag (Telemetry `customTags`). */
export type TracingTag =
  | { literal: string }
  | { header: string; defaultValue?: string }
  | { environment: string; defaultValue?: string };

/** Access logging, as Istio's MeshConfig `accessLogFile` and `accessLogEncoding`. */
export interface AccessLogSettings {
  /** `/dev/stdout`, `/dev/stderr`, or a file the proxy appends to. */
  path: string;
  encoding: "TEXT" | "JSON";
}

/**
 * An AuthorizationPolicy as the inbound listener enforces it. A policy
 * matches a request when any rule does; a rule when its `from` (any
 * source), `to` (any operation) and every `when` condition match. Strings
 * match Istio's way: exact, `prefix*`, `*suffix`, or `*`.
 */
export interface AuthzPolicy {
  /** `<namespace>/<name>`. */
  name: string;
  action: "ALLOW" | "DENY";
  rules: AuthzRule[];
  /**
   * A dry run (`istio.io/dry-run`): evaluated and logged, never enforced (Istio's shadow
   * rules).
   */
  dryRun?: boolean;
}

/** One rule of an {@linkcode AuthzPolicy}. */
export interface AuthzRule {
  from?: AuthzSource[];
  to?: AuthzOperation[];
  when?: AuthzCondition[];
}

/**
 * Who: the peer's identity (principal `td/ns/x/sa/y`, namespace), address, and the
 * request's JWT identity (`iss/sub`, from RequestAuthentication).
 */
export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
}

/** What: the request's host, port, method and path. */
export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

/** An extra condition on a request attribute (`request.headers[x]`, `source.principal`, ...). */
export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

/** Istio's cluster name for a service port and subset. */
export function clusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ""}|${host}`;
}

/** What a proxy tells the control plane about itself when it opens the push stream. */
export interface NodeInfo {
  /** Unique per proxy process, e.g. `sidecar~127.0.0.1~reviews-v1-1a2b.default`. */
  id: string;
  mode: "sidecar" | "gateway";
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** The address peers reach this workload at. */
  address: string;
  /** Port of the mTLS inbound listener (sidecars). */
  inboundPort?: number;
  /** Port the application listens on (sidecars). */
  appPort?: number;
  /** Workload name for auto-registration; defaults to the node id. */
  workloadName?: string;
  /**
   * The WorkloadGroup (in `namespace`) this proxy registers its workload under
   * (`--workload-group`, Istio's auto-registration): the group's template gives the
   * WorkloadEntry's labels and ports, and its probe decides the entry's health.
   */
  workloadGroup?: string;
  /**
   * Where the proxy runs, `region/zone/subzone` (`--locality`): its registered workload's
   * locality. The proxy balances by it too (its own copy, not the control plane's).
   */
  locality?: string;
}

/** A message on the push stream, control → proxy, one JSON object per line. */
export type PushMessage =
  | { type: "config"; config: ProxyConfig }
  | { type: "error"; message: string };

/**
 * A message on the push stream, proxy → control, one JSON object per line (the hello; acks
 * and nacks of protocol 2 are in api/push_protocol.ts).
 */
export type ProxyMessage =
  | {
    type: "hello";
    node: NodeInfo;
    /** The push protocol the proxy speaks (2: parts); absent: whole configs. */
    protocol?: number;
    /** The part versions the proxy serves (a reconnect). */
    have?: Record<string, string>;
  }
  | { type: "ack"; version: string; certRoot?: string }
  | { type: "nack"; version: string; error: string }
  /** The WorkloadGroup probe's result changed (and after each hello, once it has one). */
  | { type: "health"; healthy: boolean; message?: string };
