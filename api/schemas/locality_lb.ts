/**
 * Locality and zone-aware load balancing of a DestinationRule traffic policy, validated as
 * Istio's agent.ValidateLocalityLbSetting, ValidateZoneAwareLbSetting and validateLocalities do.
 * @module
 */

import { z } from "zod";
import { intRange, type Path, quote, type Reporter, stringList, uint32 } from "./common.ts";

const failover = z.strictObject({ from: z.string().optional(), to: z.string().optional() });

/** The schema of `localityLbSetting`. */
export const localityLbSetting = z.strictObject({
  distribute: z.array(z.strictObject({
    from: z.string().optional(),
    to: z.record(z.string(), uint32).optional(),
  })).optional(),
  failover: z.array(failover).optional(),
  failoverPriority: stringList.optional(),
  enabled: z.boolean().optional(),
});

/** The schema of `zoneAwareLbSetting`. */
export const zoneAwareLbSetting = z.strictObject({
  enabled: z.boolean().optional(),
  failover: z.array(failover).optional(),
  failoverPriority: stringList.optional(),
  minClusterSize: intRange(1, 4294967295).optional(),
});

/** The topology labels of regions, zones and subzones. */
const TOPOLOGY = [
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.istio.io/subzone",
];

const OUTLIER_NEEDED = "failover needs outlierDetection in the same traffic policy to take effect";

/** Checks `localityLbSetting`; `hasOutlier` says whether the policy has outlierDetection. */
export function checkLocalityLb(
  lb: z.infer<typeof localityLbSetting>,
  path: Path,
  r: Reporter,
  hasOutlier: boolean,
): void {
  const distribute = lb.distribute ?? [];
  const failovers = lb.failover ?? [];
  const priority = lb.failoverPriority ?? [];
  if (distribute.length && failovers.length) {
    r.error([...path, "failover"], "distribute and failover can't both be set; keep one");
    return;
  }
  if (failovers.length) {
    const topology = priority.find((p) => TOPOLOGY.includes(p));
    if (topology) {
      r.error(
        [...path, "failoverPriority"],
        `failover can't be set with the topology label ${quote(topology)} in failoverPriority`,
      );
      return;
    }
  }
  for (const [i, d] of distribute.entries()) {
    const at = [...path, "distribute", i, "to"];
    const weights = Object.values(d.to ?? {});
    if (weights.some((w) => w < 1 || w > 100)) {
      return r.error(at, "locality weights must be from 1 to 100");
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (total !== 100) return r.error(at, `locality weights must sum to 100; got ${total}`);
    const problem = localitiesProblem(Object.keys(d.to ?? {}));
    if (problem) r.error(at, problem);
  }
  const problem = localitiesProblem(distribute.map((d) => d.from ?? ""));
  if (problem) r.error([...path, "distribute"], problem);
  if ((failovers.length || priority.length) && !hasOutlier) r.warn(path, OUTLIER_NEEDED);
  checkFailovers(failovers, [...path, "failover"], r);
}

/** Checks `zoneAwareLbSetting`; `hasOutlier` says whether the policy has outlierDetection. */
export function checkZoneAwareLb(
  lb: z.infer<typeof zoneAwareLbSetting>,
  path: Path,
  r: Reporter,
  hasOutlier: boolean,
): void {
  (lb.failoverPriority ?? []).forEach((p, i) => {
    if (TOPOLOGY.includes(p)) {
      r.error(
        [...path, "failoverPriority", i],
        `failoverPriority for zone-aware load balancing can't use the topology label ` +
          `${quote(p)}; region and zone routing are automatic`,
      );
    }
  });
  if ((lb.failover?.length || lb.failoverPriority?.length) && !hasOutlier) {
    r.warn(path, OUTLIER_NEEDED);
  }
  checkFailovers(lb.failover ?? [], [...path, "failover"], r);
}

function checkFailovers(failovers: z.infer<typeof failover>[], path: Path, r: Reporter): void {
  failovers.forEach((f, i) => {
    const from = f.from ?? "";
    const to = f.to ?? "";
    if (from === to) r.error([...path, i], "failover from and to must be different regions");
    if (from.includes("/") || to.includes("/")) {
      r.error([...path, i], "failover names regions only: no '/'");
    }
    if (from.includes("*") || to.includes("*")) {
      r.error([...path, i], "failover regions can't contain the '*' wildcard");
    }
  });
}

/**
 * What is wrong with a list of localities (`region/zone/subzone`, a trailing `*` for all), as
 * validateLocalities sees it: empty parts, misplaced wildcards, localities that overlap.
 */
export function localitiesProblem(localities: readonly string[]): string | undefined {
  // region → zone → subzones; "*" stands for all of a level.
  const seen = new Map<string, Map<string, Set<string>>>();
  for (const locality of localities) {
    const stars = locality.split("*").length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith("*"))) {
      return `locality ${quote(locality)}: at most one wildcard '*', and only at the end`;
    }
    const overlap = `locality ${quote(locality)} overlaps one listed before`;
    if (seen.has("*")) return overlap;
    const parts = splitN(locality, "/", 3);
    if (parts.some((p) => p === "")) {
      return `locality ${quote(locality)} has an empty region, zone or subzone`;
    }
    const [region, zone, subzone] = parts;
    const zones = seen.get(region);
    if (parts.length === 1) {
      if (zones) return overlap;
      seen.set(region, new Map([["*", new Set(["*"])]]));
    } else if (parts.length === 2) {
      if (zones?.has("*") || zones?.has(zone)) return overlap;
      if (zones) zones.set(zone, new Set(["*"]));
      else seen.set(region, new Map([[zone, new Set(["*"])]]));
    } else {
      if (zones?.has("*")) return overlap;
      const subzones = zones?.get(zone);
      if (subzones?.has("*") || subzones?.has(subzone)) return overlap;
      if (subzones) subzones.add(subzone);
      else if (zones) zones.set(zone, new Set([subzone]));
      else seen.set(region, new Map([[zone, new Set([subzone])]]));
    }
  }
  return undefined;
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}
