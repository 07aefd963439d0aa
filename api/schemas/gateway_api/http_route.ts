/**
 * The Gateway API's HTTPRoute: hostnames, parentRefs and rules (matches, filters, weighted
 * backendRefs, timeouts, retry). The CRD's schema and CEL rules, with its defaults applied where
 * a rule depends on them (the apiserver defaults before it validates).
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  intRange,
  NOT_SUPPORTED,
  parseDuration,
  type Path,
  portNumber,
  quote,
  regexProblem,
  type Reporter,
} from "../common.ts";
import {
  backendObjectReference,
  checkBackendPort,
  checkFilterFields,
  checkFilterRepeats,
  checkHeaderFilter,
  checkMirrorFilter,
  checkParentRefs,
  checkRuleNames,
  duration,
  extensionRefFilter,
  formatString,
  headerFilter,
  headerName,
  headerValue,
  hostname,
  parentReference,
  preciseHostname,
  requestMirrorFilter,
  sectionName,
  weight,
} from "./common.ts";

/** HTTP methods a match or CORS policy may name. */
export const HTTP_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
] as const;

const pathModifier = z.strictObject({
  type: z.enum(["ReplaceFullPath", "ReplacePrefixMatch"]),
  replaceFullPath: z.string().max(1024).optional(),
  replacePrefixMatch: z.string().max(1024).optional(),
});

const requestRedirect = z.strictObject({
  scheme: z.enum(["http", "https"]).optional(),
  hostname: preciseHostname.optional(),
  path: pathModifier.optional(),
  port: portNumber.optional(),
  statusCode: z.number().refine((n) => [301, 302, 303, 307, 308].includes(n), {
    error: (i) => `must be one of 301, 302, 303, 307, 308; got ${String(i.input)}`,
  }).optional(),
});
/** A RequestRedirect filter. */
export type RequestRedirectFilter = z.infer<typeof requestRedirect>;

const urlRewrite = z.strictObject({
  hostname: preciseHostname.optional(),
  path: pathModifier.optional(),
});
/** A URLRewrite filter. */
export type URLRewriteFilter = z.infer<typeof urlRewrite>;

const ORIGIN_RE =
  /(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)/;

const cors = z.strictObject({
  allowOrigins: z.array(formatString({
    min: 1,
    max: 253,
    re: ORIGIN_RE,
    what: "origin",
    hint: "write * or scheme://host[:port], like https://*.example.com",
  })).max(64).optional(),
  allowCredentials: z.boolean().optional(),
  allowMethods: z.array(z.enum([...HTTP_METHODS, "*"])).max(9).optional(),
  allowHeaders: z.array(headerName).max(64).optional(),
  exposeHeaders: z.array(headerName).max(64).optional(),
  maxAge: intRange(1, 2147483647).optional(),
});
/** A CORS filter. */
export type CorsFilter = z.infer<typeof cors>;

const externalAuth = z.strictObject({
  protocol: z.enum(["HTTP", "GRPC"]),
  backendRef: backendObjectReference,
  grpc: z.strictObject({ allowedHeaders: z.array(z.string()).max(64).optional() }).optional(),
  http: z.strictObject({
    path: z.string().max(1024).optional(),
    allowedHeaders: z.array(z.string()).max(64).optional(),
    allowedResponseHeaders: z.array(z.string()).max(64).optional(),
  }).optional(),
  forwardBody: z.strictObject({ maxSize: intRange(0, 2147483647).optional() }).optional(),
});

/** The filter types of HTTPRoute, each with the field it sets. */
export const HTTP_FILTER_FIELDS = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestMirror: "requestMirror",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  ExtensionRef: "extensionRef",
  CORS: "cors",
  ExternalAuth: "externalAuth",
} as const;

const filter = z.strictObject({
  type: z.enum(Object.keys(HTTP_FILTER_FIELDS) as [keyof typeof HTTP_FILTER_FIELDS]),
  requestHeaderModifier: headerFilter.optional(),
  responseHeaderModifier: headerFilter.optional(),
  requestMirror: requestMirrorFilter.optional(),
  requestRedirect: requestRedirect.optional(),
  urlRewrite: urlRewrite.optional(),
  extensionRef: extensionRefFilter.optional(),
  cors: cors.optional(),
  externalAuth: externalAuth.optional(),
});
/** One filter of an HTTPRoute rule or backendRef. */
export type HTTPRouteFilter = z.infer<typeof filter>;

const match = z.strictObject({
  path: z.strictObject({
    type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).optional(),
    value: z.string().max(1024).optional(),
  }).optional(),
  headers: z.array(z.strictObject({
    type: z.enum(["Exact", "RegularExpression"]).optional(),
    name: headerName,
    value: headerValue,
  })).max(16).optional(),
  queryParams: z.array(z.strictObject({
    type: z.enum(["Exact", "RegularExpression"]).optional(),
    name: headerName,
    value: z.string().min(1).max(1024),
  })).max(16).optional(),
  method: z.enum(HTTP_METHODS).optional(),
});
/** One match of an HTTPRoute rule. */
export type HTTPRouteMatch = z.infer<typeof match>;

const httpBackendRef = z.strictObject({
  ...backendObjectReference.shape,
  weight: weight.optional(),
  filters: z.array(filter).max(16).optional(),
});
/** A weighted backend of an HTTPRoute rule, with its own filters. */
export type HTTPBackendRef = z.infer<typeof httpBackendRef>;

/** Session persistence of a rule (HTTPRoute and GRPCRoute). */
export const sessionPersistence = z.strictObject({
  absoluteTimeout: duration.optional(),
  type: z.enum(["Cookie", "Header"]).optional(),
  cookie: z.strictObject({
    lifetimeType: z.enum(["Permanent", "Session"]).optional(),
    name: headerName.optional(),
    path: z.string().max(1024).optional(),
  }).optional(),
  header: z.strictObject({ name: headerName }).optional(),
});

const rule = z.strictObject({
  name: sectionName.optional(),
  matches: z.array(match).max(64, { error: "at most 64 matches per rule" }).optional(),
  filters: z.array(filter).max(16, { error: "at most 16 filters" }).optional(),
  backendRefs: z.array(httpBackendRef).max(16, { error: "at most 16 backendRefs" }).optional(),
  timeouts: z.strictObject({ request: duration.optional(), backendRequest: duration.optional() })
    .optional(),
  retry: z.strictObject({
    codes: z.array(intRange(400, 599)).optional(),
    attempts: intRange(1, 2147483647).optional(),
    backoff: duration.optional(),
  }).optional(),
  sessionPersistence: sessionPersistence.optional(),
});
/** One rule of an HTTPRoute. */
export type HTTPRouteRule = z.infer<typeof rule>;

/** The `spec` schema of an HTTPRoute. */
export const httpRouteSpec = z.strictObject({
  parentRefs: z.array(parentReference).max(32, { error: "at most 32 parentRefs" }).optional(),
  hostnames: z.array(hostname).max(16, { error: "at most 16 hostnames" }).optional(),
  rules: z.array(rule).min(1, { error: "rules may not be empty; leave it out for the default" })
    .max(16, { error: "at most 16 rules" }).optional(),
  useDefaultGateways: z.enum(["All", "None"]).optional(),
});
/** `spec` of an HTTPRoute. */
export type HTTPRouteSpec = z.infer<typeof httpRouteSpec>;

/** A match's path with the CRD's defaults: `PathPrefix` `/`. */
export function pathOf(m: HTTPRouteMatch): { type: string; value: string } {
  return { type: m.path?.type ?? "PathPrefix", value: m.path?.value ?? "/" };
}

/** A rule's matches with the CRD's default: one `PathPrefix /` match. */
export function matchesOf(r: HTTPRouteRule): HTTPRouteMatch[] {
  return r.matches ?? [{ path: { type: "PathPrefix", value: "/" } }];
}

const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

/** What the CRD says is wrong with an `Exact` or `PathPrefix` path value, if anything. */
export function pathValueProblem(value: string): string | undefined {
  if (!value.startsWith("/")) return "value must be an absolute path and start with '/'";
  for (const bad of ["//", "/./", "/../", "%2f", "%2F", "#"]) {
    if (value.includes(bad)) return `must not contain '${bad}'`;
  }
  for (const end of ["/..", "/."]) if (value.endsWith(end)) return `must not end with '${end}'`;
  if (!PATH_CHARS.test(value)) {
    return "must only contain valid characters (matching " +
      "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$)";
  }
  return undefined;
}

/** The CEL rules of an HTTPRoute, and mesh's warnings. */
export function checkHttpRoute(spec: HTTPRouteSpec, r: Reporter, _ctx: CheckContext): void {
  checkParentRefs(spec.parentRefs, ["spec", "parentRefs"], r);
  const rules = spec.rules ?? [];
  checkRuleNames(rules, ["spec", "rules"], r);
  const total = rules.reduce((n, rule) => n + (rule.matches?.length ?? 1), 0);
  if (total > 128) {
    r.error(
      ["spec", "rules"],
      `While 16 rules and 64 matches per rule are allowed, the total number of matches across ` +
        `all rules in a route must be less than 128 (got ${total})`,
    );
  }
  rules.forEach((rule, i) => checkRule(rule, ["spec", "rules", i], r));
  if (spec.useDefaultGateways !== undefined) r.warn(["spec", "useDefaultGateways"], NOT_SUPPORTED);
}

function checkRule(rule: HTTPRouteRule, path: Path, r: Reporter): void {
  rule.matches?.forEach((m, i) => checkMatch(m, [...path, "matches", i], r));
  checkFilters(rule.filters, [...path, "filters"], r);
  const hasBackends = (rule.backendRefs?.length ?? 0) > 0;
  if (hasBackends && rule.filters?.some((f) => f.requestRedirect !== undefined)) {
    r.error(
      [...path, "filters"],
      "RequestRedirect filter must not be used together with backendRefs",
    );
  }
  const onePrefix = () => {
    const ms = matchesOf(rule);
    return ms.length === 1 && pathOf(ms[0]).type === "PathPrefix";
  };
  const prefixRewrite = (
    fs: HTTPRouteFilter[] | undefined,
    field: "requestRedirect" | "urlRewrite",
  ) =>
    (fs ?? []).filter((f) =>
      f[field]?.path?.type === "ReplacePrefixMatch" &&
      f[field]?.path?.replacePrefixMatch !== undefined
    ).length === 1;
  for (const field of ["requestRedirect", "urlRewrite"] as const) {
    const name = field === "requestRedirect" ? "RequestRedirect" : "URLRewrite";
    if (prefixRewrite(rule.filters, field) && !onePrefix()) {
      r.error(
        [...path, "matches"],
        `When using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match ` +
          "must be specified",
      );
    }
    const inBackends = (rule.backendRefs ?? []).filter((b) => prefixRewrite(b.filters, field));
    if (inBackends.length === 1 && !onePrefix()) {
      r.error(
        [...path, "matches"],
        `Within backendRefs, when using ${name} filter with path.replacePrefixMatch, exactly ` +
          "one PathPrefix match must be specified",
      );
    }
  }
  rule.backendRefs?.forEach((b, i) => {
    checkBackendPort(b, [...path, "backendRefs", i], r);
    checkFilters(b.filters, [...path, "backendRefs", i, "filters"], r);
  });
  const t = rule.timeouts;
  if (t?.request !== undefined && t.backendRequest !== undefined) {
    const req = parseDuration(t.request);
    const backend = parseDuration(t.backendRequest);
    if (typeof req === "bigint" && typeof backend === "bigint" && req !== 0n && backend > req) {
      r.error(
        [...path, "timeouts", "backendRequest"],
        "backendRequest timeout cannot be longer than request timeout",
      );
    }
  }
  const codes = new Set<number>();
  rule.retry?.codes?.forEach((c, i) => {
    if (codes.has(c)) r.error([...path, "retry", "codes", i], `duplicate code ${c}`);
    codes.add(c);
  });
  if (rule.sessionPersistence) {
    checkSessionPersistence(rule.sessionPersistence, [...path, "sessionPersistence"], r);
    r.warn([...path, "sessionPersistence"], NOT_SUPPORTED);
  }
}

function checkMatch(m: HTTPRouteMatch, path: Path, r: Reporter): void {
  const p = pathOf(m);
  if (p.type === "Exact" || p.type === "PathPrefix") {
    const problem = pathValueProblem(p.value);
    if (problem) {
      r.error([...path, "path", "value"], `${problem} when type one of ['Exact', 'PathPrefix']`);
    }
  } else {
    const problem = regexProblem(p.value);
    if (problem) {
      r.warn(
        [...path, "path", "value"],
        `invalid RE2 regular expression (${problem}): mesh's proxy can't use it; the rule is not programmed`,
      );
    }
  }
  for (const field of ["headers", "queryParams"] as const) {
    const names = new Map<string, number>();
    m[field]?.forEach((h, i) => {
      const earlier = names.get(h.name);
      if (earlier !== undefined) {
        r.error(
          [...path, field, i, "name"],
          `duplicate name ${quote(h.name)} (also at ${field}[${earlier}])`,
        );
      } else names.set(h.name, i);
      if (h.type === "RegularExpression") {
        const problem = regexProblem(h.value);
        if (problem) {
          r.warn(
            [...path, field, i, "value"],
            `invalid RE2 regular expression (${problem}): mesh's proxy can't use it; the rule is not programmed`,
          );
        }
      }
    });
  }
}

function checkFilters(filters: HTTPRouteFilter[] | undefined, path: Path, r: Reporter): void {
  if (!filters) return;
  const types = filters.map((f) => f.type);
  if (types.includes("RequestRedirect") && types.includes("URLRewrite")) {
    r.error(
      path,
      "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
    );
  }
  checkFilterRepeats(
    filters,
    ["CORS", "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"],
    path,
    r,
  );
  filters.forEach((f, i) => {
    const at = [...path, i];
    checkFilterFields(f, HTTP_FILTER_FIELDS, at, r);
    if (f.requestHeaderModifier) {
      checkHeaderFilter(f.requestHeaderModifier, [...at, "requestHeaderModifier"], r);
    }
    if (f.responseHeaderModifier) {
      checkHeaderFilter(f.responseHeaderModifier, [...at, "responseHeaderModifier"], r);
    }
    if (f.requestMirror) checkMirrorFilter(f.requestMirror, [...at, "requestMirror"], r);
    for (const field of ["requestRedirect", "urlRewrite"] as const) {
      const pm = f[field]?.path;
      if (!pm) continue;
      const p = [...at, field, "path"];
      if (pm.type === "ReplaceFullPath" && pm.replaceFullPath === undefined) {
        r.error(p, "replaceFullPath must be specified when type is set to 'ReplaceFullPath'");
      }
      if (pm.replaceFullPath !== undefined && pm.type !== "ReplaceFullPath") {
        r.error(p, "type must be 'ReplaceFullPath' when replaceFullPath is set");
      }
      if (pm.type === "ReplacePrefixMatch" && pm.replacePrefixMatch === undefined) {
        r.error(p, "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'");
      }
      if (pm.replacePrefixMatch !== undefined && pm.type !== "ReplacePrefixMatch") {
        r.error(p, "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set");
      }
    }
    if (f.cors) {
      for (const field of ["allowOrigins", "allowMethods", "allowHeaders"] as const) {
        const list: readonly string[] = f.cors[field] ?? [];
        if (list.includes("*") && list.length > 1) {
          const what = field.slice(5);
          r.error(
            [...at, "cors", field],
            `${field[0].toUpperCase()}${
              field.slice(1)
            } cannot contain '*' alongside other ${what.toLowerCase()}`,
          );
        }
        if (new Set(list).size !== list.length) {
          r.error([...at, "cors", field], "duplicate entries");
        }
      }
    }
    if (f.externalAuth) {
      const e = f.externalAuth;
      const ep = [...at, "externalAuth"];
      if (e.protocol === "GRPC" && !e.grpc) {
        r.error(ep, "grpc must be specified when protocol is set to 'GRPC'");
      }
      if (e.grpc && e.protocol !== "GRPC") r.error(ep, "protocol must be 'GRPC' when grpc is set");
      if (e.protocol === "HTTP" && !e.http) {
        r.error(ep, "http must be specified when protocol is set to 'HTTP'");
      }
      if (e.http && e.protocol !== "HTTP") r.error(ep, "protocol must be 'HTTP' when http is set");
      checkBackendPort(e.backendRef, [...ep, "backendRef"], r);
    }
  });
}

/** The CEL rules of `sessionPersistence` (shared with GRPCRoute). */
export function checkSessionPersistence(
  s: NonNullable<HTTPRouteRule["sessionPersistence"]>,
  path: Path,
  r: Reporter,
): void {
  const type = s.type ?? "Cookie";
  if (s.cookie?.lifetimeType === "Permanent" && s.absoluteTimeout === undefined) {
    r.error(path, "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent");
  }
  if (s.cookie && type !== "Cookie") {
    r.error([...path, "cookie"], "cookie must be nil if type is not Cookie");
  }
  if (type === "Cookie" && !s.cookie) r.error(path, "cookie must be specified for Cookie type");
  if (s.header && type !== "Header") {
    r.error([...path, "header"], "header must be nil if type is not Header");
  }
  if (type === "Header" && !s.header) r.error(path, "header must be specified for Header type");
}
