/**
 * RequestAuthentication (`security.istio.io`): JWT rules, with Istio's rules (its webhook's
 * ValidateRequestAuthentication and the CRD's schema and CEL rules).
 * @module
 */

import { z } from "zod";
import {
  duration,
  NOT_SUPPORTED,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  SIMPLE_HEADER_NAME,
  stringList,
  warnUnsupported,
  workloadSelector,
} from "./common.ts";
import { checkPolicyTargetsAsIstio } from "./policy_targets.ts";
import { UNSUPPORTED_JWT_RULE } from "./unsupported.ts";

/** `presence` of a JWT rule: whether a request must carry a token. */
export const JWT_PRESENCE = ["OPTIONAL", "REQUIRED"] as const;

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
  presence: z.enum(JWT_PRESENCE).optional(),
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
  checkPolicyTargetsAsIstio(spec, r);
  for (const k of ["targetRef", "targetRefs"] as const) {
    if (spec[k] !== undefined) r.warn(["spec", k], `${NOT_SUPPORTED} (the policy is skipped)`);
  }
  spec.jwtRules?.forEach((jr, i) => checkJwtRule(jr, ["spec", "jwtRules", i], r));
}

function checkJwtRule(jr: JWTRule, path: Path, r: Reporter): void {
  warnUnsupported(jr, UNSUPPORTED_JWT_RULE, path, r);
  const uris = (["jwksUri", "jwks_uri"] as const).filter((k) => jr[k]);
  if (jr.issuer === "") {
    r.error([...path, "issuer"], "issuer may not be empty; remove it, or set the tokens' iss");
  } else if (jr.issuer === undefined && uris.length === 0) {
    r.error(
      [...path, "issuer"],
      `missing required field "issuer"; set it to the iss claim of the tokens (or set jwksUri ` +
        "to accept any issuer its keys sign for)",
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
    else if (!/^[a-z]+:\/\/[^/?#]/i.test(uri)) {
      r.warn(
        [...path, field],
        `jwksUri ${quote(uri)} names no host, so no keys can be fetched from it and its ` +
          "tokens are refused",
      );
    }
  }
  if (jr.jwks !== undefined) checkJwks(jr.jwks, [...path, "jwks"], r);
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
    if (o.header === "") r.error([...at, "header"], "header may not be empty");
    else if (!SIMPLE_HEADER_NAME.test(o.header)) {
      r.error(
        [...at, "header"],
        `invalid header name ${quote(o.header)}; use letters, digits, '-' and '_'`,
      );
    }
  });
}

/** Characters Go's `net/url` takes in a host besides letters, digits and `%` escapes. */
const HOST_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]*$/;
/** The largest port Go's `strconv.Atoi` reads. */
const MAX_ATOI = 9223372036854775807n;

/**
 * Problems with a `jwksUri`, as Go's `url.Parse` and `url.ParseRequestURI` (the CRD's `url()`)
 * read it and Istio then checks it: an `http` or `https` scheme, a host Go can parse, a numeric
 * port.
 */
export function jwksUriProblem(uri: string): string | undefined {
  if (uri === "") return "jwksUri may not be empty";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(uri)) return "jwksUri may not contain control characters";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m) return `invalid URL ${quote(uri)}; use an http:// or https:// URL`;
  const scheme = m[1].toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    return `jwksUri must be an http:// or https:// URL; got scheme ${quote(scheme)}`;
  }
  if (/%(?![0-9a-fA-F]{2})/.test(uri)) return `invalid % escape in jwksUri ${quote(uri)}`;
  const rest = m[2].replace(/[?#].*$/s, "");
  if (!rest.startsWith("//")) return undefined;
  const end = rest.indexOf("/", 2);
  const authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
  const host = authority.slice(authority.lastIndexOf("@") + 1);
  let port = "";
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return `invalid host in jwksUri ${quote(uri)}: missing ']'`;
    const after = host.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) return `invalid port in jwksUri ${quote(uri)}`;
    port = after.slice(1);
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0) port = host.slice(colon + 1);
    if (!HOST_CHARS.test(host)) return `invalid character in the host of jwksUri ${quote(uri)}`;
  }
  if (port !== "" && (!/^\d+$/.test(port) || BigInt(port) > MAX_ATOI)) {
    return `invalid port ${quote(port)} in jwksUri; use a number`;
  }
  return undefined;
}

/** The key types a JSON Web Key may have. */
const KEY_TYPES = ["RSA", "EC", "OKP", "oct"];

/**
 * Checks an inline `jwks`: a JSON Web Key Set (`{"keys": [...]}`) or a single key, each key with
 * a known `kty`. A key with private material (`d`, or a symmetric `oct` key) is a warning: only
 * public keys verify tokens.
 */
function checkJwks(jwks: string, path: Path, r: Reporter): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwks);
  } catch (e) {
    r.error(
      path,
      `jwks is not valid JSON (${e instanceof Error ? e.message : String(e)}); ` +
        'inline a JSON Web Key Set like {"keys": [...]}',
    );
    return;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    r.error(path, 'jwks must be a JSON Web Key Set object like {"keys": [...]}');
    return;
  }
  const obj = parsed as Record<string, unknown>;
  const keys = obj.keys === undefined ? [obj] : obj.keys;
  if (!Array.isArray(keys)) {
    r.error(path, 'jwks "keys" must be a list of JSON Web Keys');
    return;
  }
  keys.forEach((key, i) => {
    const at = obj.keys === undefined ? "jwks" : `jwks keys[${i}]`;
    const k = typeof key === "object" && key !== null ? key as Record<string, unknown> : {};
    if (typeof k.kty !== "string" || !KEY_TYPES.includes(k.kty)) {
      r.error(
        path,
        `${at} is not a JSON Web Key: its "kty" must be one of ${KEY_TYPES.join(", ")}`,
      );
    } else if (k.kty === "oct" || "d" in k) {
      r.warn(
        path,
        `${at} holds private key material; only public keys are needed to verify tokens`,
      );
    }
  });
}
