/**
 * DestinationRule (`networking.istio.io`): host, subsets, traffic policy and exportTo.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkLabels,
  checkSelectorLabels,
  checkUnique,
  formatted,
  HOST_HINT,
  isDns1123Label,
  isWildcardHost,
  type Path,
  quote,
  type Reporter,
  stringList,
  warnUnsupported,
  workloadSelector,
} from "./common.ts";
import { labels } from "./http_route.ts";
import { checkTrafficPolicy, type TrafficPolicy, trafficPolicy } from "./traffic_policy.ts";
import { UNSUPPORTED_DR } from "./unsupported.ts";
/** A named set of a service's endpoints, selected by labels. */
export interface Subset {
  /** DNS-1123 label, unique within the rule. */
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

const subset: z.ZodType<Subset> = z.strictObject({
  name: formatted(
    isDns1123Label,
    (v) =>
      `invalid subset name ${quote(v)}; use lowercase letters, digits and '-' ` +
      "(at most 63, starting and ending with a letter or digit)",
  ),
  labels: labels.optional(),
  trafficPolicy: trafficPolicy.optional(),
});

/** `spec` of a DestinationRule. */
export interface DestinationRuleSpec {
  /** The service the rule applies to. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

/** The schema of a DestinationRule `spec`. */
export const destinationRuleSpec: z.ZodType<DestinationRuleSpec> = z.strictObject({
  host: formatted(isWildcardHost, (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
  exportTo: stringList.optional(),
  workloadSelector: workloadSelector.optional(),
});

/** Checks a DestinationRule spec. */
export function checkDestinationRule(
  spec: DestinationRuleSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_DR, base, r);
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
  if (spec.workloadSelector) {
    checkSelectorLabels(
      spec.workloadSelector.matchLabels,
      [...base, "workloadSelector", "matchLabels"],
      r,
    );
    if (spec.exportTo?.some((e) => e !== "." && e !== ctx.namespace)) {
      r.error(
        [...base, "exportTo"],
        "a DestinationRule with a workloadSelector can only be exported to its own namespace",
      );
    }
  }
  if (spec.trafficPolicy) {
    checkTrafficPolicy(spec.trafficPolicy, [...base, "trafficPolicy"], r, true);
  }
  spec.subsets?.forEach((s, i) => {
    const path = [...base, "subsets", i];
    checkLabels(s.labels, [...path, "labels"], r);
    if (s.trafficPolicy) checkTrafficPolicy(s.trafficPolicy, [...path, "trafficPolicy"], r, true);
  });
  checkUnique(
    spec.subsets,
    (s) => s.name,
    (i) => [...base, "subsets", i, "name"],
    "subset name",
    r,
  );
}
