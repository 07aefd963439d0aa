/**
 * DestinationRule (`networking.istio.io`): host, subsets, traffic policy and exportTo.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkUnique,
  labelMap,
  type Path,
  quote,
  type Reporter,
  stringList,
  warnUnsupported,
} from "./common.ts";
import { isIstioLabel, wildcardDomainProblem } from "./server_hosts.ts";
import { checkTrafficPolicy, type TrafficPolicy, trafficPolicy } from "./traffic_policy.ts";
import { UNSUPPORTED_DR } from "./unsupported.ts";
import { checkIstioLabels, checkSelectorMap } from "./workload_entry.ts";

/** A named set of a service's endpoints, selected by labels. */
export interface Subset {
  /** DNS-1123 label, unique within the rule. */
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

const subset: z.ZodType<Subset> = z.strictObject({
  name: z.string(),
  labels: labelMap.optional(),
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
  host: z.string(),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
  exportTo: stringList.optional(),
  workloadSelector: z.strictObject({
    matchLabels: labelMap.refine((m) => Object.keys(m).length <= 4096, {
      error: "at most 4096 labels",
    }).optional(),
  }).optional(),
});

/** Checks a DestinationRule spec as Istio's ValidateDestinationRule does. */
export function checkDestinationRule(
  spec: DestinationRuleSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_DR, base, r);
  const hostProblem = wildcardDomainProblem(spec.host);
  if (hostProblem) r.error([...base, "host"], `invalid host ${quote(spec.host)}: ${hostProblem}`);
  if (spec.trafficPolicy) {
    checkTrafficPolicy(spec.trafficPolicy, [...base, "trafficPolicy"], r, ctx.namespace);
  }
  spec.subsets?.forEach((s, i) => {
    const path = [...base, "subsets", i];
    if (s.name === "") r.error([...path, "name"], "subset name cannot be empty");
    else if (!isIstioLabel(s.name)) {
      r.error(
        [...path, "name"],
        `invalid subset name ${quote(s.name)}; use letters, digits and '-' (at most 63, ` +
          "starting and ending with a letter or digit)",
      );
    }
    checkIstioLabels(s.labels, [...path, "labels"], r);
    if (s.trafficPolicy) {
      checkTrafficPolicy(s.trafficPolicy, [...path, "trafficPolicy"], r, ctx.namespace);
    }
  });
  checkUnique(
    spec.subsets,
    (s) => s.name,
    (i) => [...base, "subsets", i, "name"],
    "subset name",
    r,
  );
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
  if (spec.workloadSelector) {
    checkSelectorMap(
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
}
