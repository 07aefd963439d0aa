/**
 * SPIFFE identities as Istio uses them: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
 *
 * @example
 * ```ts
 * const id = spiffeId("cluster.local", "default", "bookinfo-reviews");
 * // "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
 * parseSpiffeId(id); // { trustDomain: "cluster.local", namespace: "default", serviceAccount: "bookinfo-reviews" }
 * ```
 * @module
 */

/** The parts of an Istio SPIFFE identity. */
export interface Identity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Builds the SPIFFE URI for a workload identity. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Parses an Istio SPIFFE URI; returns undefined when it is not of that form. */
export function parseSpiffeId(uri: string): Identity | undefined {
  const m = uri.match(/^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/);
  if (!m) return undefined;
  return { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] };
}

/** Checks a namespace or service-account name; returns an error message or undefined. */
export function checkName(what: string, value: string): string | undefined {
  if (!value) return `${what} is empty`;
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    return `${what} "${value}" is not a DNS label (lowercase letters, digits and '-', at most 63)`;
  }
  return undefined;
}

/** Extracts the URI SANs from node:tls's `subjectaltname` string ("URI:spiffe://..., DNS:x"). */
export function urisFromAltNames(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  for (const part of subjectaltname.split(/,\s*/)) {
    if (part.startsWith("URI:")) out.push(part.slice(4));
  }
  return out;
}
