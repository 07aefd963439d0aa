/**
 * The Gateway API's GRPCRoute: gRPC service/method matches, header matches, header and mirror
 * filters, weighted backendRefs. The CRD's schema and CEL rules.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  NOT_SUPPORTED,
  type Path,
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
  extensionRefFilter,
  headerFilter,
  headerName,
  hostname,
  parentReference,
  requestMirrorFilter,
  sectionName,
  weight,
} from "./common.ts";
import { checkSessionPersistence, sessionPersistence } from "./http_route.ts";

/** The filter types of GRPCRoute, each with the field it sets. */
export const GRPC_FILTER_FIELDS = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestMirror: "requestMirror",
  ExtensionRef: "extensionRef",
} as const;

const filter = z.strictObject({
  type: z.enum(Object.keys(GRPC_FILTER_FIELDS) as [keyof typeof GRPC_FILTER_FIELDS]),
  requestHeaderModifier: headerFilter.optional(),
  responseHeaderModifier: headerFilter.optional(),
  requestMirror: requestMirrorFilter.optional(),
  extensionRef: extensionRefFilter.optional(),
});
/** One filter of a GRPCRoute rule or backendRef. */
export type GRPCRouteFilter = z.infer<typeof filter>;

const match = z.strictObject({
  method: z.strictObject({
    type: z.enum(["Exact", "RegularExpression"]).optional(),
    service: z.string().max(1024).optional(),
    method: z.string().max(1024).optional(),
  }).optional(),
  headers: z.array(z.strictObject({
    type: z.enum(["Exact", "RegularExpression"]).optional(),
    name: headerName,
    value: z.string().min(1).max(4096),
  })).max(16).optional(),
});
/** One match of a GRPCRoute rule. */
export type GRPCRouteMatch = z.infer<typeof match>;

const grpcBackendRef = z.strictObject({
  ...backendObjectReference.shape,
  weight: weight.optional(),
  filters: z.array(filter).max(16).optional(),
});
/** A weighted backend of a GRPCRoute rule. */
export type GRPCBackendRef = z.infer<typeof grpcBackendRef>;

const rule = z.strictObject({
  name: sectionName.optional(),
  matches: z.array(match).max(64, { error: "at most 64 matches per rule" }).optional(),
  filters: z.array(filter).max(16, { error: "at most 16 filters" }).optional(),
  backendRefs: z.array(grpcBackendRef).max(16, { error: "at most 16 backendRefs" }).optional(),
  sessionPersistence: sessionPersistence.optional(),
});
/** One rule of a GRPCRoute. */
export type GRPCRouteRule = z.infer<typeof rule>;

/** The `spec` schema of a GRPCRoute. */
export const grpcRouteSpec = z.strictObject({
  parentRefs: z.array(parentReference).max(32, { error: "at most 32 parentRefs" }).optional(),
  hostnames: z.array(hostname).max(16, { error: "at most 16 hostnames" }).optional(),
  rules: z.array(rule).max(16, { error: "at most 16 rules" }).optional(),
  useDefaultGateways: z.enum(["All", "None"]).optional(),
});
/** `spec` of a GRPCRoute. */
export type GRPCRouteSpec = z.infer<typeof grpcRouteSpec>;

const SERVICE_RE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const METHOD_RE = /^[A-Za-z_][A-Za-z_0-9]*$/;

/** The CEL rules of a GRPCRoute. */
export function checkGrpcRoute(spec: GRPCRouteSpec, r: Reporter, _ctx: CheckContext): void {
  checkParentRefs(spec.parentRefs, ["spec", "parentRefs"], r);
  const rules = spec.rules ?? [];
  checkRuleNames(rules, ["spec", "rules"], r);
  const total = rules.reduce((n, rule) => n + (rule.matches?.length ?? 0), 0);
  if (total > 128) {
    r.error(
      ["spec", "rules"],
      `While 16 rules and 64 matches per rule are allowed, the total number of matches across ` +
        `all rules in a route must be less than 128 (got ${total})`,
    );
  }
  rules.forEach((rule, i) => {
    const path: Path = ["spec", "rules", i];
    rule.matches?.forEach((m, j) => checkMatch(m, [...path, "matches", j], r));
    checkFilters(rule.filters, [...path, "filters"], r);
    rule.backendRefs?.forEach((b, j) => {
      checkBackendPort(b, [...path, "backendRefs", j], r);
      checkFilters(b.filters, [...path, "backendRefs", j, "filters"], r);
    });
    if (rule.sessionPersistence) {
      checkSessionPersistence(rule.sessionPersistence, [...path, "sessionPersistence"], r);
      r.warn([...path, "sessionPersistence"], NOT_SUPPORTED);
    }
  });
  if (spec.useDefaultGateways !== undefined) r.warn(["spec", "useDefaultGateways"], NOT_SUPPORTED);
}

function checkMatch(m: GRPCRouteMatch, path: Path, r: Reporter): void {
  const mm = m.method;
  if (mm) {
    const exact = (mm.type ?? "Exact") === "Exact";
    if (mm.type !== undefined && mm.service === undefined && mm.method === undefined) {
      r.error([...path, "method"], "One or both of 'service' or 'method' must be specified");
    }
    if (exact && mm.service !== undefined && !SERVICE_RE.test(mm.service)) {
      r.error(
        [...path, "method", "service"],
        "service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)",
      );
    }
    if (exact && mm.method !== undefined && !METHOD_RE.test(mm.method)) {
      r.error(
        [...path, "method", "method"],
        "method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)",
      );
    }
    if (!exact) {
      for (const f of ["service", "method"] as const) {
        const problem = mm[f] === undefined ? undefined : regexProblem(mm[f]!);
        if (problem) {
          r.warn(
            [...path, "method", f],
            `invalid RE2 regular expression (${problem}): mesh's proxy can't use it; the rule is not programmed`,
          );
        }
      }
    }
  }
  const names = new Map<string, number>();
  m.headers?.forEach((h, i) => {
    const earlier = names.get(h.name);
    if (earlier !== undefined) {
      r.error(
        [...path, "headers", i, "name"],
        `duplicate name ${quote(h.name)} (also at headers[${earlier}])`,
      );
    } else names.set(h.name, i);
  });
}

function checkFilters(filters: GRPCRouteFilter[] | undefined, path: Path, r: Reporter): void {
  if (!filters) return;
  checkFilterRepeats(filters, ["RequestHeaderModifier", "ResponseHeaderModifier"], path, r);
  filters.forEach((f, i) => {
    const at = [...path, i];
    checkFilterFields(f, GRPC_FILTER_FIELDS, at, r);
    if (f.requestHeaderModifier) {
      checkHeaderFilter(f.requestHeaderModifier, [...at, "requestHeaderModifier"], r);
    }
    if (f.responseHeaderModifier) {
      checkHeaderFilter(f.responseHeaderModifier, [...at, "responseHeaderModifier"], r);
    }
    if (f.requestMirror) checkMirrorFilter(f.requestMirror, [...at, "requestMirror"], r);
  });
}
