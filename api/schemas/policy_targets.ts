/**
 * What a policy applies to, checked as Istio checks it for Telemetry, WasmPlugin and ProxyConfig
 * (validateOneOfSelectorType, validateWorkloadSelector, validatePolicyTargetReference and the
 * CRDs' schema for `selector` and `targetRef(s)`). Istio checks label selectors loosely: a
 * key may not be empty, neither key nor value may hold `*`, values have at most 63 characters.
 * @module
 */

import { type Path, type PolicyTargetReference, quote, type Reporter } from "./common.ts";

/** The kinds a `targetRef` may name, by API group (`""` is the core group). */
const TARGET_KINDS: readonly { group: string; kind: string }[] = [
  { group: "", kind: "Service" },
  { group: "networking.istio.io", kind: "ServiceEntry" },
  { group: "gateway.networking.k8s.io", kind: "Gateway" },
  { group: "gateway.networking.k8s.io", kind: "GatewayClass" },
];

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** The most targetRefs a policy may list. */
export const MAX_TARGET_REFS = 16;

/** Options of {@linkcode checkLabelSelector}. */
export interface SelectorOptions {
  /** Most labels allowed (the CRD's maxProperties). */
  maxLabels?: number;
  /** The warning for a selector without labels. */
  emptyWarning?: string;
}

/**
 * Checks a workload selector's labels as Istio does: no empty key, no `*` in a key or a value,
 * values of at most 63 characters, a warning when there are no labels (then every workload of
 * the namespace is selected).
 */
export function checkLabelSelector(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
  options: SelectorOptions = {},
): void {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) {
    r.warn(
      path,
      options.emptyWarning ??
        "workload selector specified without labels: it selects every workload in the namespace",
    );
    return;
  }
  const max = options.maxLabels ?? 4096;
  if (entries.length > max) r.error(path, `at most ${max} labels are allowed`);
  for (const [key, value] of entries) {
    if (key === "") r.error([...path, key], "label keys may not be empty");
    if (key.includes("*")) r.error([...path, key], `wildcards are not allowed in label keys`);
    if (value.includes("*")) {
      r.error([...path, key], `wildcards are not allowed in label values (${quote(value)})`);
    }
    if (value.length > 63) {
      r.error([...path, key], `label values have at most 63 characters; this has ${value.length}`);
    }
  }
}

/**
 * Checks one `targetRef` (the CRD's schema and Istio's rules). With `anyKind`, every kind is
 * allowed (EnvoyFilter's CRD checks only the shape).
 */
export function checkTargetRef(
  ref: PolicyTargetReference,
  path: Path,
  r: Reporter,
  anyKind = false,
): void {
  const group = ref.group ?? "";
  if (group.length > 253 || !GROUP.test(group)) {
    r.error([...path, "group"], `invalid API group ${quote(group)}; use a DNS name or ""`);
  }
  if (ref.kind === "") r.error([...path, "kind"], "kind may not be empty");
  else if (ref.kind.length > 63 || !KIND.test(ref.kind)) {
    r.error([...path, "kind"], `invalid kind ${quote(ref.kind)}`);
  }
  if (ref.name === "") r.error([...path, "name"], "name may not be empty");
  else if (ref.name.length > 253) r.error([...path, "name"], "names have at most 253 characters");
  if (ref.namespace) {
    r.error(
      [...path, "namespace"],
      "cross-namespace references are not supported; remove namespace",
    );
  }
  if (anyKind) return;
  const canonical = group === "core" ? "" : group;
  if (!TARGET_KINDS.some((t) => t.group === canonical && t.kind === ref.kind)) {
    r.error(
      [...path, "kind"],
      "a policy can target a Service, a ServiceEntry (group networking.istio.io), or a Gateway " +
        `or GatewayClass (group gateway.networking.k8s.io); got ${group ? `${group}/` : ""}` +
        ref.kind,
    );
  }
}

/** What a policy spec says it applies to. */
export interface PolicyTargets {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
}

/**
 * Checks `selector`, `targetRef` and `targetRefs` of a spec at `spec`: at most one of them, and
 * each as {@linkcode checkLabelSelector} and {@linkcode checkTargetRef} say.
 */
export function checkPolicyTargetsAsIstio(spec: PolicyTargets, r: Reporter): void {
  const set = (["selector", "targetRef", "targetRefs"] as const).filter((k) =>
    spec[k] !== undefined
  );
  if (set.length > 1) {
    r.error(
      ["spec", set[1]],
      `${set.join(" and ")} can't both be set: only one of targetRefs or selector can be set`,
    );
  }
  if (spec.selector) {
    checkLabelSelector(spec.selector.matchLabels, ["spec", "selector", "matchLabels"], r);
  }
  if (spec.targetRef) checkTargetRef(spec.targetRef, ["spec", "targetRef"], r);
  checkTargetRefs(spec.targetRefs, ["spec", "targetRefs"], r);
}

/** Checks a `targetRefs` list: at most 16 entries, each a valid reference. */
export function checkTargetRefs(
  refs: readonly PolicyTargetReference[] | undefined,
  path: Path,
  r: Reporter,
  anyKind = false,
): void {
  if (refs === undefined) return;
  if (refs.length > MAX_TARGET_REFS) {
    r.error(path, `at most ${MAX_TARGET_REFS} targetRefs are allowed; there are ${refs.length}`);
  }
  refs.forEach((ref, i) => checkTargetRef(ref, [...path, i], r, anyKind));
}
