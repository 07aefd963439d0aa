/**
 * ServiceEntry (`networking.istio.io`): hosts, addresses, ports, resolution and endpoints.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkSelectorLabels,
  checkUnique,
  formatted,
  isDns1123Label,
  isHttpProtocol,
  isIP,
  isIPOrCIDR,
  isTlsProtocol,
  isWildcardHost,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  protocol,
  quote,
  type Reporter,
  stringList,
  warnUnsupported,
} from "./common.ts";
import { type Protocol } from "./gateway.ts";
import { networkingSelector } from "./http_route.ts";
import { UNSUPPORTED_SE } from "./unsupported.ts";
import { checkWorkloadEntry, type WorkloadEntrySpec, workloadEntrySpec } from "./workload_entry.ts";
/** A port of a ServiceEntry. */
export interface ServicePort {
  number: number;
  protocol?: Protocol;
  /** Unique within the entry. */
  name: string;
  targetPort?: number;
}

/** Where a ServiceEntry's service lives. Istio's default is `MESH_EXTERNAL`. */
export type ServiceEntryLocation = "MESH_EXTERNAL" | "MESH_INTERNAL";
/** How a ServiceEntry's endpoints are found. Istio's default is `NONE`. */
export type ServiceEntryResolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";

/** `spec` of a ServiceEntry. */
export interface ServiceEntrySpec {
  hosts: string[];
  /** Virtual IPs or CIDR blocks. */
  addresses?: string[];
  ports?: ServicePort[];
  location?: ServiceEntryLocation;
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  /** Selects WorkloadEntries (and pods) by label instead of listing endpoints. */
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

const servicePort: z.ZodType<ServicePort> = z.strictObject({
  number: portNumber,
  protocol: protocol.optional(),
  name: formatted(
    isDns1123Label,
    (v) => `invalid port name ${quote(v)}; use a DNS label like http or tcp-db`,
  ),
  targetPort: portNumber.optional(),
});

/** The schema of a ServiceEntry `spec`. */
export const serviceEntrySpec: z.ZodType<ServiceEntrySpec> = z.strictObject({
  hosts: nonEmptyList(
    formatted(
      (s) => s !== "*" && isWildcardHost(s),
      (v) =>
        v === "*"
          ? `"*" is not allowed in a ServiceEntry; name the hosts, e.g. *.example.com`
          : `invalid host ${quote(v)}; use a DNS name like api.example.com or *.example.com`,
    ),
    "hosts must list at least one host",
  ),
  addresses: z.array(formatted(
    isIPOrCIDR,
    (v) => `invalid address ${quote(v)}; use an IP address or CIDR block like 10.0.0.0/16`,
  )).optional(),
  ports: z.array(servicePort).optional(),
  location: z.enum(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]).optional(),
  endpoints: z.array(workloadEntrySpec).optional(),
  workloadSelector: networkingSelector.optional(),
  exportTo: stringList.optional(),
  subjectAltNames: stringList.optional(),
});

/** Checks a ServiceEntry spec. */
export function checkServiceEntry(spec: ServiceEntrySpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_SE, base, r);
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, true);
  const resolution = spec.resolution ?? "NONE";
  if (resolution === "DYNAMIC_DNS") {
    r.warn([...base, "resolution"], `DYNAMIC_DNS is ${NOT_SUPPORTED}`);
  }
  spec.hosts.forEach((host, i) => {
    const earlier = spec.hosts.indexOf(host);
    if (earlier < i) r.warn([...base, "hosts", i], `host ${quote(host)} is listed twice`);
  });
  if (
    spec.addresses?.some((a) => a.includes("/")) && resolution !== "NONE" && resolution !== "STATIC"
  ) {
    r.error(
      [...base, "addresses"],
      `CIDR addresses need resolution NONE or STATIC, not ${resolution}`,
    );
  }
  const names = new Map<string, number>();
  spec.ports?.forEach((port, i) => {
    const path = [...base, "ports", i];
    if (!names.has(port.name)) names.set(port.name, i);
    // HTTP ports are routed; TCP (and TLS, carried as TCP) go through Sidecar egress ports.
    if (port.protocol !== undefined && !["HTTP", "TCP", "TLS"].includes(port.protocol)) {
      r.warn([...path, "protocol"], `${port.protocol} is ${NOT_SUPPORTED}`);
    }
    if (port.targetPort !== undefined && resolution === "NONE") {
      r.warn([...path, "targetPort"], "targetPort has no effect with resolution NONE");
    }
  });
  checkUnique(spec.ports, (p) => p.name, (i) => [...base, "ports", i, "name"], "port name", r);
  checkUnique(spec.ports, (p) => p.number, (i) => [...base, "ports", i, "number"], "port", r);

  if (spec.workloadSelector) {
    checkSelectorLabels(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r);
  }
  const endpoints = spec.endpoints ?? [];
  if (spec.endpoints !== undefined && spec.workloadSelector !== undefined) {
    r.error(
      [...base, "workloadSelector"],
      "endpoints and workloadSelector can't both be set; keep one",
    );
  }
  if (endpoints.length > 0 && resolution === "NONE") {
    r.error(
      [...base, "endpoints"],
      "endpoints are unused with resolution NONE; set resolution to STATIC (IP addresses) " +
        "or DNS (host names)",
    );
  }
  if (spec.workloadSelector && resolution !== "STATIC") {
    r.warn(
      [...base, "workloadSelector"],
      `workloadSelector is meant for resolution STATIC, not ${resolution}`,
    );
  }
  if ((resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && endpoints.length === 0) {
    spec.hosts.forEach((h, i) => {
      if (h.includes("*")) {
        r.error(
          [...base, "hosts", i],
          `resolution ${resolution} without endpoints resolves the hosts themselves; ` +
            `${quote(h)} is a wildcard; list endpoints or name a host`,
        );
      }
    });
  }
  if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) {
    r.error([...base, "endpoints"], "resolution DNS_ROUND_ROBIN allows at most one endpoint");
  }
  if (resolution !== "NONE" && spec.hosts.length > 1) {
    const l4 = spec.ports?.findIndex((p) =>
      !isHttpProtocol(p.protocol ?? "TCP") && !isTlsProtocol(p.protocol ?? "TCP")
    ) ?? -1;
    if (l4 >= 0) {
      r.error(
        [...base, "ports", l4],
        "several hosts can't share a non-HTTP, non-TLS port (nothing tells them apart); " +
          "use one ServiceEntry per host or resolution NONE",
      );
    }
  }
  endpoints.forEach((ep, i) => {
    const path = [...base, "endpoints", i];
    checkWorkloadEntry(ep, path, r, names);
    const address = ep.address;
    if (
      resolution === "STATIC" && address !== undefined && !isIP(address) &&
      !address.startsWith("unix://")
    ) {
      r.error(
        [...path, "address"],
        `resolution STATIC needs IP addresses, got ${quote(address)}; use an IP, or resolution DNS`,
      );
    }
    if (address?.startsWith("unix://") && (spec.ports?.length ?? 0) !== 1) {
      r.error([...path, "address"], "a unix endpoint needs exactly one service port");
    }
  });
}
