/**
 * The Gateway API's TCPRoute and TLSRoute: weighted backendRefs for connections (TLSRoute also
 * matches by SNI hostname). v1 allows one rule and, for TLSRoute, requires hostnames; v1alpha2
 * (and TLSRoute v1alpha3) allow up to 16 rules.
 * @module
 */

import { z } from "zod";
import type { CheckContext, Reporter } from "../common.ts";
import {
  backendRef,
  checkBackendPort,
  checkNoIPHostnames,
  checkParentRefs,
  checkRuleNames,
  hostname,
  parentReference,
  sectionName,
} from "./common.ts";
import { NOT_SUPPORTED } from "../common.ts";

const rule = z.strictObject({
  name: sectionName.optional(),
  backendRefs: z.array(backendRef).min(1, { error: "a rule needs at least one backendRef" })
    .max(16, { error: "at most 16 backendRefs" }),
});
/** One rule of a TCPRoute or TLSRoute. */
export type L4RouteRule = z.infer<typeof rule>;

const rules = z.array(rule).min(1, { error: "rules needs at least one rule" })
  .max(16, { error: "at most 16 rules" });

/** The `spec` schema of a TCPRoute. */
export const tcpRouteSpec = z.strictObject({
  parentRefs: z.array(parentReference).max(32, { error: "at most 32 parentRefs" }).optional(),
  rules,
  useDefaultGateways: z.enum(["All", "None"]).optional(),
});
/** `spec` of a TCPRoute. */
export type TCPRouteSpec = z.infer<typeof tcpRouteSpec>;

/** The `spec` schema of a TLSRoute. */
export const tlsRouteSpec = z.strictObject({
  parentRefs: z.array(parentReference).max(32, { error: "at most 32 parentRefs" }).optional(),
  hostnames: z.array(hostname).max(1024, { error: "at most 1024 hostnames" }).optional(),
  rules,
  useDefaultGateways: z.enum(["All", "None"]).optional(),
});
/** `spec` of a TLSRoute. */
export type TLSRouteSpec = z.infer<typeof tlsRouteSpec>;

function isV1(ctx: CheckContext): boolean {
  return ctx.apiVersion?.endsWith("/v1") ?? false;
}

function checkL4(spec: TCPRouteSpec | TLSRouteSpec, r: Reporter, ctx: CheckContext): void {
  checkParentRefs(spec.parentRefs, ["spec", "parentRefs"], r);
  if (isV1(ctx) && spec.rules.length > 1) {
    r.error(["spec", "rules"], "v1 allows one rule; put every backendRef in it");
  }
  if (!isV1(ctx)) checkRuleNames(spec.rules, ["spec", "rules"], r);
  spec.rules.forEach((rule, i) =>
    rule.backendRefs.forEach((b, j) =>
      checkBackendPort(b, ["spec", "rules", i, "backendRefs", j], r)
    )
  );
  if (spec.useDefaultGateways !== undefined) r.warn(["spec", "useDefaultGateways"], NOT_SUPPORTED);
}

/** The CEL rules of a TCPRoute. */
export function checkTcpRoute(spec: TCPRouteSpec, r: Reporter, ctx: CheckContext): void {
  checkL4(spec, r, ctx);
}

/** The CEL rules of a TLSRoute. */
export function checkTlsRoute(spec: TLSRouteSpec, r: Reporter, ctx: CheckContext): void {
  checkL4(spec, r, ctx);
  if (isV1(ctx)) {
    if (!spec.hostnames?.length) {
      r.error(["spec", "hostnames"], "v1 requires at least one hostname");
    }
    checkNoIPHostnames(spec.hostnames, ["spec", "hostnames"], r);
  }
}
