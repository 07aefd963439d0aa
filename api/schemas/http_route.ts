/**
 * VirtualService HTTP routes: matches, destinations, redirects, rewrites, retries, faults,
 * mirrors, CORS and header operations, with Istio's checks for each.
 * @module
 */

import { z } from "zod";
import {
  duration,
  int32,
  labelMap,
  type Path,
  percentValue,
  portNumber,
  quote,
  type Reporter,
  stringList,
  uint32,
  warnUnsupported,
} from "./common.ts";
import {
  checkAuthorityOnce,
  checkDestination,
  checkDirectResponse,
  checkGatewayNames,
  checkHeaderOperations,
  checkIstioLabels,
  checkRedirect,
  checkRewrite,
  checkStringMatch,
  isJwtClaimKey,
  matchHeaderNameProblem,
  optionalPortProblem,
} from "./http_route_checks.ts";
import { checkCors, checkFault, checkRetries } from "./http_route_policies.ts";
import { isIstioLabel } from "./server_hosts.ts";
import { UNSUPPORTED_HTTP_ROUTE, UNSUPPORTED_MATCH } from "./unsupported.ts";

export { checkRetries };

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
  regex: z.string().optional(),
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
  host: z.string(),
  subset: z.string().optional(),
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
  /** Relative share of traffic (weights of one route needn't sum to 100). */
  weight?: number;
  /** Header changes when this destination is picked. */
  headers?: HeaderOperations;
}

const weight = int32;

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
  port: uint32.optional(),
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
  port: uint32.optional(),
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
    match: z.string().optional(),
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
    percent: int32.optional(),
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

/** Whether an HTTP route is in a delegate VirtualService, delegates itself, or neither. */
export type RouteRole = "delegate" | "root" | "plain";

/** What {@linkcode checkHttpRoute} knows about the route's VirtualService. */
export interface HttpRouteContext {
  /** The VirtualService is a delegate (no hosts). */
  inDelegate: boolean;
}

/**
 * Checks the destinations of a route: each destination, no negative weight, and not all
 * weights 0 when there are several (weights are relative, as in Istio).
 */
export function checkWeights(
  destinations: readonly { destination: Destination; weight?: number }[],
  path: Path,
  r: Reporter,
): void {
  let total = 0;
  destinations.forEach((d, i) => {
    checkDestination(d.destination, [...path, i, "destination"], r);
    const w = d.weight ?? 0;
    if (w < 0) r.error([...path, i, "weight"], `weight ${w} is negative`);
    total += w;
  });
  if (destinations.length > 1 && total === 0) {
    r.error(
      path,
      `${destinations.length} destinations with a total weight of 0; give at least one a weight`,
    );
  }
}

/** The conflicts between a route's actions (Istio's validateHTTPRouteConflict). */
function checkActions(route: HTTPRoute, role: RouteRole, path: Path, r: Reporter): void {
  const routed = (route.route?.length ?? 0) > 0;
  if (role === "root") {
    // A delegating route takes its delegate's actions; Istio checks only these two here.
    if (route.redirect) r.error([...path, "redirect"], "a route with delegate can't redirect");
    if (routed) r.error([...path, "route"], "a route with delegate can't have destinations");
    return;
  }
  if (role === "delegate" && route.delegate) {
    r.error(
      [...path, "delegate"],
      "a delegate VirtualService can't delegate again; only one level is supported",
    );
  }
  const action = route.redirect ? "redirect" : route.directResponse ? "directResponse" : undefined;
  if (action) {
    const others = ["route", "fault", "rewrite", "directResponse"] as const;
    for (const other of others) {
      if (other === action || route[other] === undefined) continue;
      if (other === "route" && !routed) continue;
      // Beside destinations, the action is the odd one out; beside the others, they are.
      r.error(
        [...path, other === "route" ? action : other],
        `${action} and ${other} can't both be set; ${action} answers the request itself`,
      );
    }
  } else if (!routed) {
    r.error(
      [...path, "route"],
      "no destination; add at least one entry under route (or a redirect or directResponse)",
    );
  }
  if (route.mirror && route.mirrors?.length) {
    r.error([...path, "mirrors"], "mirror and mirrors can't both be set; use mirrors");
  }
}

/** Checks one HTTP route of a VirtualService (Istio's validateHTTPRoute). */
export function checkHttpRoute(
  route: HTTPRoute,
  path: Path,
  r: Reporter,
  ctx: HttpRouteContext,
): void {
  const role: RouteRole = ctx.inDelegate ? "delegate" : route.delegate ? "root" : "plain";
  warnUnsupported(route, UNSUPPORTED_HTTP_ROUTE, path, r);
  checkActions(route, role, path, r);
  route.match?.forEach((m, i) => checkMatch(m, [...path, "match", i], r));
  checkHeaderOperations(route.headers, [...path, "headers"], r);
  if (route.corsPolicy) checkCors(route.corsPolicy, [...path, "corsPolicy"], r);
  if (route.fault) checkFault(route.fault, [...path, "fault"], r);
  for (const field of ["mirrorPercent", "mirror_percent"] as const) {
    const value = route[field];
    if (value === undefined) continue;
    if (value > 100) r.error([...path, field], `must be at most 100; got ${value}`);
    r.warn([...path, field], `${field} is deprecated; use mirrorPercentage`);
  }
  if (route.mirror) checkDestination(route.mirror, [...path, "mirror"], r);
  route.mirrors?.forEach((m, i) => {
    checkDestination(m.destination, [...path, "mirrors", i, "destination"], r);
  });
  if (route.redirect) checkRedirect(route.redirect, route.match, [...path, "redirect"], r);
  if (route.directResponse) {
    checkDirectResponse(route.directResponse, [...path, "directResponse"], r);
  }
  if (route.retries) checkRetries(route.retries, [...path, "retries"], r);
  if (route.rewrite) checkRewrite(route.rewrite, [...path, "rewrite"], r);
  checkAuthorityOnce(route.rewrite, route.headers, path, r);
  route.route?.forEach((d, i) => {
    checkHeaderOperations(d.headers, [...path, "route", i, "headers"], r);
  });
  if (route.route) checkWeights(route.route, [...path, "route"], r);
}

/** Checks one match of an HTTP route (Istio's validateHTTPRouteMatchRequest). */
function checkMatch(m: HTTPMatchRequest, path: Path, r: Reporter): void {
  warnUnsupported(m, UNSUPPORTED_MATCH, path, r);
  for (const field of ["headers", "withoutHeaders"] as const) {
    for (const [name, sm] of Object.entries(m[field] ?? {})) {
      const at = [...path, field, name];
      const problem = matchHeaderNameProblem(name);
      if (problem) r.error(at, problem);
      // In withoutHeaders, regex "*" is not a pattern: it stands for "header present".
      if (field === "withoutHeaders" && sm.regex === "*") continue;
      checkStringMatch(sm, at, r);
    }
  }
  if (m.uri) checkStringMatch(m.uri, [...path, "uri"], r, "uri");
  for (const field of ["scheme", "method", "authority"] as const) {
    const sm = m[field];
    if (sm) checkStringMatch(sm, [...path, field], r);
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    checkStringMatch(sm, [...path, "queryParams", name], r);
  }
  const portProblem = optionalPortProblem(m.port);
  if (portProblem) r.error([...path, "port"], portProblem);
  checkIstioLabels(m.sourceLabels, [...path, "sourceLabels"], r);
  checkGatewayNames(m.gateways, [...path, "gateways"], r);
  if (m.sourceNamespace && !isIstioLabel(m.sourceNamespace)) {
    r.error([...path, "sourceNamespace"], `invalid namespace ${quote(m.sourceNamespace)}`);
  }
}

/**
 * Checks JWT claim matches (`@request.auth.claims...` keys): Istio routes on them only for
 * VirtualServices bound to gateways alone; mesh doesn't route on them yet.
 */
export function checkJwtClaimMatches(
  routes: readonly HTTPRoute[] | undefined,
  gatewaysOnly: boolean,
  path: Path,
  r: Reporter,
): void {
  routes?.forEach((route, i) => {
    route.match?.forEach((m, j) => {
      for (const field of ["headers", "withoutHeaders"] as const) {
        for (const name of Object.keys(m[field] ?? {})) {
          if (!isJwtClaimKey(name)) continue;
          const at = [...path, i, "match", j, field, name];
          if (!gatewaysOnly) {
            r.error(at, "JWT claim routing works only for VirtualServices bound to gateways");
          } else {
            r.warn(
              at,
              "JWT claim routing is not supported by mesh yet: a headers match on a claim " +
                "never matches, a withoutHeaders one always does",
            );
          }
        }
      }
    });
  });
}
