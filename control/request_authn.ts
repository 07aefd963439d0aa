/**
 * RequestAuthentication → the {@linkcode JwtProvider} list of one proxy: the
 * `jwtRules` of every RequestAuthentication in the proxy's namespace or in the
 * mesh's root namespace whose selector matches it (no selector: all of that
 * namespace, or the whole mesh from the root namespace), merged, as Istio
 * does. Key sets come inline (`jwks`) or from `jwksUri` through the control
 * plane's {@linkcode JwksCache} (via the snapshot); a set not fetched yet has
 * no keys, so its tokens are refused until it arrives.
 * @module
 */
import type { JwtProvider, NodeInfo } from "../api/proxy_config.ts";
import type { RequestAuthentication } from "../api/resources.ts";
import { durationMs } from "../api/schemas/common.ts";
import { NO_KEYS } from "./jwks.ts";
import { labelsMatch } from "./labels.ts";
import { rootNamespaceOf, type Snapshot } from "./snapshot.ts";

type Rule = NonNullable<RequestAuthentication["spec"]["jwtRules"]>[number];

/** The URI a rule fetches its keys from, if any. */
export function jwksUriOf(rule: Rule): string | undefined {
  return rule.jwks === undefined ? rule.jwksUri ?? rule.jwks_uri : undefined;
}

/** The fetch timeout of a rule (`timeout`, default 5 s). */
export function jwksTimeoutOf(rule: Rule): number {
  return durationMs(rule.timeout) ?? 5_000;
}

/** The RequestAuthentications that apply to `node`. */
export function requestAuthenticationsFor(
  snapshot: Snapshot,
  node: Pick<NodeInfo, "namespace" | "labels">,
): RequestAuthentication[] {
  const root = rootNamespaceOf(snapshot.mesh);
  return snapshot.requestAuthentications.filter((ra) => {
    const ns = ra.metadata.namespace;
    if (ns !== root && ns !== node.namespace) return false;
    if (ra.spec.targetRef || ra.spec.targetRefs?.length) return false; // warned: not supported
    return labelsMatch(ra.spec.selector?.matchLabels, node.labels);
  });
}

/** The JWT providers of `node`. */
export function jwtFor(snapshot: Snapshot, node: NodeInfo): JwtProvider[] {
  const out: JwtProvider[] = [];
  for (const ra of requestAuthenticationsFor(snapshot, node)) {
    for (const rule of ra.spec.jwtRules ?? []) {
      const uri = jwksUriOf(rule);
      // No issuer (valid with a jwksUri): tokens of any issuer the keys verify, as Envoy does.
      if (!rule.issuer && uri === undefined) continue; // an error at validation
      const jwks = rule.jwks ?? (uri !== undefined ? snapshot.jwks.get(uri) : undefined) ??
        NO_KEYS;
      const p: JwtProvider = { issuer: rule.issuer ?? "", jwks };
      if (rule.audiences?.length) p.audiences = [...rule.audiences];
      if (rule.fromHeaders?.length) p.fromHeaders = rule.fromHeaders.map((h) => ({ ...h }));
      if (rule.fromParams?.length) p.fromParams = [...rule.fromParams];
      if (rule.fromCookies?.length) p.fromCookies = [...rule.fromCookies];
      if (rule.forwardOriginalToken) p.forwardOriginalToken = true;
      if (rule.outputPayloadToHeader) p.outputPayloadToHeader = rule.outputPayloadToHeader;
      if (rule.outputClaimToHeaders?.length) {
        p.outputClaimToHeaders = rule.outputClaimToHeaders.map((o) => ({ ...o }));
      }
      if (rule.spaceDelimitedClaims?.length) {
        p.spaceDelimitedClaims = [...rule.spaceDelimitedClaims];
      }
      out.push(p);
    }
  }
  return out;
}
