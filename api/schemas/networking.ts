/**
 * `networking.istio.io` kinds: VirtualService, DestinationRule, Gateway, ServiceEntry,
 * WorkloadEntry, Sidecar and WorkloadGroup. Every field of Istio's API is typed; the semantic
 * checks follow Istio's validation. Fields mesh doesn't enforce are listed in the `UNSUPPORTED_*`
 * constants and warned about.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkLabels,
  checkOneOf,
  checkSelectorLabels,
  checkUnique,
  countSet,
  duration,
  formatted,
  headerNameProblem,
  headerValueProblem,
  HOST_HINT,
  int32,
  intRange,
  isDns1123Label,
  isDns1123Subdomain,
  isHostname,
  isHttpProtocol,
  isIP,
  isIPOrCIDR,
  isTlsProtocol,
  isWildcardHost,
  labelMap,
  namespacedHostProblem,
  nonEmptyList,
  nonNegativeInt32,
  NOT_SUPPORTED,
  numberRange,
  type Path,
  percentValue,
  portNumber,
  protocol,
  PROTOCOLS,
  quote,
  regex,
  type Reporter,
  SIMPLE_HEADER_NAME,
  stringList,
  uint32,
  uint64,
  unixAddressProblem,
  warnUnsupported,
  workloadSelector,
} from "./common.ts";

export { PROTOCOLS };

// ---------------------------------------------------------------------------------------------
// What mesh enforces: everything else of these kinds is warned about.

const UNSUPPORTED_L4_MATCH = ["destinationSubnets", "sourceSubnet"] as const;
const UNSUPPORTED_HTTP_ROUTE: readonly string[] = [];
const UNSUPPORTED_MATCH = ["statPrefix"] as const;
const UNSUPPORTED_DR = ["workloadSelector"] as const;
const UNSUPPORTED_TRAFFIC_POLICY = [
  "tunnel",
  "proxyProtocol",
  "retryBudget",
] as const;
const UNSUPPORTED_POOL_TCP = [
  "tcpKeepalive",
  "maxConnectionDuration",
  "idleTimeout",
] as const;
const UNSUPPORTED_POOL_HTTP = [
  "maxRetries",
  "idleTimeout",
  "h2UpgradePolicy",
  "useClientProtocol",
  "maxConcurrentStreams",
  "http2KeepAlive",
] as const;
const UNSUPPORTED_OUTLIER = [
  "interval",
  "splitExternalLocalOriginErrors",
  "consecutiveLocalOriginFailures",
  "outlierDetectionHttpErrorCodes",
] as const;
/** Consistent-hash tuning mesh doesn't take (its ring has 256 points per endpoint). */
const UNSUPPORTED_HASH = ["ringHash", "maglev", "minimumRingSize"] as const;
const UNSUPPORTED_LB = [
  "localityLbSetting",
  "zoneAwareLbSetting",
  "warmupDurationSecs",
  "warmup",
] as const;
const UNSUPPORTED_TLS = ["credentialName", "caCrl"] as const;
const UNSUPPORTED_SERVER = ["bind", "defaultEndpoint"] as const;
/** Server TLS fields a gateway doesn't use with mode SIMPLE (it serves one certificate). */
const UNSUPPORTED_SERVER_TLS = [
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
] as const;
const UNSUPPORTED_SE = ["subjectAltNames", "addresses"] as const;
const UNSUPPORTED_WE = ["network", "locality", "weight", "serviceAccount"] as const;

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Match on a string: exactly one of the three is set (none for a header presence match). */
export interface StringMatch {
  /** Exact string match. */
  exact?: string;
  /** Prefix match. */
  prefix?: string;
  /** Regular expression match, RE2 syntax (the whole value must match). */
  regex?: string;
}

const stringMatch: z.ZodType<StringMatch> = z.strictObject({
  exact: z.string().optional(),
  prefix: z.string().optional(),
  regex: regex().optional(),
});

/** A port on the destination host. */
export interface PortSelector {
  /** 1..65535. */
  number: number;
}

/** Where traffic goes: a service host, optionally a subset and a port. */
export interface Destination {
  /** Service host name (short name, or FQDN). */
  host: string;
  /** Name of a subset declared in the host's DestinationRule. */
  subset?: string;
  /** Port on the host; needed only when the service exposes several ports. */
  port?: PortSelector;
}

const portSelector: z.ZodType<PortSelector> = z.strictObject({ number: portNumber });

const destination: z.ZodType<Destination> = z.strictObject({
  host: formatted(
    isHostname,
    (v) => `invalid destination host ${quote(v)}; use a service name like reviews or an FQDN`,
  ),
  subset: formatted(
    isDns1123Label,
    (v) => `invalid subset name ${quote(v)}; subset names are DNS labels like v1`,
  ).optional(),
  port: portSelector.optional(),
});

const headerOperations = z.strictObject({
  set: labelMap.optional(),
  add: labelMap.optional(),
  remove: stringList.optional(),
});

const headers = z.strictObject({
  request: headerOperations.optional(),
  response: headerOperations.optional(),
});
/** Request and response header manipulation. */
export type HeaderOperations = z.infer<typeof headers>;

const percent = z.strictObject({ value: percentValue.optional() });
/** A fraction of traffic, 0..100. */
export type Percent = z.infer<typeof percent>;

/** A label map that must hold valid Kubernetes labels. */
const labels = labelMap;

/** The networking WorkloadSelector: `{labels}`. */
const networkingSelector = z.strictObject({ labels: labels.optional() });

// ---------------------------------------------------------------------------------------------
// VirtualService

/** A weighted destination of an HTTP route. */
export interface HTTPRouteDestination {
  destination: Destination;
  /** Share of traffic, 0..100; the weights of one route sum to 100. */
  weight?: number;
  /** Header changes when this destination is picked. */
  headers?: HeaderOperations;
}

const weight = intRange(0, 100);

const httpRouteDestination: z.ZodType<HTTPRouteDestination> = z.strictObject({
  destination,
  weight: weight.optional(),
  headers: headers.optional(),
});

const routeDestination = z.strictObject({ destination, weight: weight.optional() });
/** A weighted destination of a TCP or TLS route. */
export type RouteDestination = z.infer<typeof routeDestination>;

/** Conditions of an HTTP route; all set fields must match (the match entries of a route OR). */
export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  /** Keyed by lowercase header name; an empty match tests for presence. */
  headers?: Record<string, StringMatch>;
  method?: StringMatch;
  authority?: StringMatch;
  /** Port the request arrived on. */
  port?: number;
  queryParams?: Record<string, StringMatch>;
  scheme?: StringMatch;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  statPrefix?: string;
}

const httpMatchRequest: z.ZodType<HTTPMatchRequest> = z.strictObject({
  name: z.string().optional(),
  uri: stringMatch.optional(),
  scheme: stringMatch.optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  headers: z.record(z.string(), stringMatch).optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  queryParams: z.record(z.string(), stringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string(), stringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});

const httpRedirect = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: portNumber.optional(),
  derivePort: z.enum(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]).optional(),
  scheme: z.string().optional(),
  redirectCode: uint32.optional(),
  prefixRewrite: z.string().optional(),
});
/** An HTTP redirect response. */
export type HTTPRedirect = z.infer<typeof httpRedirect>;

const httpDirectResponse = z.strictObject({
  status: uint32,
  body: z.strictObject({ string: z.string().optional(), bytes: z.string().optional() })
    .optional(),
});
/** A fixed response. */
export type HTTPDirectResponse = z.infer<typeof httpDirectResponse>;

const delegate = z.strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
});
/** A VirtualService an HTTP route delegates to. */
export type Delegate = z.infer<typeof delegate>;

const httpRewrite = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: z.strictObject({
    match: regex().optional(),
    rewrite: z.string().optional(),
  }).optional(),
});
/** Rewrites of the URI and authority before forwarding. */
export type HTTPRewrite = z.infer<typeof httpRewrite>;

const httpRetry = z.strictObject({
  attempts: int32.optional(),
  perTryTimeout: duration().optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: duration().optional(),
});
/** Retry policy of an HTTP route. */
export type HTTPRetry = z.infer<typeof httpRetry>;

const httpFaultInjection = z.strictObject({
  delay: z.strictObject({
    percent: intRange(0, 100).optional(),
    fixedDelay: duration().optional(),
    exponentialDelay: duration().optional(),
    percentage: percent.optional(),
  }).optional(),
  abort: z.strictObject({
    httpStatus: int32.optional(),
    grpcStatus: z.string().optional(),
    http2Error: z.string().optional(),
    percentage: percent.optional(),
  }).optional(),
});
/** Fault injection of an HTTP route. */
export type HTTPFaultInjection = z.infer<typeof httpFaultInjection>;

const httpMirrorPolicy = z.strictObject({ destination, percentage: percent.optional() });
/** One mirror destination. */
export type HTTPMirrorPolicy = z.infer<typeof httpMirrorPolicy>;

const corsPolicy = z.strictObject({
  allowOrigin: stringList.optional(),
  allowOrigins: z.array(stringMatch).optional(),
  allowMethods: stringList.optional(),
  allowHeaders: stringList.optional(),
  exposeHeaders: stringList.optional(),
  maxAge: duration({ precision: "s" }).optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(["UNSPECIFIED", "FORWARD", "IGNORE"]).optional(),
});
/** CORS policy of an HTTP route. */
export type CorsPolicy = z.infer<typeof corsPolicy>;

/** One HTTP route of a VirtualService; the first route whose match matches wins. */
export interface HTTPRoute {
  name?: string;
  /** Absent means "match everything". */
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: Delegate;
  rewrite?: HTTPRewrite;
  /** A duration such as `10s`. */
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrors?: HTTPMirrorPolicy[];
  mirrorPercentage?: Percent;
  mirrorPercent?: number;
  mirror_percent?: number;
  corsPolicy?: CorsPolicy;
  headers?: HeaderOperations;
}

const httpRoute: z.ZodType<HTTPRoute> = z.strictObject({
  name: z.string().optional(),
  match: z.array(httpMatchRequest).optional(),
  route: z.array(httpRouteDestination).optional(),
  redirect: httpRedirect.optional(),
  directResponse: httpDirectResponse.optional(),
  delegate: delegate.optional(),
  rewrite: httpRewrite.optional(),
  timeout: duration().optional(),
  retries: httpRetry.optional(),
  fault: httpFaultInjection.optional(),
  mirror: destination.optional(),
  mirrors: z.array(httpMirrorPolicy).optional(),
  mirrorPercentage: percent.optional(),
  mirrorPercent: uint32.optional(),
  mirror_percent: uint32.optional(),
  corsPolicy: corsPolicy.optional(),
  headers: headers.optional(),
});

const l4Match = z.strictObject({
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});

const tlsMatch = z.strictObject({
  sniHosts: nonEmptyList(z.string(), "sniHosts must list at least one host"),
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});

const tlsRoute = z.strictObject({
  match: nonEmptyList(tlsMatch, "a TLS route needs at least one match with sniHosts"),
  route: z.array(routeDestination).optional(),
});
/** A TLS (SNI) route of a VirtualService. */
export type TLSRoute = z.infer<typeof tlsRoute>;

const tcpRoute = z.strictObject({
  match: z.array(l4Match).optional(),
  route: z.array(routeDestination).optional(),
});
/** A TCP route of a VirtualService. */
export type TCPRoute = z.infer<typeof tcpRoute>;

/** `spec` of a VirtualService. */
export interface VirtualServiceSpec {
  /** Hosts the routes apply to (at least one). */
  hosts: string[];
  /** Gateways (`name` or `namespace/name`) and/or `mesh`; absent means `mesh` only. */
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}

/** VirtualService `gateways` entries: `mesh`, `name` or `namespace/name`. */
function isGatewayRef(s: string): boolean {
  if (s === "mesh") return true;
  const slash = s.indexOf("/");
  if (slash < 0) return isDns1123Subdomain(s);
  return isDns1123Label(s.slice(0, slash)) && isDns1123Subdomain(s.slice(slash + 1));
}

const gatewayRef = formatted(
  isGatewayRef,
  (v) => `invalid gateway ${quote(v)}; use a Gateway name, namespace/name, or mesh`,
);

/** The schema of a VirtualService `spec`. */
export const virtualServiceSpec: z.ZodType<VirtualServiceSpec> = z.strictObject({
  // No hosts: a delegate VirtualService, whose routes a root's `delegate` takes in.
  hosts: z.array(
    formatted((s) => isWildcardHost(s) || isIP(s), (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
  ).default([]),
  gateways: z.array(gatewayRef).optional(),
  http: z.array(httpRoute).optional(),
  tls: z.array(tlsRoute).optional(),
  tcp: z.array(tcpRoute).optional(),
  exportTo: stringList.optional(),
});

/** Retry conditions Envoy knows, besides HTTP status codes. */
const RETRY_ON = new Set([
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
/** HTTP retry conditions mesh doesn't detect (the gRPC and HTTP/2 ones can't happen here). */
const UNSUPPORTED_RETRY_ON = new Set(["retriable-headers", "envoy-ratelimited"]);
const HTTP_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
]);
const GRPC_STATUS = new Set([
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
]);
const JWT_CLAIM_HEADER = "@request.auth.claims.";

/** Checks a VirtualService spec (structure already valid). */
export function checkVirtualService(
  spec: VirtualServiceSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
  if (spec.hosts.length === 0) {
    // A delegate: only HTTP routes, no gateways, and no further delegation (Istio's rules).
    if (spec.gateways?.length) {
      r.error([...base, "gateways"], "a delegate VirtualService (no hosts) can't set gateways");
    }
    for (const k of ["tls", "tcp"] as const) {
      if (spec[k]?.length) {
        r.error([...base, k], `a delegate VirtualService (no hosts) can only have http routes`);
      }
    }
    spec.http?.forEach((h, i) => {
      if (h.delegate) {
        r.error(
          [...base, "http", i, "delegate"],
          "a delegate VirtualService can't delegate again; only one level is supported",
        );
      }
    });
  }
  const gateways = spec.gateways ?? [];
  const appliesToMesh = gateways.length === 0 || gateways.includes("mesh");
  if (appliesToMesh && spec.hosts.length && spec.tls?.length) {
    r.warn(
      [...base, "tls"],
      `tls routes for sidecars (mesh) are ${NOT_SUPPORTED} (they apply to gateways with TLS ` +
        "PASSTHROUGH servers)",
    );
  }
  spec.hosts.forEach((host, i) => {
    if (host === "*" && appliesToMesh) {
      r.error(
        [...base, "hosts", i],
        `"*" is only allowed when the VirtualService is bound to gateways; ` +
          "list the service's hosts, or set gateways",
      );
    }
    const earlier = spec.hosts.findIndex((h, j) =>
      j < i && (h === host || (h.startsWith("*") && hostCovers(h, host)) ||
        (host.startsWith("*") && hostCovers(host, h)))
    );
    if (earlier >= 0) {
      r.error(
        [...base, "hosts", i],
        `host ${quote(host)} overlaps hosts[${earlier}] ${quote(spec.hosts[earlier])}; ` +
          "list each host once",
      );
    }
  });
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    r.error(base, "no routes; add at least one entry under http");
  }
  checkUnique(spec.http, (h) => h.name, (i) => [...base, "http", i, "name"], "route name", r);
  spec.http?.forEach((route, i) => checkHttpRoute(route, [...base, "http", i], r, appliesToMesh));
  spec.tls?.forEach((route, i) => {
    const path = [...base, "tls", i];
    route.match.forEach((m, j) => {
      const at = [...path, "match", j];
      m.sniHosts.forEach((sni, k) => {
        const covered = spec.hosts.some((h) => h === sni || hostCovers(h, sni));
        if (!isWildcardHost(sni) || sni === "*") {
          r.error([...at, "sniHosts", k], `invalid SNI host ${quote(sni)}; use a DNS name`);
        } else if (!covered) {
          r.error(
            [...at, "sniHosts", k],
            `SNI host ${quote(sni)} is not one of the VirtualService's hosts ` +
              `(${spec.hosts.join(", ")}); add it to hosts or fix the name`,
          );
        }
      });
      checkL4Match(m, at, r);
      warnUnsupported(m, ["destinationSubnets"], at, r);
    });
    checkRouteDestinations(route.route, [...path, "route"], r, "TLS route");
  });
  spec.tcp?.forEach((route, i) => {
    const path = [...base, "tcp", i];
    route.match?.forEach((m, j) => {
      checkL4Match(m, [...path, "match", j], r);
      warnUnsupported(m, UNSUPPORTED_L4_MATCH, [...path, "match", j], r);
      if (m.sourceSubnet !== undefined && !isIPOrCIDR(m.sourceSubnet)) {
        r.error(
          [...path, "match", j, "sourceSubnet"],
          `invalid subnet ${quote(m.sourceSubnet)}; use an IP address or CIDR block`,
        );
      }
    });
    checkRouteDestinations(route.route, [...path, "route"], r, "TCP route");
  });
}

/** Whether wildcard `pattern` (`*` or `*.suffix`) covers `host`. */
function hostCovers(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  return pattern.startsWith("*.") && host.endsWith(pattern.slice(1)) && host !== pattern;
}

function checkL4Match(
  m: z.infer<typeof l4Match> | z.infer<typeof tlsMatch>,
  path: Path,
  r: Reporter,
): void {
  m.destinationSubnets?.forEach((s, i) => {
    if (!isIPOrCIDR(s)) {
      r.error(
        [...path, "destinationSubnets", i],
        `invalid subnet ${quote(s)}; use an IP address or CIDR block like 10.0.0.0/16`,
      );
    }
  });
  checkLabels(m.sourceLabels, [...path, "sourceLabels"], r);
  m.gateways?.forEach((g, i) => {
    if (!isGatewayRef(g)) {
      r.error([...path, "gateways", i], `invalid gateway ${quote(g)}; use namespace/name or mesh`);
    }
  });
  if (m.sourceNamespace !== undefined && !isDns1123Label(m.sourceNamespace)) {
    r.error([...path, "sourceNamespace"], `invalid namespace ${quote(m.sourceNamespace)}`);
  }
}

function checkRouteDestinations(
  destinations: readonly RouteDestination[] | undefined,
  path: Path,
  r: Reporter,
  what: string,
): void {
  if (!destinations?.length) {
    r.error(path, `no destination; a ${what} needs at least one entry under route`);
    return;
  }
  checkWeights(destinations, path, r);
}

function checkWeights(
  destinations: readonly { weight?: number }[],
  path: Path,
  r: Reporter,
): void {
  const weighted = destinations.some((d) => d.weight !== undefined);
  if (destinations.length > 1 || weighted) {
    const sum = destinations.reduce((total, d) => total + (d.weight ?? 0), 0);
    if (!weighted) {
      r.error(
        path,
        `${destinations.length} destinations but no weights; give each a weight so they sum to 100`,
      );
    } else if (sum !== 100) {
      r.error(path, `weights sum to ${sum}; they must sum to 100`);
    }
  }
}

function checkHttpRoute(
  route: HTTPRoute,
  path: Path,
  r: Reporter,
  appliesToMesh: boolean,
): void {
  warnUnsupported(route, UNSUPPORTED_HTTP_ROUTE, path, r);
  route.match?.forEach((m, i) => checkMatch(m, [...path, "match", i], r, appliesToMesh));

  const destinations = route.route ?? [];
  const actions = countSet(route, ["redirect", "directResponse", "delegate"]);
  if (destinations.length > 0) actions.unshift("route");
  if (actions.length > 1) {
    r.error([...path, actions[1]], `${actions[0]} and ${actions[1]} can't both be set; keep one`);
  } else if (actions.length === 0) {
    r.error(
      [...path, "route"],
      "no destination; add at least one entry under route (or a redirect or directResponse)",
    );
  }
  for (const field of ["fault", "rewrite"] as const) {
    if (route.redirect !== undefined && route[field] !== undefined) {
      r.error([...path, field], `redirect and ${field} can't both be set; a redirect is final`);
    }
  }
  destinations.forEach((d, i) => {
    const at = [...path, "route", i];
    checkHeaderOperations(d.headers, [...at, "headers"], r);
  });
  if (destinations.length > 0) checkWeights(destinations, [...path, "route"], r);
  checkHeaderOperations(route.headers, [...path, "headers"], r);

  if (route.redirect) checkRedirect(route.redirect, [...path, "redirect"], r);
  if (route.directResponse) {
    const at = [...path, "directResponse"];
    const { status, body } = route.directResponse;
    if (status < 200 || status > 599) {
      r.error([...at, "status"], `HTTP status ${status} is not in the range 200..599`);
    }
    if (body) {
      checkOneOf(body, ["string", "bytes"], [...at, "body"], r);
      if (body.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.bytes)) {
        r.error([...at, "body", "bytes"], "bytes must be base64-encoded");
      }
      const size = (body.string ?? body.bytes ?? "").length;
      if (size > 1024 * 1024) {
        r.error([...at, "body"], "the body must be smaller than 1 MB");
      } else if (size > 100 * 1024) {
        r.warn([...at, "body"], "bodies over 100 kB slow the control plane down");
      }
    }
  }
  if (route.delegate) {
    const { name, namespace } = route.delegate;
    if (!name || !isDns1123Subdomain(name)) {
      r.error([...path, "delegate", "name"], "set name to the delegate VirtualService's name");
    }
    if (namespace !== undefined && !isDns1123Label(namespace)) {
      r.error([...path, "delegate", "namespace"], `invalid namespace ${quote(namespace)}`);
    }
  }
  if (route.rewrite) {
    const at = [...path, "rewrite"];
    const rw = route.rewrite;
    if (rw.uri !== undefined && rw.uriRegexRewrite !== undefined) {
      r.error([...at, "uriRegexRewrite"], "uri and uriRegexRewrite can't both be set; keep one");
    }
    if (rw.uri === undefined && rw.uriRegexRewrite === undefined && rw.authority === undefined) {
      r.error(at, "empty rewrite; set uri, uriRegexRewrite or authority");
    }
    if (
      rw.uriRegexRewrite && (!rw.uriRegexRewrite.match || rw.uriRegexRewrite.rewrite === undefined)
    ) {
      r.error([...at, "uriRegexRewrite"], "uriRegexRewrite needs both match and rewrite");
    }
  }
  if (route.retries) checkRetries(route.retries, [...path, "retries"], r);
  if (route.fault) checkFault(route.fault, [...path, "fault"], r);
  route.mirrors?.forEach((m, i) => {
    if (m.percentage?.value !== undefined) {
      checkPercentage(m.percentage.value, [...path, "mirrors", i, "percentage", "value"], r);
    }
  });
  for (const field of ["mirrorPercent", "mirror_percent"] as const) {
    const value = route[field];
    if (value === undefined) continue;
    if (value > 100) r.error([...path, field], `must be at most 100; got ${value}`);
    else r.warn([...path, field], `${field} is deprecated; use mirrorPercentage`);
  }
  if (route.corsPolicy) checkCors(route.corsPolicy, [...path, "corsPolicy"], r);
}

function checkPercentage(value: number, path: Path, r: Reporter): void {
  if (value > 0 && value < 0.0001) {
    r.error(path, `percentage ${value} is too small; use 0 or a value from 0.0001 to 100`);
  }
}

function checkRedirect(redirect: HTTPRedirect, path: Path, r: Reporter): void {
  checkOneOf(redirect, ["port", "derivePort"], path, r);
  if (countSet(redirect, ["uri", "authority", "port", "derivePort", "scheme"]).length === 0) {
    r.error(path, "empty redirect; set uri, authority, scheme or port");
  }
  const code = redirect.redirectCode;
  if (code !== undefined && code !== 0 && (code < 300 || code > 399)) {
    r.error(
      [...path, "redirectCode"],
      `${code} is not a redirect code; use 301, 302, 303, 307 or 308`,
    );
  }
  if (redirect.scheme !== undefined && redirect.scheme !== "http" && redirect.scheme !== "https") {
    r.error([...path, "scheme"], `scheme must be "http" or "https"; got ${quote(redirect.scheme)}`);
  }
}

/** Warning for a fault without a percentage, which (as in Istio) applies to no request. */
const NO_PERCENTAGE = (what: string) =>
  `no percentage: as in Istio, no request will be ${what}; set percentage.value (e.g. 100)`;

function checkFault(fault: HTTPFaultInjection, path: Path, r: Reporter): void {
  if (!fault.delay && !fault.abort) {
    r.error(path, "empty fault; set delay and/or abort");
  }
  if (fault.delay) {
    const at = [...path, "delay"];
    checkOneOf(fault.delay, ["fixedDelay", "exponentialDelay"], at, r, true);
    if (fault.delay.exponentialDelay !== undefined) {
      r.error(
        [...at, "exponentialDelay"],
        "exponentialDelay is not supported by Istio; use fixedDelay",
      );
    }
    if (fault.delay.percentage?.value !== undefined) {
      checkPercentage(fault.delay.percentage.value, [...at, "percentage", "value"], r);
    } else if (fault.delay.percent === undefined) {
      r.warn(at, NO_PERCENTAGE("delayed"));
    }
  }
  if (fault.abort) {
    const at = [...path, "abort"];
    const set = countSet(fault.abort, ["httpStatus", "grpcStatus", "http2Error"]);
    if (set.length > 1) {
      r.error([...at, set[1]], `${set.join(" and ")} can't both be set; keep one`);
    } else if (set.length === 0) {
      r.warn(at, "abort has no error type; set httpStatus or grpcStatus");
    }
    const { httpStatus, grpcStatus, http2Error } = fault.abort;
    if (fault.abort.percentage?.value === undefined) r.warn(at, NO_PERCENTAGE("aborted"));
    if (grpcStatus !== undefined) r.warn([...at, "grpcStatus"], `gRPC aborts are ${NOT_SUPPORTED}`);
    if (httpStatus !== undefined && (httpStatus < 200 || httpStatus > 599)) {
      r.error([...at, "httpStatus"], `HTTP status ${httpStatus} is not in the range 200..599`);
    }
    if (grpcStatus !== undefined && !GRPC_STATUS.has(grpcStatus)) {
      r.error(
        [...at, "grpcStatus"],
        `unknown gRPC status ${quote(grpcStatus)}; use a name like NOT_FOUND or UNAVAILABLE`,
      );
    }
    if (http2Error !== undefined) {
      r.error(
        [...at, "http2Error"],
        "http2Error aborts are not supported by Istio; use httpStatus",
      );
    }
    if (fault.abort.percentage?.value !== undefined) {
      checkPercentage(fault.abort.percentage.value, [...at, "percentage", "value"], r);
    }
  }
}

function checkCors(cors: CorsPolicy, path: Path, r: Reporter): void {
  cors.allowOrigins?.forEach((sm, i) => {
    const at = [...path, "allowOrigins", i];
    const set = countSet(sm, ["exact", "prefix", "regex"]);
    if (set.length !== 1 || (sm.exact ?? sm.prefix ?? sm.regex) === "") {
      r.error(at, "each allowOrigins entry sets exactly one non-empty exact, prefix or regex");
    }
  });
  cors.allowMethods?.forEach((m, i) => {
    if (!HTTP_METHODS.has(m)) {
      r.error(
        [...path, "allowMethods", i],
        `${quote(m)} is not an HTTP method; use upper case like GET or POST`,
      );
    }
  });
  for (const field of ["allowHeaders", "exposeHeaders"] as const) {
    cors[field]?.forEach((h, i) => {
      if (h !== "*" && !SIMPLE_HEADER_NAME.test(h)) {
        r.error([...path, field, i], `invalid header name ${quote(h)}`);
      }
    });
  }
}

function checkHeaderOperations(ops: HeaderOperations | undefined, path: Path, r: Reporter): void {
  for (const side of ["request", "response"] as const) {
    const op = ops?.[side];
    if (!op) continue;
    for (const kind of ["set", "add"] as const) {
      for (const [name, value] of Object.entries(op[kind] ?? {})) {
        const at = [...path, side, kind, name];
        const problem = headerOperationProblem(name, side) ?? headerValueProblem(value);
        if (problem) r.error(at, problem);
      }
    }
    op.remove?.forEach((name, i) => {
      const problem = headerOperationProblem(name, "response");
      if (problem) r.error([...path, side, "remove", i], problem);
    });
  }
}

function headerOperationProblem(name: string, side: "request" | "response"): string | undefined {
  if (name === "") return "header names may not be empty";
  const lower = name.toLowerCase();
  const authority = lower === ":authority" || lower === "host";
  if (side === "request" && authority) return undefined;
  if (lower === "host") return "the Host header can't be changed here; use rewrite.authority";
  if (name.startsWith(":")) return `pseudo-header ${quote(name)} can't be changed`;
  return undefined;
}

function checkMatch(m: HTTPMatchRequest, path: Path, r: Reporter, appliesToMesh: boolean): void {
  warnUnsupported(m, UNSUPPORTED_MATCH, path, r);
  for (const field of ["uri", "method", "authority", "scheme"] as const) {
    const sm = m[field];
    if (sm) checkStringMatch(sm, [...path, field], false, r);
  }
  for (const field of ["headers", "withoutHeaders"] as const) {
    for (const [name, sm] of Object.entries(m[field] ?? {})) {
      const at = [...path, field, name];
      if (name.startsWith(JWT_CLAIM_HEADER) && name.length > JWT_CLAIM_HEADER.length) {
        if (appliesToMesh) {
          r.error(at, "JWT claim routing works only for VirtualServices bound to gateways");
        } else {
          r.warn(at, `JWT claim routing is ${NOT_SUPPORTED}`);
        }
      } else {
        const problem = headerNameProblem(name);
        if (problem) r.error(at, problem);
      }
      checkStringMatch(sm, at, true, r);
    }
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    checkStringMatch(sm, [...path, "queryParams", name], true, r);
  }
  checkLabels(m.sourceLabels, [...path, "sourceLabels"], r);
  if (m.sourceNamespace !== undefined && !isDns1123Label(m.sourceNamespace)) {
    r.error([...path, "sourceNamespace"], `invalid namespace ${quote(m.sourceNamespace)}`);
  }
  m.gateways?.forEach((g, i) => {
    if (!isGatewayRef(g)) {
      r.error([...path, "gateways", i], `invalid gateway ${quote(g)}; use namespace/name or mesh`);
    }
  });
}

function checkStringMatch(sm: StringMatch, path: Path, allowEmpty: boolean, r: Reporter): void {
  const set = countSet(sm, ["exact", "prefix", "regex"]);
  if (set.length > 1) {
    r.error(path, `set only one of exact, prefix or regex; found ${set.join(" and ")}`);
  } else if (set.length === 0 && !allowEmpty) {
    r.error(path, "empty match; set one of exact, prefix or regex");
  }
}

// ---------------------------------------------------------------------------------------------
// DestinationRule

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

const connectionPool = z.strictObject({
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

const trafficPolicy: z.ZodType<TrafficPolicy> = z.strictObject({
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
  portLevelSettings: z.array(portTrafficPolicy).optional(),
  tunnel: tunnel.optional(),
  proxyProtocol: z.strictObject({ version: z.enum(["V1", "V2"]).optional() }).optional(),
  retryBudget: retryBudget.optional(),
});

/** A named set of a service's endpoints, selected by labels. */
export interface Subset {
  /** DNS-1123 label, unique within the rule. */
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

const subset: z.ZodType<Subset> = z.strictObject({
  name: formatted(
    isDns1123Label,
    (v) =>
      `invalid subset name ${quote(v)}; use lowercase letters, digits and '-' ` +
      "(at most 63, starting and ending with a letter or digit)",
  ),
  labels: labels.optional(),
  trafficPolicy: trafficPolicy.optional(),
});

/** `spec` of a DestinationRule. */
export interface DestinationRuleSpec {
  /** The service the rule applies to. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

/** The schema of a DestinationRule `spec`. */
export const destinationRuleSpec: z.ZodType<DestinationRuleSpec> = z.strictObject({
  host: formatted(isWildcardHost, (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
  exportTo: stringList.optional(),
  workloadSelector: workloadSelector.optional(),
});

/** Checks retry settings (a route's `retries`, MeshConfig `defaultHttpRetryPolicy`). */
export function checkRetries(rt: HTTPRetry, at: Path, r: Reporter): void {
  const attempts = rt.attempts ?? 0;
  if (attempts < 0) r.error([...at, "attempts"], "attempts may not be negative");
  if (rt.retryRemoteLocalities !== undefined) {
    r.warn([...at, "retryRemoteLocalities"], `localities are ${NOT_SUPPORTED}`);
  }
  if (
    attempts === 0 &&
    (rt.perTryTimeout !== undefined || rt.retryOn !== undefined ||
      rt.retryRemoteLocalities !== undefined)
  ) {
    r.error(
      [...at, "attempts"],
      "retry settings are set but attempts is 0 (retries disabled); set attempts",
    );
  }
  rt.retryOn?.split(",").forEach((policy) => {
    const status = Number(policy);
    const isStatus = /^\d{3}$/.test(policy) && status >= 100 && status <= 599;
    if (UNSUPPORTED_RETRY_ON.has(policy)) {
      r.warn([...at, "retryOn"], `retry condition ${quote(policy)} is ${NOT_SUPPORTED}`);
    }
    if (!isStatus && !RETRY_ON.has(policy)) {
      r.error(
        [...at, "retryOn"],
        `${quote(policy)} is not a retry condition; use e.g. 5xx, gateway-error, reset, ` +
          "connect-failure, retriable-4xx or an HTTP status code",
      );
    }
  });
}

/** Checks a DestinationRule spec. */
export function checkDestinationRule(
  spec: DestinationRuleSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_DR, base, r);
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
  if (spec.workloadSelector) {
    checkSelectorLabels(
      spec.workloadSelector.matchLabels,
      [...base, "workloadSelector", "matchLabels"],
      r,
    );
    if (spec.exportTo?.some((e) => e !== "." && e !== ctx.namespace)) {
      r.error(
        [...base, "exportTo"],
        "a DestinationRule with a workloadSelector can only be exported to its own namespace",
      );
    }
  }
  if (spec.trafficPolicy) {
    checkTrafficPolicy(spec.trafficPolicy, [...base, "trafficPolicy"], r, true);
  }
  spec.subsets?.forEach((s, i) => {
    const path = [...base, "subsets", i];
    checkLabels(s.labels, [...path, "labels"], r);
    if (s.trafficPolicy) checkTrafficPolicy(s.trafficPolicy, [...path, "trafficPolicy"], r, true);
  });
  checkUnique(
    spec.subsets,
    (s) => s.name,
    (i) => [...base, "subsets", i, "name"],
    "subset name",
    r,
  );
}

function checkTrafficPolicy(tp: TrafficPolicy, path: Path, r: Reporter, warn: boolean): void {
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

// ---------------------------------------------------------------------------------------------
// Gateway

/** One of {@linkcode PROTOCOLS}; mesh routes `HTTP` and carries `TCP` (and `TLS` as TCP). */
export type Protocol = typeof PROTOCOLS[number];

/** A port a Gateway server listens on. */
export interface Port {
  /** 1..65535 (0 only with a `unix://` bind). */
  number: number;
  protocol: Protocol;
  name: string;
  /** Deprecated; Istio rejects it on Gateways. */
  targetPort?: number;
}

const TLS_PROTOCOL_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;

const serverTls = z.strictObject({
  httpsRedirect: z.boolean().optional(),
  mode: z.enum([
    "PASSTHROUGH",
    "SIMPLE",
    "MUTUAL",
    "AUTO_PASSTHROUGH",
    "ISTIO_MUTUAL",
    "OPTIONAL_MUTUAL",
  ]).optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: z.array(z.string()).min(1).max(2, { error: "at most 2 credentialNames" })
    .optional(),
  caCertCredentialName: z.string().optional(),
  tlsCertificates: z.array(z.strictObject({
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
  })).min(1).max(2, { error: "at most 2 tlsCertificates" }).optional(),
  subjectAltNames: stringList.optional(),
  verifyCertificateSpki: stringList.optional(),
  verifyCertificateHash: stringList.optional(),
  minProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  maxProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  cipherSuites: stringList.optional(),
  insecureSkipVerify: z.boolean().optional(),
});
/** Server-side TLS of a Gateway server or Sidecar ingress listener. */
export type ServerTLSSettings = z.infer<typeof serverTls>;

/** One listener of a Gateway. */
export interface Server {
  port: Port;
  /** `host`, `*.domain`, `*`, each optionally as `namespace/host`. */
  hosts: string[];
  name?: string;
  tls?: ServerTLSSettings;
  bind?: string;
  defaultEndpoint?: string;
}

/** `spec` of a Gateway. */
export interface GatewaySpec {
  /** Labels of the gateway workloads this configuration applies to. */
  selector?: Record<string, string>;
  servers: Server[];
}

const gatewayPort: z.ZodType<Port> = z.strictObject({
  number: intRange(0, 65535),
  protocol,
  name: z.string(),
  targetPort: portNumber.optional(),
});

const server: z.ZodType<Server> = z.strictObject({
  port: gatewayPort,
  bind: z.string().optional(),
  hosts: nonEmptyList(
    z.string(),
    `hosts must list at least one host; use "*" to accept any`,
  ),
  tls: serverTls.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});

/** The schema of a Gateway `spec`. */
export const gatewaySpec: z.ZodType<GatewaySpec> = z.strictObject({
  selector: labelMap.optional(),
  servers: nonEmptyList(server, "servers must list at least one server"),
});

/** Checks a Gateway spec. */
export function checkGateway(spec: GatewaySpec, r: Reporter, ctx: CheckContext): void {
  // One certificate per port: Deno.serve can't pick one by SNI, so later servers on a port
  // with other TLS settings would present the first one's.
  const certOfPort = new Map<number, string>();
  spec.servers.forEach((server, i) => {
    const mode = server.tls?.mode;
    if (server.port.protocol !== "HTTPS" || (mode !== "SIMPLE" && mode !== "MUTUAL")) return;
    const t = server.tls!;
    const cert = JSON.stringify([mode, t.credentialName, t.serverCertificate, t.privateKey]);
    const first = certOfPort.get(server.port.number);
    if (first === undefined) certOfPort.set(server.port.number, cert);
    else if (first !== cert) {
      r.warn(
        ["spec", "servers", i, "tls"],
        `another certificate on port ${server.port.number} is ${NOT_SUPPORTED}: mesh serves ` +
          "the first server's there (no SNI selection); give this server its own port",
      );
    }
  });
  if (!isDns1123Label(ctx.name)) {
    r.error(
      ["metadata", "name"],
      `invalid Gateway name ${quote(ctx.name)}; Gateway names are DNS labels (no dots)`,
    );
  }
  spec.servers.forEach((server, i) => {
    const path: Path = ["spec", "servers", i];
    warnUnsupported(server, UNSUPPORTED_SERVER, path, r);
    const p = server.port.protocol;
    const mode = server.tls?.mode ?? "PASSTHROUGH";
    if (p === "HTTPS" && (mode === "SIMPLE" || mode === "MUTUAL")) {
      const unused = mode === "MUTUAL"
        ? UNSUPPORTED_SERVER_TLS.filter((k) => k !== "caCertificates")
        : UNSUPPORTED_SERVER_TLS;
      warnUnsupported(server.tls!, unused, [...path, "tls"], r);
    } else if ((p === "HTTPS" || p === "TLS") && server.tls && mode !== "PASSTHROUGH") {
      r.warn(
        [...path, "tls", "mode"],
        `${mode} is ${NOT_SUPPORTED} (this server is skipped; SIMPLE, MUTUAL and PASSTHROUGH ` +
          "are)",
      );
    } else if (p !== "HTTP" && p !== "TCP" && p !== "HTTPS" && p !== "TLS") {
      r.warn([...path, "port", "protocol"], `${p} is ${NOT_SUPPORTED} (this server is skipped)`);
    }
    server.hosts.forEach((host, j) => {
      const problem = namespacedHostProblem(host, "Gateway");
      if (problem) r.error([...path, "hosts", j], problem);
    });
    const unix = server.bind?.startsWith("unix://") ?? false;
    if (server.port.number === 0 && !unix) {
      r.error([...path, "port", "number"], "must be an integer from 1 to 65535; got 0");
    } else if (unix && server.port.number !== 0) {
      r.error([...path, "port", "number"], "a server bound to a unix socket needs port number 0");
    }
    if (server.bind !== undefined) {
      const problem = unix
        ? unixAddressProblem(server.bind)
        : isIP(server.bind)
        ? undefined
        : `invalid bind ${quote(server.bind)}; use an IP address or unix:///path`;
      if (problem) r.error([...path, "bind"], problem);
    }
    if (server.port.targetPort !== undefined) {
      r.error([...path, "port", "targetPort"], "targetPort has no effect on Gateways; remove it");
    }
    if (server.port.name === "") r.error([...path, "port", "name"], "the port needs a name");
    if (isTlsProtocol(p) && !server.tls) {
      r.error([...path, "tls"], `a ${p} server needs tls settings (mode and certificates)`);
    } else if (!isTlsProtocol(p) && server.tls) {
      const t = server.tls;
      const onlyRedirect = (t.mode === undefined || t.mode === "PASSTHROUGH") &&
        !t.caCertificates && !t.privateKey && !t.serverCertificate;
      if (!isHttpProtocol(p) || !onlyRedirect) {
        r.error(
          [...path, "tls"],
          `a ${p} server can't have TLS settings (only httpsRedirect on HTTP); use HTTPS or TLS`,
        );
      }
    }
    if (server.tls) {
      checkServerTls(server.tls, [...path, "tls"], r);
      if (server.tls.httpsRedirect && !isHttpProtocol(p)) {
        r.warn([...path, "tls", "httpsRedirect"], "httpsRedirect only applies to HTTP servers");
      }
    }
  });
  checkUnique(
    spec.servers,
    (s) => s.port.name,
    (i) => ["spec", "servers", i, "port", "name"],
    "port name",
    r,
  );
  checkUnique(spec.servers, (s) => s.name, (i) => ["spec", "servers", i, "name"], "server name", r);
}

/** Checks server TLS settings (Gateway servers, Sidecar ingress). */
export function checkServerTls(tls: ServerTLSSettings, path: Path, r: Reporter): void {
  if (tls.credentialName !== undefined && !isDns1123Subdomain(tls.credentialName)) {
    r.error(
      [...path, "credentialName"],
      `invalid credentialName ${quote(tls.credentialName)}; name a credential (a DNS-1123 name)`,
    );
  }
  const creds = countSet(tls, ["credentialName", "credentialNames", "tlsCertificates"]);
  if (creds.length > 1) {
    r.error([...path, creds[1]], `${creds.join(" and ")} can't both be set; keep one`);
  }
  if (
    (tls.minProtocolVersion === "TLSV1_0" || tls.minProtocolVersion === "TLSV1_1") &&
    !tls.cipherSuites?.length
  ) {
    r.warn(
      [...path, "minProtocolVersion"],
      "TLS versions below 1.2 need cipherSuites that support them",
    );
  }
  const mode = tls.mode ?? "PASSTHROUGH";
  if (mode === "ISTIO_MUTUAL") {
    const files = countSet(tls, [
      "serverCertificate",
      "privateKey",
      "caCertificates",
      "credentialName",
    ]);
    if (files.length) {
      r.error(
        [...path, files[0]],
        `mode ISTIO_MUTUAL uses mesh certificates; remove ${files.join(", ")}`,
      );
    }
    return;
  }
  if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") {
    if (
      countSet(tls, [
        "caCrl",
        "serverCertificate",
        "privateKey",
        "caCertificates",
        "credentialName",
      ]).length
    ) {
      r.warn(path, `mode ${mode} doesn't use certificates; they are ignored`);
    }
    return;
  }
  if (tls.credentialName || tls.credentialNames || tls.tlsCertificates) {
    if (tls.caCrl && tls.credentialName) {
      r.error(
        [...path, "caCrl"],
        "caCrl can't be set with credentialName; put it in the credential",
      );
    }
    return;
  }
  for (const field of ["serverCertificate", "privateKey"] as const) {
    if (!tls[field]) {
      r.error([...path, field], `mode ${mode} needs ${field} (or credentialName)`);
    }
  }
  if (mode !== "SIMPLE" && !tls.caCertificates) {
    r.error([...path, "caCertificates"], `mode ${mode} needs caCertificates (or credentialName)`);
  }
  if (mode === "SIMPLE" && tls.caCrl) {
    r.error([...path, "caCrl"], "caCrl needs mode MUTUAL; SIMPLE doesn't verify clients");
  }
}

// ---------------------------------------------------------------------------------------------
// ServiceEntry and WorkloadEntry

/** A port of a ServiceEntry. */
export interface ServicePort {
  number: number;
  protocol?: Protocol;
  /** Unique within the entry. */
  name: string;
  targetPort?: number;
}

/** `spec` of a WorkloadEntry, and an endpoint of a ServiceEntry. */
export interface WorkloadEntrySpec {
  /** IP address, DNS name, or `unix:///absolute/path`. */
  address?: string;
  /** Service port name to workload port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  serviceAccount?: string;
  weight?: number;
  network?: string;
  locality?: string;
}

/** Where a ServiceEntry's service lives. Istio's default is `MESH_EXTERNAL`. */
export type ServiceEntryLocation = "MESH_EXTERNAL" | "MESH_INTERNAL";
/** How a ServiceEntry's endpoints are found. Istio's default is `NONE`. */
export type ServiceEntryResolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";

/** `spec` of a ServiceEntry. */
export interface ServiceEntrySpec {
  hosts: string[];
  /** Virtual IPs or CIDR blocks. */
  addresses?: string[];
  ports?: ServicePort[];
  location?: ServiceEntryLocation;
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  /** Selects WorkloadEntries (and pods) by label instead of listing endpoints. */
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

const servicePort: z.ZodType<ServicePort> = z.strictObject({
  number: portNumber,
  protocol: protocol.optional(),
  name: formatted(
    isDns1123Label,
    (v) => `invalid port name ${quote(v)}; use a DNS label like http or tcp-db`,
  ),
  targetPort: portNumber.optional(),
});

function workloadEntryShape() {
  return {
    address: z.string().max(256, { error: "addresses are at most 256 characters" }).optional(),
    ports: z.record(z.string(), portNumber).optional(),
    labels: labels.optional(),
    network: z.string().optional(),
    locality: z.string().optional(),
    weight: uint32.optional(),
    serviceAccount: z.string().optional(),
  };
}

/** The schema of a WorkloadEntry `spec` (also a ServiceEntry endpoint). */
export const workloadEntrySpec: z.ZodType<WorkloadEntrySpec> = z.strictObject(
  workloadEntryShape(),
);

/** The schema of a ServiceEntry `spec`. */
export const serviceEntrySpec: z.ZodType<ServiceEntrySpec> = z.strictObject({
  hosts: nonEmptyList(
    formatted(
      (s) => s !== "*" && isWildcardHost(s),
      (v) =>
        v === "*"
          ? `"*" is not allowed in a ServiceEntry; name the hosts, e.g. *.example.com`
          : `invalid host ${quote(v)}; use a DNS name like api.example.com or *.example.com`,
    ),
    "hosts must list at least one host",
  ),
  addresses: z.array(formatted(
    isIPOrCIDR,
    (v) => `invalid address ${quote(v)}; use an IP address or CIDR block like 10.0.0.0/16`,
  )).optional(),
  ports: z.array(servicePort).optional(),
  location: z.enum(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]).optional(),
  endpoints: z.array(workloadEntrySpec).optional(),
  workloadSelector: networkingSelector.optional(),
  exportTo: stringList.optional(),
  subjectAltNames: stringList.optional(),
});

/** Checks a ServiceEntry spec. */
export function checkServiceEntry(spec: ServiceEntrySpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_SE, base, r);
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, true);
  const resolution = spec.resolution ?? "NONE";
  if (resolution === "DYNAMIC_DNS") {
    r.warn([...base, "resolution"], `DYNAMIC_DNS is ${NOT_SUPPORTED}`);
  }
  spec.hosts.forEach((host, i) => {
    const earlier = spec.hosts.indexOf(host);
    if (earlier < i) r.warn([...base, "hosts", i], `host ${quote(host)} is listed twice`);
  });
  if (
    spec.addresses?.some((a) => a.includes("/")) && resolution !== "NONE" && resolution !== "STATIC"
  ) {
    r.error(
      [...base, "addresses"],
      `CIDR addresses need resolution NONE or STATIC, not ${resolution}`,
    );
  }
  const names = new Map<string, number>();
  spec.ports?.forEach((port, i) => {
    const path = [...base, "ports", i];
    if (!names.has(port.name)) names.set(port.name, i);
    // HTTP ports are routed; TCP (and TLS, carried as TCP) go through Sidecar egress ports.
    if (port.protocol !== undefined && !["HTTP", "TCP", "TLS"].includes(port.protocol)) {
      r.warn([...path, "protocol"], `${port.protocol} is ${NOT_SUPPORTED}`);
    }
    if (port.targetPort !== undefined && resolution === "NONE") {
      r.warn([...path, "targetPort"], "targetPort has no effect with resolution NONE");
    }
  });
  checkUnique(spec.ports, (p) => p.name, (i) => [...base, "ports", i, "name"], "port name", r);
  checkUnique(spec.ports, (p) => p.number, (i) => [...base, "ports", i, "number"], "port", r);

  if (spec.workloadSelector) {
    checkSelectorLabels(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r);
  }
  const endpoints = spec.endpoints ?? [];
  if (spec.endpoints !== undefined && spec.workloadSelector !== undefined) {
    r.error(
      [...base, "workloadSelector"],
      "endpoints and workloadSelector can't both be set; keep one",
    );
  }
  if (endpoints.length > 0 && resolution === "NONE") {
    r.error(
      [...base, "endpoints"],
      "endpoints are unused with resolution NONE; set resolution to STATIC (IP addresses) " +
        "or DNS (host names)",
    );
  }
  if (spec.workloadSelector && resolution !== "STATIC") {
    r.warn(
      [...base, "workloadSelector"],
      `workloadSelector is meant for resolution STATIC, not ${resolution}`,
    );
  }
  if ((resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && endpoints.length === 0) {
    spec.hosts.forEach((h, i) => {
      if (h.includes("*")) {
        r.error(
          [...base, "hosts", i],
          `resolution ${resolution} without endpoints resolves the hosts themselves; ` +
            `${quote(h)} is a wildcard; list endpoints or name a host`,
        );
      }
    });
  }
  if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) {
    r.error([...base, "endpoints"], "resolution DNS_ROUND_ROBIN allows at most one endpoint");
  }
  if (resolution !== "NONE" && spec.hosts.length > 1) {
    const l4 = spec.ports?.findIndex((p) =>
      !isHttpProtocol(p.protocol ?? "TCP") && !isTlsProtocol(p.protocol ?? "TCP")
    ) ?? -1;
    if (l4 >= 0) {
      r.error(
        [...base, "ports", l4],
        "several hosts can't share a non-HTTP, non-TLS port (nothing tells them apart); " +
          "use one ServiceEntry per host or resolution NONE",
      );
    }
  }
  endpoints.forEach((ep, i) => {
    const path = [...base, "endpoints", i];
    checkWorkloadEntry(ep, path, r, names);
    const address = ep.address;
    if (
      resolution === "STATIC" && address !== undefined && !isIP(address) &&
      !address.startsWith("unix://")
    ) {
      r.error(
        [...path, "address"],
        `resolution STATIC needs IP addresses, got ${quote(address)}; use an IP, or resolution DNS`,
      );
    }
    if (address?.startsWith("unix://") && (spec.ports?.length ?? 0) !== 1) {
      r.error([...path, "address"], "a unix endpoint needs exactly one service port");
    }
  });
}

/** Checks a WorkloadEntry (or a ServiceEntry endpoint, given the service's port names). */
export function checkWorkloadEntry(
  spec: WorkloadEntrySpec,
  path: Path,
  r: Reporter,
  servicePorts?: ReadonlyMap<string, number>,
  template = false,
): void {
  if (!template) warnUnsupported(spec, UNSUPPORTED_WE, path, r);
  const address = spec.address;
  if (!template && address === undefined) {
    if (spec.network === undefined) {
      r.error([...path, "address"], `missing required field "address"; set the workload's IP`);
    } else {
      r.warn(
        [...path, "address"],
        `no address; the workload is reached through network ${quote(spec.network)}`,
      );
    }
  }
  if (address !== undefined) {
    if (address.startsWith("unix://")) {
      const problem = unixAddressProblem(address);
      if (problem) r.error([...path, "address"], problem);
      else if (!template) {
        r.warn([...path, "address"], `unix socket endpoints are ${NOT_SUPPORTED}`);
      }
      if (spec.ports !== undefined) {
        r.error([...path, "ports"], "a unix address has no ports; remove ports");
      }
    } else if (!isIP(address) && !isHostname(address)) {
      r.error(
        [...path, "address"],
        `invalid address ${quote(address)}; use an IP address, a DNS name or unix:///path`,
      );
    }
  }
  for (const name of Object.keys(spec.ports ?? {})) {
    if (!isDns1123Label(name)) {
      r.error(
        [...path, "ports", name],
        `invalid port name ${quote(name)}; use a DNS label like http`,
      );
    } else if (servicePorts && !servicePorts.has(name)) {
      const known = [...servicePorts.keys()].map(quote).join(", ") || "none";
      r.error(
        [...path, "ports", name],
        `port ${quote(name)} is not a port name of this ServiceEntry (${known}); ` +
          "endpoint ports map a service port name to the workload's port",
      );
    }
  }
  checkLabels(spec.labels, [...path, "labels"], r);
  if (spec.serviceAccount !== undefined && !isDns1123Subdomain(spec.serviceAccount)) {
    r.error(
      [...path, "serviceAccount"],
      `invalid service account ${quote(spec.serviceAccount)}; use a Kubernetes name`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Sidecar

const sidecarPort = z.strictObject({
  number: intRange(0, 65535).optional(),
  protocol: protocol.optional(),
  name: z.string().optional(),
  targetPort: portNumber.optional(),
});

const captureMode = z.enum(["DEFAULT", "IPTABLES", "NONE"]);

const sidecarIngress = z.strictObject({
  port: sidecarPort,
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  defaultEndpoint: z.string().optional(),
  tls: serverTls.optional(),
  connectionPool: connectionPool.optional(),
});

const sidecarEgress = z.strictObject({
  port: sidecarPort.optional(),
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  hosts: nonEmptyList(z.string(), "hosts must list at least one namespace/host, like ./*"),
});

const outboundTrafficPolicy = z.strictObject({
  mode: z.enum(["REGISTRY_ONLY", "ALLOW_ANY"]).optional(),
  egressProxy: destination.optional(),
});

/** The schema of a Sidecar `spec`. */
export const sidecarSpec = z.strictObject({
  workloadSelector: networkingSelector.optional(),
  ingress: z.array(sidecarIngress).optional(),
  egress: z.array(sidecarEgress).optional(),
  inboundConnectionPool: connectionPool.optional(),
  outboundTrafficPolicy: outboundTrafficPolicy.optional(),
});
/**
 * `spec` of a Sidecar. mesh enforces egress listeners that name a port (a
 * listener on `bind`, default 127.0.0.1, as with captureMode NONE), scoping (the
 * catch-all egress entry's hosts) and `outboundTrafficPolicy.mode`; ingress,
 * inboundConnectionPool and `egressProxy` are warned about.
 */
export type SidecarSpec = z.infer<typeof sidecarSpec>;

/** Checks a Sidecar spec. */
export function checkSidecar(spec: SidecarSpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  if (spec.workloadSelector) {
    checkSelectorLabels(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r);
  }
  if (
    !spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy &&
    !spec.inboundConnectionPool
  ) {
    r.error(
      base,
      "empty Sidecar; set egress, ingress, outboundTrafficPolicy or " +
        "inboundConnectionPool",
    );
  }
  const ingressPorts = new Map<number, number>();
  spec.ingress?.forEach((ing, i) => {
    const path = [...base, "ingress", i];
    checkSidecarPort(ing.port, [...path, "port"], r, ing.bind, false);
    const n = ing.port.number ?? 0;
    const earlier = ingressPorts.get(n);
    if (earlier !== undefined) {
      r.error([...path, "port", "number"], `port ${n} is already used by ingress[${earlier}]`);
    } else ingressPorts.set(n, i);
    if (ing.bind !== undefined && !isIP(ing.bind)) {
      r.error([...path, "bind"], `invalid bind ${quote(ing.bind)}; use an IP address`);
    }
    if (ing.defaultEndpoint !== undefined) {
      const problem = defaultEndpointProblem(ing.defaultEndpoint);
      if (problem) r.error([...path, "defaultEndpoint"], problem);
    }
    if (ing.tls) {
      const at = [...path, "tls"];
      if (ing.tls.subjectAltNames?.length) {
        r.error([...at, "subjectAltNames"], "subjectAltNames is not supported in ingress tls");
      }
      if (ing.tls.httpsRedirect) {
        r.error([...at, "httpsRedirect"], "httpsRedirect is not supported here");
      }
      if (ing.tls.credentialName) {
        r.error(
          [...at, "credentialName"],
          "credentialName is not supported in Sidecar ingress tls",
        );
      }
      if (ing.tls.mode === "ISTIO_MUTUAL" || ing.tls.mode === "AUTO_PASSTHROUGH") {
        r.error([...at, "mode"], `mode ${ing.tls.mode} can't be used in Sidecar ingress tls`);
      }
      checkServerTls(ing.tls, at, r);
    }
    if (ing.connectionPool) {
      checkConnectionPool(ing.connectionPool, [...path, "connectionPool"], r);
      if (ing.connectionPool.http && !isHttpProtocol(ing.port.protocol)) {
        r.warn(
          [...path, "connectionPool", "http"],
          "http connection pool settings apply only to HTTP ports; only tcp settings apply here",
        );
      }
    }
  });
  if (spec.inboundConnectionPool) {
    checkConnectionPool(spec.inboundConnectionPool, [...base, "inboundConnectionPool"], r);
  }
  // What mesh enforces of a Sidecar: egress listeners with a port, the catch-all egress hosts
  // (what the outbound listener may reach) and outboundTrafficPolicy.mode. The rest is warned.
  if (spec.ingress?.length) r.warn([...base, "ingress"], NOT_SUPPORTED);
  if (spec.inboundConnectionPool) r.warn([...base, "inboundConnectionPool"], NOT_SUPPORTED);
  if (spec.outboundTrafficPolicy?.egressProxy) {
    r.warn([...base, "outboundTrafficPolicy", "egressProxy"], NOT_SUPPORTED);
  }
  spec.egress?.forEach((eg, i) => {
    const path = [...base, "egress", i];
    if (eg.port === undefined) {
      for (const k of ["bind", "captureMode"] as const) {
        if (eg[k] !== undefined) r.warn([...path, k], NOT_SUPPORTED);
      }
      return;
    }
    const proto = (eg.port.protocol ?? "TCP").toUpperCase();
    if (proto !== "TCP" && proto !== "HTTP") {
      r.warn(
        [...path, "port", "protocol"],
        `protocol ${proto} is ${NOT_SUPPORTED} (TCP and HTTP are)`,
      );
    }
    if (eg.bind?.startsWith("unix://")) {
      r.warn([...path, "bind"], `unix sockets are ${NOT_SUPPORTED}`);
    }
    if (eg.captureMode && eg.captureMode !== "NONE") {
      r.warn(
        [...path, "captureMode"],
        `mesh captures no traffic; the listener binds ${
          eg.bind ?? "127.0.0.1"
        }:${eg.port.number} as with captureMode NONE`,
      );
    }
  });
  const egressPorts = new Map<string, number>();
  spec.egress?.forEach((eg, i) => {
    const path = [...base, "egress", i];
    if (eg.port === undefined) {
      if (i !== (spec.egress?.length ?? 0) - 1) {
        r.error(path, "only the last egress listener may omit port (it catches everything else)");
      }
    } else {
      checkSidecarPort(eg.port, [...path, "port"], r, eg.bind, true);
      const unix = eg.bind?.startsWith("unix://") ?? false;
      const key = eg.port.number ? `port ${eg.port.number}` : `bind ${eg.bind}`;
      const earlier = egressPorts.get(key);
      if (earlier !== undefined) {
        r.error([...path, "port"], `${key} is already used by egress[${earlier}]`);
      } else egressPorts.set(key, i);
      if (unix && eg.captureMode === "IPTABLES") {
        r.error([...path, "captureMode"], "unix socket listeners need captureMode DEFAULT or NONE");
      }
      if (eg.bind !== undefined && !unix && !isIP(eg.bind)) {
        r.error([...path, "bind"], `invalid bind ${quote(eg.bind)}; use an IP or unix:///path`);
      }
    }
    const seen = new Map<string, Set<string>>();
    eg.hosts.forEach((h, j) => {
      const problem = namespacedHostProblem(h, "Sidecar");
      if (problem) {
        r.error([...path, "hosts", j], problem);
        return;
      }
      const [ns0, host] = h.split("/", 2) as [string, string];
      const ns = ns0 === "." ? ctx.namespace : ns0;
      const hosts = seen.get(ns) ?? new Set<string>();
      if (hosts.has(host) || hosts.has("*") || (host === "*" && hosts.size > 0)) {
        r.warn([...path, "hosts", j], `duplicate egress host ${quote(h)}`);
      }
      hosts.add(host);
      seen.set(ns, hosts);
    });
    if (seen.get("*")?.has("*") && seen.size > 1) {
      r.warn([...path, "hosts"], '"*/*" already selects every host; the other entries add nothing');
    }
  });
  const otp = spec.outboundTrafficPolicy;
  if (otp?.egressProxy) {
    const at = [...base, "outboundTrafficPolicy", "egressProxy"];
    if (otp.mode !== "ALLOW_ANY") {
      r.error(at, "egressProxy needs outboundTrafficPolicy mode ALLOW_ANY");
    }
    if (!otp.egressProxy.port) r.error([...at, "port"], "egressProxy needs a port");
  }
}

function checkSidecarPort(
  port: z.infer<typeof sidecarPort>,
  path: Path,
  r: Reporter,
  bind: string | undefined,
  egress: boolean,
): void {
  if (port.name !== undefined && port.name !== "" && !isDns1123Label(port.name)) {
    r.error([...path, "name"], `invalid port name ${quote(port.name)}; use a DNS label like http`);
  }
  if (port.targetPort !== undefined) {
    r.error([...path, "targetPort"], "targetPort has no effect on Sidecars; remove it");
  }
  const n = port.number ?? 0;
  if (n === 0) {
    if (!egress || !bind?.startsWith("unix://")) {
      r.error([...path, "number"], "must be an integer from 1 to 65535 (0 only with a unix bind)");
    } else {
      const problem = unixAddressProblem(bind);
      if (problem) r.error([...path.slice(0, -1), "bind"], problem);
    }
  }
}

function defaultEndpointProblem(ep: string): string | undefined {
  if (ep.startsWith("unix://")) return unixAddressProblem(ep);
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]|):(\d{1,5})$/.exec(ep);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    return `invalid defaultEndpoint ${quote(ep)}; use 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, ` +
      "[::]:PORT or unix:///path";
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// WorkloadGroup

const readinessProbe = z.strictObject({
  initialDelaySeconds: nonNegativeInt32.optional(),
  timeoutSeconds: nonNegativeInt32.optional(),
  periodSeconds: nonNegativeInt32.optional(),
  successThreshold: nonNegativeInt32.optional(),
  failureThreshold: nonNegativeInt32.optional(),
  httpGet: z.strictObject({
    path: z.string().optional(),
    port: portNumber,
    host: z.string().optional(),
    scheme: z.string().optional(),
    httpHeaders: z.array(z.strictObject({
      name: z.string().optional(),
      value: z.string().optional(),
    })).optional(),
  }).optional(),
  tcpSocket: z.strictObject({ host: z.string().optional(), port: portNumber }).optional(),
  exec: z.strictObject({
    command: nonEmptyList(z.string().min(1), "exec needs a command"),
  }).optional(),
  grpc: z.strictObject({ port: portNumber.optional(), service: z.string().optional() })
    .optional(),
});
/** How a WorkloadGroup's instances are probed for readiness. */
export type ReadinessProbe = z.infer<typeof readinessProbe>;
/** The readiness probe schema (shared with MeshConfig's proxy config). */
export const readinessProbeSchema = readinessProbe;

/** The schema of a WorkloadGroup `spec`. */
export const workloadGroupSpec = z.strictObject({
  metadata: z.strictObject({
    labels: labels.optional(),
    annotations: labelMap.optional(),
  }).optional(),
  template: z.strictObject(workloadEntryShape()),
  probe: readinessProbe.optional(),
});
/** `spec` of a WorkloadGroup (validated, not enforced). */
export type WorkloadGroupSpec = z.infer<typeof workloadGroupSpec>;

/** Checks a WorkloadGroup spec. */
export function checkWorkloadGroup(spec: WorkloadGroupSpec, r: Reporter): void {
  checkLabels(spec.metadata?.labels, ["spec", "metadata", "labels"], r);
  checkWorkloadEntry(spec.template, ["spec", "template"], r, undefined, true);
  if (spec.probe) checkProbe(spec.probe, ["spec", "probe"], r);
}

/** Checks a readiness probe. */
export function checkProbe(probe: ReadinessProbe, path: Path, r: Reporter): void {
  checkOneOf(probe, ["httpGet", "tcpSocket", "exec", "grpc"], path, r, true);
  const http = probe.httpGet;
  if (http) {
    if (
      http.scheme !== undefined && http.scheme !== "" && http.scheme !== "HTTP" &&
      http.scheme !== "HTTPS"
    ) {
      r.error(
        [...path, "httpGet", "scheme"],
        `scheme must be HTTP or HTTPS; got ${quote(http.scheme)}`,
      );
    }
    http.httpHeaders?.forEach((h, i) => {
      if (!h.name || !SIMPLE_HEADER_NAME.test(h.name)) {
        r.error(
          [...path, "httpGet", "httpHeaders", i, "name"],
          `invalid header name ${quote(h.name ?? "")}; use letters, digits, '-' and '_'`,
        );
      }
    });
  }
}
