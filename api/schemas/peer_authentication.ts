/**
 * PeerAuthentication (`security.istio.io`): mTLS mode, per port, with Istio's rules.
 * @module
 */

import { z } from "zod";
import { type Path, quote, type Reporter, workloadSelector } from "./common.ts";
import { checkLabelSelector } from "./policy_targets.ts";
/** mTLS modes of a PeerAuthentication. */
export const MTLS_MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"] as const;

const mutualTls = z.strictObject({ mode: z.enum(MTLS_MODES).optional() });

/** The schema of a PeerAuthentication `spec`. */
export const peerAuthenticationSpec = z.strictObject({
  selector: workloadSelector.optional(),
  mtls: mutualTls.optional(),
  portLevelMtls: z.record(z.string(), mutualTls).optional(),
});
/** `spec` of a PeerAuthentication. */
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;

/**
 * Checks a PeerAuthentication spec: the selector (as Istio: no empty keys, no `*`), and
 * `portLevelMtls` (only with a selector that has labels; keys are ports 1..65535 as JSON reads
 * them, so no leading zeros or signs).
 */
export function checkPeerAuthentication(
  spec: PeerAuthenticationSpec,
  r: Reporter,
): void {
  if (spec.selector) {
    checkLabelSelector(spec.selector.matchLabels, ["spec", "selector", "matchLabels"], r);
  }
  const ports = spec.portLevelMtls;
  if (ports === undefined) return;
  const at: Path = ["spec", "portLevelMtls"];
  if (Object.keys(ports).length === 0) {
    r.error(at, "portLevelMtls is empty; list ports, or remove it");
  }
  if (Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
    r.error(
      at,
      "portLevelMtls needs a selector with matchLabels; mesh- and namespace-wide policies " +
        "can't set per-port modes",
    );
  }
  for (const key of Object.keys(ports)) {
    const n = Number(key);
    if (!/^[1-9]\d*$/.test(key) || n > 65535) {
      r.error(
        [...at, key],
        `portLevelMtls keys are port numbers from 1 to 65535; got ${quote(key)}`,
      );
    }
  }
}
