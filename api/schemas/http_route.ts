/**
 * VirtualService HTTP routes: matches, destinations, redirects, rewrites, retries, faults,
 * mirrors, CORS and header operations, with Istio's checks for each.
 * @module
 */

import { z } from "zod";
import {
  checkLabels,
  checkOneOf,
  countSet,
  duration,
  formatted,
  headerNameProblem,
  headerValueProblem,
  int32,
  intRange,
  isDns1123Label,
  isDns1123Subdomain,
  isHostname,
  labelMap,
  NOT_SUPPORTED,
  type Path,
  percentValue,
  portNumber,
  quote,
  regex,
  type Reporter,
  SIMPLE_HEADER_NAME,
  stringList,
  uint32,
  warnUnsupported,
} from "./common.ts";
import { UNSUPPORTED_HTTP_ROUTE, UNSUPPORTED_MATCH } from "./unsupported.ts";
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

export const portSelector: z.ZodType<PortSelector> = z.strictObject({ number: portNumber });

export const destination: z.ZodType<Destination> = z.strictObject({
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

export const percent = z.strictObject({ value: percentValue.optional() });
/** A fraction of traffic, 0..100. */
export type Percent = z.infer<typeof percent>;

/** A label map that must hold valid Kubernetes labels. */
export const labels = labelMap;

/** The networking WorkloadSelector: `{labels}`. */
export const networkingSelector = z.strictObject({ labels: labels.optional() });

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

export const routeDestination = z.strictObject({ destination, weight: weight.optional() });
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

export const delegate = z.strictObject({
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

export const httpRetry = z.strictObject({
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

export const httpRoute: z.ZodType<HTTPRoute> = z.strictObject({
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

/** VirtualService `gateways` entries: `mesh`, `name` or `namespace/name`. */
export function isGatewayRef(s: string): boolean {
  if (s === "mesh") return true;
  const slash = s.indexOf("/");
  if (slash < 0) return isDns1123Subdomain(s);
  return isDns1123Label(s.slice(0, slash)) && isDns1123Subdomain(s.slice(slash + 1));
}

export const gatewayRef = formatted(
  isGatewayRef,
  (v) => `invalid gateway ${quote(v)}; use a Gateway name, namespace/name, or mesh`,
);

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

export function checkWeights(
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

export function checkHttpRoute(
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
