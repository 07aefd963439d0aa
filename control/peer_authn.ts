/**
 * PeerAuthentication → the mTLS mode of a workload's inbound port, as Istio
 * decides it: a workload-specific policy (a selector, in the workload's
 * namespace; Istio ignores selectors in the root namespace) wins over the
 * namespace-wide one (no selector), which wins over the mesh-wide one (no
 * selector, root namespace). `portLevelMtls` of the
 * chosen workload policy overrides its mode for that port. `UNSET` inherits
 * from the level above. Among several policies of one level the oldest wins
 * (`metadata.creationTimestamp`, then namespace/name).
 *
 * With no policy at all (or only `UNSET` modes), mesh requires mTLS:
 * {@linkcode DEFAULT_MTLS_MODE} is STRICT, where Istio's default is
 * PERMISSIVE (a mesh-wide PeerAuthentication with `mode: PERMISSIVE` gives
 * Istio's behaviour).
 *
 * @example
 * ```ts
 * import { mtlsModeFor } from "./peer_authn.ts";
 * const mode = mtlsModeFor([], "istio-system", { namespace: "default", labels: {} }, 8080);
 * // "STRICT"
 * ```
 * @module
 */
import type { MtlsMode } from "../api/proxy_config.ts";
import type { PeerAuthentication } from "../api/resources.ts";
import { labelsMatch } from "./labels.ts";

/** The mode of a workload no PeerAuthentication sets. */
export const DEFAULT_MTLS_MODE: MtlsMode = "STRICT";

/** The workload a mode is decided for. */
export interface PeerWorkload {
  namespace: string;
  labels: Record<string, string>;
}

function oldestFirst(a: PeerAuthentication, b: PeerAuthentication): number {
  const ta = String(a.metadata.creationTimestamp ?? "");
  const tb = String(b.metadata.creationTimestamp ?? "");
  if (ta !== tb) return ta === "" ? 1 : tb === "" ? -1 : ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function hasSelector(p: PeerAuthentication): boolean {
  return Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
}

function set(mode: string | undefined): MtlsMode | undefined {
  return mode === "STRICT" || mode === "PERMISSIVE" || mode === "DISABLE" ? mode : undefined;
}

/**
 * The mTLS mode of `workload`'s inbound traffic on `port` (the workload's own
 * port, as `portLevelMtls` keys are).
 */
export function mtlsModeFor(
  policies: readonly PeerAuthentication[],
  rootNamespace: string,
  workload: PeerWorkload,
  port?: number,
): MtlsMode {
  let mesh: PeerAuthentication | undefined;
  let namespace: PeerAuthentication | undefined;
  let own: PeerAuthentication | undefined;
  for (const p of [...policies].sort(oldestFirst)) {
    const ns = p.metadata.namespace;
    if (hasSelector(p)) {
      const selects = ns === workload.namespace && ns !== rootNamespace &&
        labelsMatch(p.spec.selector!.matchLabels, workload.labels);
      if (selects) own ??= p;
    } else if (ns === rootNamespace) mesh ??= p;
    else if (ns === workload.namespace) namespace ??= p;
  }
  let mode = set(mesh?.spec.mtls?.mode) ?? DEFAULT_MTLS_MODE;
  mode = set(namespace?.spec.mtls?.mode) ?? mode;
  mode = set(own?.spec.mtls?.mode) ?? mode;
  if (own && port !== undefined) mode = set(own.spec.portLevelMtls?.[String(port)]?.mode) ?? mode;
  return mode;
}
