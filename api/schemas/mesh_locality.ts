/**
 * MeshConfig `localityLbSetting` and `zoneAwareLbSetting` as Istio's ValidateMeshConfig checks
 * them (ValidateLocalityLbSetting, validateLocalities, ValidateZoneAwareLbSetting). Mesh-wide,
 * Istio passes an outlier detection policy, so failover never warns about a missing one.
 * @module
 */

import type { z } from "zod";
import { type Path, quote, type Reporter } from "./common.ts";
import type { localityLbSetting, zoneAwareLbSetting } from "./mesh_networking.ts";

const TOPOLOGY_LABELS = new Set([
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.istio.io/subzone",
]);

/** Why a list of localities (`region[/zone[/subzone]]`, `*` at the end) is refused. */
export function localitiesProblem(localities: readonly string[]): string | undefined {
  // region -> zone -> subzone; "*" stands for all.
  const seen = new Map<string, Map<string, Set<string>>>();
  const overlap = (l: string) => `locality ${quote(l)} overlaps with one given before`;
  for (const locality of localities) {
    const stars = locality.split("*").length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith("*"))) {
      return `locality ${quote(locality)}: at most one wildcard '*', and only at the end`;
    }
    if (seen.has("*")) return overlap(locality);
    const parts = splitN(locality, "/", 3);
    if (parts.some((p) => p === "")) {
      return `locality ${quote(locality)} must not contain empty region/zone/subzone info`;
    }
    const [region, zone, subzone] = parts;
    const zones = seen.get(region);
    if (parts.length === 1) {
      if (zones) return overlap(locality);
      seen.set(region, new Map([["*", new Set(["*"])]]));
    } else if (parts.length === 2) {
      if (zones?.has("*") || zones?.has(zone)) return overlap(locality);
      if (zones) zones.set(zone, new Set(["*"]));
      else seen.set(region, new Map([[zone, new Set(["*"])]]));
    } else {
      if (zones?.has("*")) return overlap(locality);
      const subzones = zones?.get(zone);
      if (subzones?.has("*") || subzones?.has(subzone)) return overlap(locality);
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

function checkFailover(
  failover: readonly { from?: string; to?: string }[] | undefined,
  path: Path,
  r: Reporter,
  what: string,
): void {
  failover?.forEach((f, i) => {
    const at = [...path, "failover", i];
    const from = f.from ?? "";
    const to = f.to ?? "";
    if (from === to) r.error(at, `${what} failover settings must specify different regions`);
    if (from.includes("/") || to.includes("/")) r.error(at, `${what} failover names regions only`);
    if (from.includes("*") || to.includes("*")) {
      r.error(at, `${what} failover region should not contain '*' wildcard`);
    }
  });
}

/** Checks the mesh-wide `localityLbSetting`. */
export function checkMeshLocalityLb(
  lb: z.infer<typeof localityLbSetting>,
  path: Path,
  r: Reporter,
): void {
  if (lb.distribute?.length && lb.failover?.length) {
    return r.error(path, "can not simultaneously specify 'distribute' and 'failover'");
  }
  if (lb.failover?.length) {
    const label = lb.failoverPriority?.find((l) => TOPOLOGY_LABELS.has(l));
    if (label !== undefined) {
      return r.error(
        [...path, "failoverPriority"],
        `can not simultaneously set 'failover' and topology label ${quote(label)} in ` +
          "'failoverPriority'",
      );
    }
  }
  const sources: string[] = [];
  for (const [i, d] of (lb.distribute ?? []).entries()) {
    const at = [...path, "distribute", i];
    sources.push(d.from ?? "");
    const weights = Object.entries(d.to ?? {});
    if (weights.some(([, w]) => w <= 0 || w > 100)) {
      return r.error([...at, "to"], "locality weight must be in range [1, 100]");
    }
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    if (total !== 100) return r.error([...at, "to"], `total locality weight ${total} != 100`);
    const problem = localitiesProblem(weights.map(([l]) => l));
    if (problem) r.error([...at, "to"], problem);
  }
  const problem = localitiesProblem(sources);
  if (problem) r.error([...path, "distribute"], problem);
  checkFailover(lb.failover, path, r, "locality lb");
}

/** Checks the mesh-wide `zoneAwareLbSetting`. */
export function checkMeshZoneAwareLb(
  lb: z.infer<typeof zoneAwareLbSetting>,
  path: Path,
  r: Reporter,
): void {
  lb.failoverPriority?.forEach((label, i) => {
    if (TOPOLOGY_LABELS.has(label)) {
      r.error(
        [...path, "failoverPriority", i],
        `'failoverPriority' for zone aware lb must not use topology label ${quote(label)}; ` +
          "region- and zone-level routing are handled automatically",
      );
    }
  });
  checkFailover(lb.failover, path, r, "zone aware lb");
}
