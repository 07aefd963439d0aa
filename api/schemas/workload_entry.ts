/**
 * WorkloadEntry (`networking.istio.io`), also the shape of ServiceEntry endpoints and of a
 * WorkloadGroup's template.
 * @module
 */

import { z } from "zod";
import {
  checkLabels,
  isDns1123Label,
  isDns1123Subdomain,
  isHostname,
  isIP,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  quote,
  type Reporter,
  uint32,
  unixAddressProblem,
  warnUnsupported,
} from "./common.ts";
import { labels } from "./http_route.ts";
import { UNSUPPORTED_WE } from "./unsupported.ts";

/** `spec` of a WorkloadEntry, and an endpoint of a ServiceEntry. */
export interface WorkloadEntrySpec {
  /** IP address, DNS name, or `unix:///absolute/path`. */
  address?: string;
  /** Service port name to workload port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  serviceAccount?: string;
  weight?: number;
  network?: string;
  locality?: string;
}

export function workloadEntryShape() {
  return {
    address: z.string().max(256, { error: "addresses are at most 256 characters" }).optional(),
    ports: z.record(z.string(), portNumber).optional(),
    labels: labels.optional(),
    network: z.string().optional(),
    locality: z.string().optional(),
    weight: uint32.optional(),
    serviceAccount: z.string().optional(),
  };
}

/** The schema of a WorkloadEntry `spec` (also a ServiceEntry endpoint). */
export const workloadEntrySpec: z.ZodType<WorkloadEntrySpec> = z.strictObject(
  workloadEntryShape(),
);

/** Checks a WorkloadEntry (or a ServiceEntry endpoint, given the service's port names). */
export function checkWorkloadEntry(
  spec: WorkloadEntrySpec,
  path: Path,
  r: Reporter,
  servicePorts?: ReadonlyMap<string, number>,
  template = false,
): void {
  if (!template) warnUnsupported(spec, UNSUPPORTED_WE, path, r);
  const address = spec.address;
  if (!template && address === undefined) {
    if (spec.network === undefined) {
      r.error([...path, "address"], `missing required field "address"; set the workload's IP`);
    } else {
      r.warn(
        [...path, "address"],
        `no address; the workload is reached through network ${quote(spec.network)}`,
      );
    }
  }
  if (address !== undefined) {
    if (address.startsWith("unix://")) {
      const problem = unixAddressProblem(address);
      if (problem) r.error([...path, "address"], problem);
      else if (!template) {
        r.warn([...path, "address"], `unix socket endpoints are ${NOT_SUPPORTED}`);
      }
      if (spec.ports !== undefined) {
        r.error([...path, "ports"], "a unix address has no ports; remove ports");
      }
    } else if (!isIP(address) && !isHostname(address)) {
      r.error(
        [...path, "address"],
        `invalid address ${quote(address)}; use an IP address, a DNS name or unix:///path`,
      );
    }
  }
  for (const name of Object.keys(spec.ports ?? {})) {
    if (!isDns1123Label(name)) {
      r.error(
        [...path, "ports", name],
        `invalid port name ${quote(name)}; use a DNS label like http`,
      );
    } else if (servicePorts && !servicePorts.has(name)) {
      const known = [...servicePorts.keys()].map(quote).join(", ") || "none";
      r.error(
        [...path, "ports", name],
        `port ${quote(name)} is not a port name of this ServiceEntry (${known}); ` +
          "endpoint ports map a service port name to the workload's port",
      );
    }
  }
  checkLabels(spec.labels, [...path, "labels"], r);
  if (spec.serviceAccount !== undefined && !isDns1123Subdomain(spec.serviceAccount)) {
    r.error(
      [...path, "serviceAccount"],
      `invalid service account ${quote(spec.serviceAccount)}; use a Kubernetes name`,
    );
  }
}
