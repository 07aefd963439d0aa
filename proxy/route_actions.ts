/**
 * What a matched route does besides forwarding, as Envoy's router and filters do: header
 * changes, URI rewrites, redirects, direct responses, CORS, fault injection (delay, then
 * abort) and the authority of mirrored requests. Pure except for the fault delay's timer.
 * @module
 */
import { splitHostPort } from "../api/host.ts";
import type {
  HeaderChanges,
  Route,
  RouteCors,
  RouteFault,
  RouteMatch,
  RouteRedirect,
  RouteRewrite,
} from "../api/proxy_config.ts";
import { compileStringMatch, re2RegExp } from "./route.ts";
import { changeHeaderList as changeSafely, safeSet, withHeaderChanges } from "./header_ops.ts";

/** Statuses whose responses have no body. */
export const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** A plain-text response. */
export function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain" } });
}

/**
 * Adds Envoy's `DI` (delay injected) to a request's response flags, in Envoy's
 * order: after the upstream and routing flags, before `FI`.
 */
export function withDelayFlag(flags: string | undefined): string {
  if (!flags) return "DI";
  return AFTER_DI.has(flags) ? `DI,${flags}` : `${flags},DI`;
}
const AFTER_DI = new Set(["FI", "UPE", "RBAC"]);

/**
 * Applies header changes to a request's header list: remove, then set (replacing), then add;
 * a change the proxy can't send is skipped (see `header_ops.ts`).
 */
export function changeHeaderList(
  list: [string, string][],
  c: HeaderChanges,
): [string, string][] {
  return changeSafely(list, c);
}

/**
 * Applies header changes to a response (its headers may be immutable: then it is copied); a
 * change `Headers` would refuse is skipped, never thrown (see `header_ops.ts`).
 */
export function withHeaders(res: Response, c: HeaderChanges | undefined): Response {
  return withHeaderChanges(res, c);
}

/** A redirect to `location` (left out, and warned about, if it can't be a header value). */
export function redirectResponse(status: number, location: string): Response {
  const headers = new Headers();
  safeSet(headers, "location", location);
  return new Response(null, { status, headers });
}

const rewriteRegexes = new WeakMap<RouteRewrite, { re: RegExp | undefined; to: string }>();

/** An RE2 rewrite string filled in: `\1`-`\9` a group, `\0` the whole match, `\\` a backslash. */
function substitute(to: string, groups: (string | undefined)[]): string {
  return to.replace(/\\([0-9\\])/g, (_, g: string) => g === "\\" ? "\\" : groups[+g] ?? "");
}

/**
 * The upstream path after a `rewrite`, query kept: `uriRegexRewrite` replaces
 * every match (`\\1` is its first group); `uri` replaces the matched prefix
 * for a prefix match, the whole path for an exact or regex match, and the
 * leading `/` when the route has no URI match (as Envoy's `prefix_rewrite`).
 */
export function rewritePath(path: string, rw: RouteRewrite, matched?: RouteMatch): string {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? "" : path.slice(q);
  if (rw.regex) {
    let c = rewriteRegexes.get(rw);
    if (!c) {
      c = { re: re2RegExp(rw.regex.match, "global"), to: rw.regex.rewrite };
      rewriteRegexes.set(rw, c);
    }
    // A regex that can't be used (warned once) rewrites nothing.
    if (!c.re) return path;
    const to = c.to;
    return p.replace(c.re, (...args: unknown[]) => {
      const end = args.findIndex((a) => typeof a === "number");
      return substitute(to, args.slice(0, end) as (string | undefined)[]);
    }) + query;
  }
  if (rw.uri === undefined) return path;
  const prefix = matched?.uri?.prefix;
  if (prefix !== undefined) return rw.uri + p.slice(prefix.length) + query;
  if (matched?.uri?.exact !== undefined || matched?.uri?.regex !== undefined) return rw.uri + query;
  return rw.uri + p.slice(1) + query;
}

/** The `location` of a redirect for a request to `authority` + `path` on `port`. */
export function redirectLocation(
  rd: RouteRedirect,
  path: string,
  authority: string,
  port: number,
  matched?: RouteMatch,
  requestScheme = "http",
): string {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? "" : path.slice(q);
  let newPath = path;
  if (rd.uri !== undefined) newPath = rd.uri.includes("?") ? rd.uri : rd.uri + query;
  else if (rd.prefixRewrite !== undefined) {
    const prefix = matched?.uri?.prefix ?? "/";
    newPath = rd.prefixRewrite + p.slice(prefix.length) + query;
  }
  let host = rd.authority ?? authority;
  if (rd.port !== undefined || rd.derivePort !== undefined) {
    host = splitHostPort(host).host;
    host = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (rd.port !== undefined) host += `:${rd.port}`;
    else if (rd.derivePort === "FROM_REQUEST_PORT") host += `:${port}`;
  }
  // Without a scheme of its own, a redirect keeps the request's (as Envoy does).
  return `${rd.scheme ?? requestScheme}://${host}${newPath}`;
}

const directBodies = new WeakMap<Route, Uint8Array<ArrayBuffer>>();

/** A route's fixed answer; a body comes with `content-type: text/plain`, as Envoy sends it. */
export function directResponse(route: Route): Response {
  const dr = route.directResponse!;
  if (dr.bodyBase64 === undefined) {
    return withHeaders(new Response(null, { status: dr.status }), route.headers?.response);
  }
  let body = directBodies.get(route);
  if (!body) {
    body = Uint8Array.from(atob(dr.bodyBase64), (ch) => ch.charCodeAt(0));
    directBodies.set(route, body);
  }
  const res = new Response(NULL_BODY_STATUS.has(dr.status) ? null : body, {
    status: dr.status,
    headers: { "content-type": "text/plain" },
  });
  return withHeaders(res, route.headers?.response);
}

const corsOrigins = new WeakMap<RouteCors, ((v: string | undefined) => boolean)[]>();

/**
 * Envoy's CORS filter for a request with an `Origin`: a preflight from an
 * allowed origin is answered here (200 with the allow headers); one from
 * another origin is forwarded, or answered bare with `unmatchedPreflights:
 * IGNORE`; any other request from an allowed origin gets the headers to add
 * to its response; undefined means nothing to do.
 */
export function corsFor(
  cors: RouteCors,
  req: Request,
  origin: string,
): Response | HeaderChanges | undefined {
  let matchers = corsOrigins.get(cors);
  if (!matchers) corsOrigins.set(cors, matchers = cors.allowOrigins.map(compileStringMatch));
  const allowed = matchers.some((m) => m(origin));
  const preflight = req.method === "OPTIONS" &&
    req.headers.has("access-control-request-method");
  if (preflight) {
    if (!allowed) {
      return cors.unmatchedPreflights === "IGNORE"
        ? new Response(null, { status: 200 })
        : undefined;
    }
    const h = new Headers({ "access-control-allow-origin": origin });
    // The lists come from config: a value `Headers` refuses is skipped, never thrown.
    if (cors.allowMethods?.length) {
      safeSet(h, "access-control-allow-methods", cors.allowMethods.join(","));
    }
    if (cors.allowHeaders?.length) {
      safeSet(h, "access-control-allow-headers", cors.allowHeaders.join(","));
    }
    if (cors.maxAge !== undefined) h.set("access-control-max-age", String(cors.maxAge));
    if (cors.allowCredentials) h.set("access-control-allow-credentials", "true");
    return new Response(null, { status: 200, headers: h });
  }
  if (!allowed) return undefined;
  const set: Record<string, string> = { "access-control-allow-origin": origin };
  if (cors.exposeHeaders?.length) {
    set["access-control-expose-headers"] = cors.exposeHeaders.join(",");
  }
  if (cors.allowCredentials) set["access-control-allow-credentials"] = "true";
  return { set };
}

/** `reviews:9080` → `reviews-shadow:9080`: the authority of a mirrored request, as Envoy's. */
export function shadowAuthority(authority: string): string {
  const { host, port } = splitHostPort(authority);
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? `${h}-shadow` : `${h}-shadow:${port}`;
}

/** Whether a fault with this percentage (0..100) hits the current request. */
export function faultHits(percent: number, rand: () => number = Math.random): boolean {
  return percent >= 100 || (percent > 0 && rand() * 100 < percent);
}

/** What {@linkcode injectFault} calls. */
export interface FaultHooks {
  /** Goes on with the request (no abort hit). */
  forward: () => Promise<Response> | Response;
  /** Answers an abort with its status (and gRPC status, for a gRPC abort). */
  abort: (a: { status: number; grpcStatus?: number }) => Response;
  /** Random draws in [0, 1). */
  random?: () => number;
  /** Called when a delay hits, before it starts (Envoy's `DI` flag). */
  onDelay?: () => void;
  /** Waits `ms` (the clock's; `setTimeout` without). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Applies a route's faults as Envoy's fault filter does: the delay (when it
 * hits) first, then the abort (when it hits) instead of forwarding.
 */
export function injectFault(fault: RouteFault, h: FaultHooks): Promise<Response> | Response {
  const rand = h.random ?? Math.random;
  const aborted = fault.abort && faultHits(fault.abort.percent, rand) ? fault.abort : undefined;
  const next = () => aborted !== undefined ? h.abort(aborted) : h.forward();
  if (fault.delay && faultHits(fault.delay.percent, rand)) {
    h.onDelay?.();
    const ms = fault.delay.ms;
    const wait = h.sleep ? h.sleep(ms) : new Promise<void>((resolve) => setTimeout(resolve, ms));
    return wait.then(next);
  }
  return next();
}
