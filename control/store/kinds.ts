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
import * as api from "../../api/resources.ts";
import { API_GROUP, KINDS } from "../../api/resources.ts";

/** Kind → API group, where api/resources.ts says (kinds outside networking.istio.io). */
const KIND_GROUPS: Readonly<Record<string, string>> =
  (api as unknown as { KIND_GROUPS?: Record<string, string> }).KIND_GROUPS ?? {};

/** Istio's short names for its kinds (from its CRDs). */
const SHORT_NAMES: Record<string, string[]> = {
  VirtualService: ["vs"],
  DestinationRule: ["dr"],
  Gateway: ["gw"],
  ServiceEntry: ["se"],
  WorkloadEntry: ["we"],
  WorkloadGroup: ["wg"],
  Sidecar: [],
  EnvoyFilter: [],
  PeerAuthentication: ["pa"],
  AuthorizationPolicy: ["ap"],
  RequestAuthentication: ["ra"],
  Telemetry: ["telemetry"],
};

/** The lower-case plural: `VirtualService` → `virtualservices`, `ServiceEntry` → `serviceentries`. */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + "ies";
  if (/(s|x|ch|sh)$/.test(k)) return k + "es";
  return k + "s";
}

/** The API group of a kind mesh stores, e.g. `networking.istio.io`, `security.istio.io`. */
export function groupOfKind(kind: string): string {
  return KIND_GROUPS[kind] ?? API_GROUP;
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
  const base = [kind.toLowerCase(), pluralOf(kind), ...(SHORT_NAMES[kind] ?? [])];
  return [...base, ...base.map((n) => `${n}.${group}`)];
}

/** The kind a user means by `name` (case-insensitive; singular, plural or short), if any. */
export function resolveKind(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  return KINDS.find((k) => namesOf(k).includes(n));
}

/** A line listing the kinds and their short names, for error messages. */
export function kindsHelp(): string {
  return KINDS.map((k) => {
    const short = SHORT_NAMES[k]?.[0];
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
