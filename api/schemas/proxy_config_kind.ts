/**
 * `networking.istio.io` ProxyConfig (the resource, not MeshConfig's `defaultConfig`), which mesh
 * recognizes but doesn't read (its proxies take their settings from flags): validated as Istio
 * does (ValidateProxyConfig and the CRD's schema); the parser adds one "not supported by mesh"
 * warning per document.
 * @module
 */

import { z } from "zod";
import { type CheckContext, int32, labelMap, type Path, type Reporter } from "./common.ts";
import { checkLabelSelector } from "./policy_targets.ts";

/** The API versions of the ProxyConfig resource. */
export const PROXY_CONFIG_VERSIONS = ["v1beta1"] as const;

/** The schema of a ProxyConfig `spec`. */
export const proxyConfigKindSpec = z.strictObject({
  selector: z.strictObject({ matchLabels: labelMap.optional() }).optional(),
  concurrency: int32.optional(),
  environmentVariables: labelMap.optional(),
  image: z.strictObject({ imageType: z.string().optional() }).optional(),
});
/** `spec` of a ProxyConfig resource. */
export type ProxyConfigKindSpec = z.infer<typeof proxyConfigKindSpec>;

/** Checks a ProxyConfig resource's spec as Istio does. */
export function checkProxyConfigKind(
  spec: ProxyConfigKindSpec,
  r: Reporter,
  _ctx?: CheckContext,
): void {
  const base: Path = ["spec"];
  if (spec.selector) {
    checkLabelSelector(spec.selector.matchLabels, [...base, "selector", "matchLabels"], r);
  }
  if (spec.concurrency !== undefined && spec.concurrency < 0) {
    r.error(
      [...base, "concurrency"],
      "concurrency must be greater than or equal to 0 (0 means one worker per CPU)",
    );
  }
  for (const [name, value] of Object.entries(spec.environmentVariables ?? {})) {
    if (value.length > 2048) {
      r.error(
        [...base, "environmentVariables", name],
        `values have at most 2048 characters; this has ${value.length}`,
      );
    }
  }
}
