/**
 * One HTTPRoute or GRPCRoute rule → Istio HTTP routes (one per match), as Istio's
 * convertHTTPRoute and convertGRPCRoute build them: matches, filters (header modifiers,
 * redirect, rewrite, mirror, CORS), weighted destinations, timeouts and retries; then Istio's
 * precedence order of the Gateway API ({@linkcode sortRoutes}).
 *
 * An invalid backend stays in the route as a destination with the empty host (Istio's
 * `destination: {}`); {@linkcode meshRoutes} turns those and `PathPrefix` matches into what
 * mesh's proxies do as Envoy does for Istio.
 * @module
 */

import type {
  CorsPolicy,
  HeaderOperations,
  HTTPMatchRequest,
  HTTPMirrorPolicy,
  HTTPRoute,
  HTTPRouteDestination,
  StringMatch,
} from "../../api/resources.ts";
import type { HeaderFilter, RequestMirrorFilter } from "../../api/schemas/gateway_api/common.ts";
import type {
  CorsFilter,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  RequestRedirectFilter,
  URLRewriteFilter,
} from "../../api/schemas/gateway_api/http_route.ts";
import { pathOf } from "../../api/schemas/gateway_api/http_route.ts";
import type { GRPCRouteMatch, GRPCRouteRule } from "../../api/schemas/gateway_api/grpc_route.ts";
import { parseDuration, regexProblem } from "../../api/schemas/common.ts";
import {
  type BackendError,
  type BackendInput,
  type References,
  resolveBackend,
} from "./references.ts";

/** Where a rule comes from and how its backends are checked. */
export interface RuleContext {
  kind: "HTTPRoute" | "GRPCRoute";
  namespace: string;
  name: string;
  /** Gateways check ReferenceGrants; mesh routes don't (as Istio). */
  enforceGrant: boolean;
  refs: References;
}

/** A rule's routes, or the error that drops them (`soft` errors keep the routes). */
export interface RuleResult {
  route?: HTTPRoute;
  error?: BackendError;
}

const hard = (reason: string, message: string): RuleResult => ({
  error: { reason, message, soft: false },
});

function lowerMap(
  list: { name: string; value: string }[] | undefined,
): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const h of list) {
    const k = h.name.toLowerCase();
    if (!(k in out)) out[k] = h.value; // later entries with the same name are ignored
  }
  return out;
}

function headerOps(f: HeaderFilter): NonNullable<HeaderOperations["request"]> {
  const out: NonNullable<HeaderOperations["request"]> = {};
  const set = lowerMap(f.set);
  const add = lowerMap(f.add);
  if (add) out.add = add;
  if (f.remove?.length) out.remove = [...f.remove];
  if (set) out.set = set;
  return out;
}

function stringMatch(type: string | undefined, value: string): StringMatch {
  return type === "RegularExpression" ? { regex: value } : { exact: value };
}

function httpMatch(m: HTTPRouteMatch): HTTPMatchRequest {
  const p = pathOf(m);
  const out: HTTPMatchRequest = {};
  if (p.type === "PathPrefix") {
    out.uri = { prefix: p.value !== "/" ? p.value.replace(/\/$/, "") : "/" };
  } else if (p.type === "Exact") out.uri = { exact: p.value };
  else out.uri = { regex: p.value };
  if (m.headers?.length) {
    out.headers = Object.fromEntries(m.headers.map((h) => [h.name, stringMatch(h.type, h.value)]));
  }
  if (m.queryParams?.length) {
    out.queryParams = Object.fromEntries(
      m.queryParams.map((q) => [q.name, stringMatch(q.type, q.value)]),
    );
  }
  if (m.method) out.method = { exact: m.method };
  return out;
}

function grpcMatch(m: GRPCRouteMatch): HTTPMatchRequest | string {
  const out: HTTPMatchRequest = {};
  const mm = m.method;
  if (mm) {
    if (mm.service === undefined && mm.method === undefined) {
      return "gRPC match must have method or service defined";
    }
    const exact = (mm.type ?? "Exact") === "Exact";
    if (mm.method === undefined) {
      out.uri = exact ? { prefix: `/${mm.service}/` } : { regex: `/${mm.service}/.+` };
    } else if (mm.service === undefined) out.uri = { regex: `/[^/]+/${mm.method}` };
    else {
      out.uri = exact
        ? { exact: `/${mm.service}/${mm.method}` }
        : { regex: `/${mm.service}/${mm.method}` };
    }
  }
  if (m.headers?.length) {
    out.headers = Object.fromEntries(m.headers.map((h) => [h.name, stringMatch(h.type, h.value)]));
  }
  return out;
}

function redirectOf(f: RequestRedirectFilter): HTTPRoute["redirect"] {
  const out: NonNullable<HTTPRoute["redirect"]> = { redirectCode: f.statusCode ?? 302 };
  if (f.hostname !== undefined) out.authority = f.hostname;
  if (f.scheme !== undefined) out.scheme = f.scheme;
  if (f.port !== undefined) out.port = f.port;
  else out.derivePort = f.scheme !== undefined ? "FROM_PROTOCOL_DEFAULT" : "FROM_REQUEST_PORT";
  if (f.path?.type === "ReplaceFullPath") out.uri = f.path.replaceFullPath;
  else if (f.path?.type === "ReplacePrefixMatch") out.prefixRewrite = f.path.replacePrefixMatch;
  return out;
}

function rewriteOf(f: URLRewriteFilter): HTTPRoute["rewrite"] | undefined {
  const out: NonNullable<HTTPRoute["rewrite"]> = {};
  if (f.path?.type === "ReplacePrefixMatch") {
    out.uri = (f.path.replacePrefixMatch ?? "").replace(/\/$/, "") || "/";
  } else if (f.path?.type === "ReplaceFullPath") {
    out.uriRegexRewrite = { match: "/.*", rewrite: f.path.replaceFullPath ?? "" };
  }
  if (f.hostname !== undefined) out.authority = f.hostname;
  return out.uri || out.uriRegexRewrite || out.authority ? out : undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"); // Go's regexp.QuoteMeta
}

function corsOf(f: CorsFilter): CorsPolicy {
  const out: CorsPolicy = { allowOrigins: [], unmatchedPreflights: "IGNORE" };
  for (const o of f.allowOrigins ?? []) {
    if (o === "*") out.allowOrigins!.push({ regex: "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s?#]+$" });
    else if (!o.includes("*")) out.allowOrigins!.push({ exact: o });
    else if (o.indexOf("*") === o.length - 1) out.allowOrigins!.push({ prefix: o.slice(0, -1) });
    else out.allowOrigins!.push({ regex: `^${escapeRegex(o).replaceAll("\\*", ".*")}$` });
  }
  if (f.allowCredentials) out.allowCredentials = true;
  if (f.allowMethods?.length) out.allowMethods = [...f.allowMethods];
  if (f.allowHeaders?.length) out.allowHeaders = [...f.allowHeaders];
  if (f.exposeHeaders?.length) out.exposeHeaders = [...f.exposeHeaders];
  if ((f.maxAge ?? 0) > 0) out.maxAge = `${f.maxAge}s`;
  return out;
}

function mirrorOf(f: RequestMirrorFilter, ctx: RuleContext): HTTPMirrorPolicy | BackendError {
  const b = resolveBackend(f.backendRef, ctx, ctx.refs);
  if (b.error) return b.error; // Istio drops a mirror whose backend is invalid
  const out: HTTPMirrorPolicy = { destination: { host: b.host, port: { number: b.port! } } };
  if (f.fraction) {
    out.percentage = { value: (100 * f.fraction.numerator) / (f.fraction.denominator ?? 100) };
  } else if (f.percent !== undefined) out.percentage = { value: f.percent };
  return out;
}

interface BackendLike extends BackendInput {
  weight?: number;
  filters?: {
    type: string;
    requestHeaderModifier?: HeaderFilter;
    responseHeaderModifier?: HeaderFilter;
  }[];
}

/** Weighted destinations of a rule (Istio's buildHTTPDestination); invalid ones with host "". */
export function destinationsOf(
  backends: readonly BackendLike[],
  ctx: Pick<RuleContext, "kind" | "namespace" | "enforceGrant" | "refs">,
): { route: HTTPRouteDestination[]; error?: BackendError } {
  const action = backends.filter((b) => (b.weight ?? 1) !== 0);
  let error: BackendError | undefined;
  const route: HTTPRouteDestination[] = [];
  for (const b of action) {
    const r = resolveBackend(b, ctx, ctx.refs);
    if (r.error && !r.error.soft) return { route: [], error: r.error };
    if (r.error) error = r.error;
    const rd: HTTPRouteDestination = {
      destination: r.host === "" ? { host: "" } : { host: r.host, port: { number: r.port! } },
    };
    if (action.length > 1) rd.weight = b.weight ?? 1;
    for (const f of b.filters ?? []) {
      if (f.type === "RequestHeaderModifier" && f.requestHeaderModifier) {
        rd.headers = { ...rd.headers, request: headerOps(f.requestHeaderModifier) };
      } else if (f.type === "ResponseHeaderModifier" && f.responseHeaderModifier) {
        rd.headers = { ...rd.headers, response: headerOps(f.responseHeaderModifier) };
      } else {
        return {
          route: [],
          error: {
            reason: "InvalidFilter",
            message: `unsupported filter type "${f.type}"`,
            soft: false,
          },
        };
      }
    }
    route.push(rd);
  }
  return { route, ...(error ? { error } : {}) };
}

function joinErrors(
  a: BackendError | undefined,
  b: BackendError | undefined,
): BackendError | undefined {
  if (!a) return b;
  if (!b) return a;
  return { ...a, message: `${a.message}; ${b.message}` };
}

function durationOf(d: string | undefined): string | undefined {
  if (d === undefined) return undefined;
  const ns = parseDuration(d);
  return typeof ns === "bigint" && ns > 0n ? d : undefined;
}

/** The routes of one HTTPRoute rule: one per match (the rule's index is `pos`). */
export function convertHttpRule(
  rule: HTTPRouteRule,
  match: HTTPRouteMatch | undefined,
  pos: number,
  ctx: RuleContext,
): RuleResult {
  const vs: HTTPRoute = { name: rule.name ?? `${ctx.namespace}.${ctx.name}.${pos}` };
  if (match) {
    const m = httpMatch(match);
    for (
      const re of [
        m.uri?.regex,
        ...Object.values(m.headers ?? {}).map((h) => h.regex),
        ...Object.values(m.queryParams ?? {}).map((q) => q.regex),
      ]
    ) {
      const problem = re === undefined ? undefined : regexProblem(re);
      if (problem) {
        return hard(
          "InvalidConfiguration",
          `invalid regular expression ${JSON.stringify(re)}: ${problem}`,
        );
      }
    }
    vs.match = [m];
  }
  let mirrorError: BackendError | undefined;
  for (const f of (rule.filters ?? []) as HTTPRouteFilter[]) {
    if (f.type === "RequestHeaderModifier" && f.requestHeaderModifier) {
      vs.headers = { ...vs.headers, request: headerOps(f.requestHeaderModifier) };
    } else if (f.type === "ResponseHeaderModifier" && f.responseHeaderModifier) {
      vs.headers = { ...vs.headers, response: headerOps(f.responseHeaderModifier) };
    } else if (f.type === "RequestRedirect" && f.requestRedirect) {
      vs.redirect = redirectOf(f.requestRedirect);
    } else if (f.type === "RequestMirror" && f.requestMirror) {
      const m = mirrorOf(f.requestMirror, ctx);
      if ("reason" in m) mirrorError = m;
      else (vs.mirrors ??= []).push(m);
    } else if (f.type === "URLRewrite" && f.urlRewrite) {
      const rw = rewriteOf(f.urlRewrite);
      if (rw) vs.rewrite = rw;
    } else if (f.type === "CORS" && f.cors) vs.corsPolicy = corsOf(f.cors);
    else return hard("InvalidFilter", `unsupported filter type "${f.type}"`);
  }
  if (rule.retry) {
    const retryOn = [
      "connect-failure",
      "refused-stream",
      "unavailable",
      "cancelled",
      ...(rule.retry.codes ?? []).map(String),
    ];
    vs.retries = { attempts: rule.retry.attempts ?? 2, retryOn: retryOn.join(",") };
    if (rule.retry.backoff !== undefined) vs.retries.backoff = rule.retry.backoff;
  }
  const request = durationOf(rule.timeouts?.request);
  if (request) vs.timeout = request;
  const backendRequest = durationOf(rule.timeouts?.backendRequest);
  if (backendRequest) {
    if (vs.retries) vs.retries.perTryTimeout = backendRequest;
    else vs.timeout = backendRequest;
  }
  const sum = (rule.backendRefs ?? []).reduce((n, b) => n + (b.weight ?? 1), 0);
  if (sum === 0 && !vs.redirect) {
    vs.directResponse = { status: 500 };
    return { route: vs, ...(mirrorError ? { error: mirrorError } : {}) };
  }
  const d = destinationsOf(rule.backendRefs ?? [], ctx);
  if (d.error && !d.error.soft) return { error: d.error };
  if (d.route.length) vs.route = d.route;
  const error = joinErrors(d.error, mirrorError);
  return { route: vs, ...(error ? { error } : {}) };
}

/** The routes of one GRPCRoute rule, one per match. */
export function convertGrpcRule(
  rule: GRPCRouteRule,
  match: GRPCRouteMatch | undefined,
  pos: number,
  ctx: RuleContext,
): RuleResult {
  const vs: HTTPRoute = { name: rule.name ?? `${ctx.namespace}.${ctx.name}.${pos}` };
  if (match) {
    const m = grpcMatch(match);
    if (typeof m === "string") return hard("InvalidConfiguration", m);
    vs.match = [m];
  }
  for (const f of rule.filters ?? []) {
    if (f.type === "RequestHeaderModifier" && f.requestHeaderModifier) {
      vs.headers = { ...vs.headers, request: headerOps(f.requestHeaderModifier) };
    } else if (f.type === "ResponseHeaderModifier" && f.responseHeaderModifier) {
      vs.headers = { ...vs.headers, response: headerOps(f.responseHeaderModifier) };
    } else if (f.type === "RequestMirror" && f.requestMirror) {
      const m = mirrorOf(f.requestMirror, ctx);
      if ("reason" in m) return { error: { ...m, soft: false } };
      (vs.mirrors ??= []).push(m);
    } else return hard("InvalidFilter", `unsupported filter type "${f.type}"`);
  }
  const sum = (rule.backendRefs ?? []).reduce((n, b) => n + (b.weight ?? 1), 0);
  if (sum === 0) {
    vs.directResponse = { status: 500 };
    return { route: vs };
  }
  const d = destinationsOf(rule.backendRefs ?? [], { ...ctx, kind: "GRPCRoute" });
  if (d.error && !d.error.soft) return { error: d.error };
  if (d.route.length) vs.route = d.route;
  return { route: vs, ...(d.error ? { error: d.error } : {}) };
}

function uriRank(m: HTTPMatchRequest | undefined): [number, number] {
  const u = m?.uri;
  if (!u) return [-1, 0];
  if (u.exact !== undefined) return [3, u.exact.length];
  if (u.prefix !== undefined) return [2, u.prefix.length];
  if (u.regex !== undefined) return [1, u.regex.length];
  return [-1, 0];
}

/**
 * Istio's order of Gateway API routes (stable): by path match type (Exact, PathPrefix,
 * RegularExpression), longer paths first, then a method match, more header matches, more query
 * matches; routes without a match last.
 */
export function sortRoutes(routes: HTTPRoute[]): HTTPRoute[] {
  const key = (r: HTTPRoute) => {
    const m = r.match?.[0];
    const [rank, len] = uriRank(m);
    return {
      none: !r.match?.length,
      rank,
      len,
      method: m?.method ? 1 : 0,
      headers: Object.keys(m?.headers ?? {}).length,
      query: Object.keys(m?.queryParams ?? {}).length,
    };
  };
  return routes
    .map((r, i) => ({ r, i, k: key(r) }))
    .sort((a, b) => {
      if (a.k.none !== b.k.none) return a.k.none ? 1 : -1;
      if (a.k.none) return a.i - b.i;
      return b.k.rank - a.k.rank || b.k.len - a.k.len || b.k.method - a.k.method ||
        b.k.headers - a.k.headers || b.k.query - a.k.query || a.i - b.i;
    })
    .map((x) => x.r);
}

/**
 * Istio's routes as mesh's proxies take them, with the behaviour Envoy gives them under Istio's
 * Gateway API semantics: a `PathPrefix` matches whole path segments (`/foo` and `/foo/...`, not
 * `/foobar`), so a prefix becomes an exact match and a prefix of `<prefix>/` (a prefix rewrite
 * or redirect then splits the route in two); the share of invalid backends gets 500 (as a fault
 * abort of that share, or a direct 500 when no backend is valid).
 */
export function meshRoutes(routes: readonly HTTPRoute[]): HTTPRoute[] {
  const out: HTTPRoute[] = [];
  for (const r0 of routes) {
    const r = invalidShare(r0);
    const m = r.match?.[0];
    // A prefix `/foo` or `/foo/` is Envoy's path_separated_prefix `/foo` under Istio.
    const prefix = m?.uri?.prefix?.replace(/\/$/, "");
    if (prefix === undefined || prefix === "") {
      out.push(r);
      continue;
    }
    const exact: HTTPMatchRequest = { ...m, uri: { exact: prefix } };
    const under: HTTPMatchRequest = { ...m, uri: { prefix: `${prefix}/` } };
    const rewriting = r.rewrite?.uri !== undefined || r.redirect?.prefixRewrite !== undefined;
    if (!rewriting) {
      out.push({ ...r, match: [exact, under] });
      continue;
    }
    const withSlash = (s: string) => s.endsWith("/") ? s : `${s}/`;
    const a: HTTPRoute = { ...r, match: [exact] };
    const b: HTTPRoute = { ...r, match: [under] };
    if (r.rewrite?.uri !== undefined) {
      a.rewrite = { ...r.rewrite };
      b.rewrite = { ...r.rewrite, uri: withSlash(r.rewrite.uri) };
    }
    if (r.redirect?.prefixRewrite !== undefined) {
      const { prefixRewrite, ...rest } = r.redirect;
      a.redirect = { ...rest, uri: prefixRewrite };
      b.redirect = { ...r.redirect, prefixRewrite: withSlash(prefixRewrite) };
    }
    out.push(a, b);
  }
  return out;
}

function invalidShare(r: HTTPRoute): HTTPRoute {
  const dests = r.route ?? [];
  const bad = dests.filter((d) => d.destination.host === "");
  if (bad.length === 0) return r;
  const good = dests.filter((d) => d.destination.host !== "");
  const { route: _route, ...rest } = r;
  if (good.length === 0) return { ...rest, directResponse: { status: 500 } };
  const total = dests.reduce((n, d) => n + (d.weight ?? 1), 0);
  const badWeight = bad.reduce((n, d) => n + (d.weight ?? 1), 0);
  return {
    ...rest,
    route: good,
    fault: { abort: { httpStatus: 500, percentage: { value: (100 * badWeight) / total } } },
  };
}
