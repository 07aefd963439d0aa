/**
 * RequestAuthentication (`security.istio.io`): JWT rules, with Istio's rules.
 * @module
 */

import { z } from "zod";
import {
  checkPolicyTargets,
  duration,
  NOT_SUPPORTED,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  SIMPLE_HEADER_NAME,
  stringList,
  workloadSelector,
} from "./common.ts";
const jwtRule = z.strictObject({
  issuer: z.string().optional(),
  audiences: stringList.optional(),
  jwksUri: z.string().max(2048).optional(),
  jwks_uri: z.string().max(2048).optional(),
  jwks: z.string().optional(),
  fromHeaders: z.array(z.strictObject({ name: z.string(), prefix: z.string().optional() }))
    .optional(),
  fromParams: stringList.optional(),
  outputPayloadToHeader: z.string().optional(),
  fromCookies: stringList.optional(),
  forwardOriginalToken: z.boolean().optional(),
  outputClaimToHeaders: z.array(z.strictObject({ header: z.string(), claim: z.string() }))
    .optional(),
  timeout: duration().optional(),
  spaceDelimitedClaims: z.array(z.string()).max(64, { error: "at most 64 spaceDelimitedClaims" })
    .optional(),
});
/** How one issuer's JWTs are verified. */
export type JWTRule = z.infer<typeof jwtRule>;

/** The schema of a RequestAuthentication `spec`. */
export const requestAuthenticationSpec = z.strictObject({
  selector: workloadSelector.optional(),
  targetRef: policyTargetReference.optional(),
  targetRefs: z.array(policyTargetReference).optional(),
  jwtRules: z.array(jwtRule).max(4096).optional(),
});
/** `spec` of a RequestAuthentication. */
export type RequestAuthenticationSpec = z.infer<typeof requestAuthenticationSpec>;

/** Checks a RequestAuthentication spec. */
export function checkRequestAuthentication(spec: RequestAuthenticationSpec, r: Reporter): void {
  checkPolicyTargets(spec, r);
  for (const k of ["targetRef", "targetRefs"] as const) {
    if (spec[k] !== undefined) r.warn(["spec", k], `${NOT_SUPPORTED} (the policy is skipped)`);
  }
  spec.jwtRules?.forEach((jr, i) => checkJwtRule(jr, ["spec", "jwtRules", i], r));
}

function checkJwtRule(jr: JWTRule, path: Path, r: Reporter): void {
  if (!jr.issuer) {
    r.error(
      [...path, "issuer"],
      jr.issuer === undefined
        ? `missing required field "issuer"; set it to the iss claim of the tokens`
        : "issuer may not be empty",
    );
  }
  const keys = (["jwks", "jwksUri", "jwks_uri"] as const).filter((k) => jr[k] !== undefined);
  if (keys.length > 1) {
    r.error([...path, keys[1]], `${keys.join(" and ")} can't both be set; keep one`);
  }
  for (const field of ["jwksUri", "jwks_uri"] as const) {
    const uri = jr[field];
    if (uri === undefined) continue;
    const problem = jwksUriProblem(uri);
    if (problem) r.error([...path, field], problem);
  }
  if (jr.jwks !== undefined) {
    const problem = jwksProblem(jr.jwks);
    if (problem) r.error([...path, "jwks"], problem);
  }
  for (const field of ["audiences", "fromParams", "fromCookies", "spaceDelimitedClaims"] as const) {
    jr[field]?.forEach((v, k) => {
      if (v === "") r.error([...path, field, k], "empty values are not allowed");
    });
  }
  jr.fromHeaders?.forEach((h, k) => {
    if (h.name === "") {
      r.error([...path, "fromHeaders", k, "name"], "the header name may not be empty");
    }
  });
  jr.outputClaimToHeaders?.forEach((o, k) => {
    const at = [...path, "outputClaimToHeaders", k];
    if (o.claim === "") r.error([...at, "claim"], "claim may not be empty");
    if (!SIMPLE_HEADER_NAME.test(o.header)) {
      r.error(
        [...at, "header"],
        `invalid header name ${quote(o.header)}; use letters, digits, '-' and '_'`,
      );
    }
  });
}

function jwksUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `invalid URL ${quote(uri)}; use an http:// or https:// URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `jwksUri must be an http:// or https:// URL; got scheme ${
      quote(url.protocol.slice(0, -1))
    }`;
  }
  if (url.hostname === "") return `jwksUri ${quote(uri)} has no host`;
  return undefined;
}

function jwksProblem(jwks: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwks);
  } catch (e) {
    return `jwks is not valid JSON (${e instanceof Error ? e.message : String(e)}); ` +
      'inline a JSON Web Key Set like {"keys": [...]}';
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return 'jwks must be a JSON Web Key Set object like {"keys": [...]}';
  }
  const obj = parsed as Record<string, unknown>;
  if (Array.isArray(obj.keys)) {
    const bad = obj.keys.findIndex((k) =>
      typeof k !== "object" || k === null || typeof (k as Record<string, unknown>).kty !== "string"
    );
    return bad < 0 ? undefined : `jwks keys[${bad}] is not a JSON Web Key (it needs "kty")`;
  }
  if (typeof obj.kty === "string") return undefined;
  return 'jwks must be a JSON Web Key Set like {"keys": [...]} or a single key with "kty"';
}
