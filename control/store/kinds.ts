/**
 * Kind names as users type them (`VirtualService`, `virtualservices`, `vs`,
 * `virtualservices.networking.istio.io`, any case) and as kubectl prints them
 * (`virtualservice.networking.istio.io/reviews`).
 *
 * @example
 * ```ts
 * resolveKind("VS"); // "VirtualService"
 * resolveKind("destinationrules"); // "DestinationRule"
 * qualifiedName("VirtualService", "reviews"); // "virtualservice.networking.istio.io/reviews"
 * ```
 * @module
 */
import { API_GROUP, KIND_INFO, KINDS } from "../../api/resources.ts";

/** The registry's plural for a kind mesh stores, else the English rule. */
export function pluralOf(kind: string): string {
  const info = (KIND_INFO as Record<string, { plural: string } | undefined>)[kind];
  if (info) return info.plural;
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + "ies";
  if (/(s|x|ch|sh)$/.test(k)) return k + "es";
  return k + "s";
}

function shortNames(kind: string): readonly string[] {
  return (KIND_INFO as Record<string, { shortNames: readonly string[] } | undefined>)[kind]
    ?.shortNames ?? [];
}

/** The API group of a kind mesh stores, e.g. `networking.istio.io`, `security.istio.io`. */
export function groupOfKind(kind: string): string {
  return (KIND_INFO as Record<string, { group: string } | undefined>)[kind]?.group ?? API_GROUP;
}

/** The group of an `apiVersion` (`networking.istio.io/v1` → `networking.istio.io`; `v1` → ``). */
export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== "string") return "";
  const slash = apiVersion.lastIndexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** Whether `group` is an API group of some kind mesh stores. */
export function isMeshGroup(group: string): boolean {
  return KINDS.some((k) => groupOfKind(k) === group);
}

/** Every name that means `kind`, lower case. */
export function namesOf(kind: string): string[] {
  const group = groupOfKind(kind);
  const info = (KIND_INFO as Record<string, { kind: string } | undefined>)[kind];
  const base = [(info?.kind ?? kind).toLowerCase(), pluralOf(kind), ...shortNames(kind)];
  // The id too, where it differs from the written kind (`KubernetesGateway`); a bare
  // `gateways` means Istio's Gateway, the Gateway API's is `gateways.gateway.networking.k8s.io`.
  const id = kind.toLowerCase() === base[0] ? [] : [kind.toLowerCase()];
  return [...base, ...base.map((n) => `${n}.${group}`), ...id];
}

/** The kind a user means by `name` (case-insensitive; singular, plural or short), if any. */
export function resolveKind(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  return KINDS.find((k) => namesOf(k).includes(n));
}

/** A line listing the kinds and their short names, for error messages. */
export function kindsHelp(): string {
  return KINDS.map((k) => {
    const short = shortNames(k)[0];
    return short ? `${k} (${short})` : k;
  }).join(", ");
}

/** kubectl's resource type name: `virtualservices.networking.istio.io`. */
export function typeName(kind: string): string {
  return `${pluralOf(kind)}.${groupOfKind(kind)}`;
}

/** kubectl's `kind.group/name`, e.g. `virtualservice.networking.istio.io/reviews`. */
export function qualifiedName(kind: string, name: string): string {
  return `${kind.toLowerCase()}.${groupOfKind(kind)}/${name}`;
}
