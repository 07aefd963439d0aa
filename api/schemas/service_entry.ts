/**
 * ServiceEntry (`networking.istio.io`): hosts, addresses, ports, resolution and endpoints,
 * validated as Istio's ValidateServiceEntry and the CRD do.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkUnique,
  isHttpProtocol,
  isTlsProtocol,
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
import { fqdnProblem, isGoIP, isIstioLabel, wildcardDomainProblem } from "./server_hosts.ts";
import { UNSUPPORTED_SE, UNSUPPORTED_WE } from "./unsupported.ts";
import {
  checkEndpointPorts,
  checkEntryShape,
  checkIstioLabels,
  checkSelectorMap,
  checkWorkloadEntry,
  type WorkloadEntrySpec,
  workloadEntrySpec,
} from "./workload_entry.ts";
/** A port of a ServiceEntry. */
export interface ServicePort {
  number: number;
  /** Upper case (Istio reads protocols case-insensitively). */
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
  name: z.string(),
  targetPort: portNumber.optional(),
});

/** A list of at most `max` items (a CRD maxItems). */
function upTo<T extends z.ZodType>(item: T, max: number, what: string) {
  return z.array(item).max(max, { error: `at most ${max} ${what}` });
}

/** The schema of a ServiceEntry `spec`. */
export const serviceEntrySpec: z.ZodType<ServiceEntrySpec> = z.strictObject({
  hosts: upTo(z.string(), 256, "hosts"),
  addresses: upTo(
    z.string().max(64, { error: "addresses are at most 64 characters" }),
    256,
    "addresses",
  ).optional(),
  ports: upTo(
    servicePort,
    256,
    "ports",
  ).optional(),
  location: z.enum(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]).optional(),
  endpoints: upTo(workloadEntrySpec, 4096, "endpoints").optional(),
  workloadSelector: z.strictObject({
    labels: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length <= 256, {
      error: "at most 256 labels",
    }).optional(),
  }).optional(),
  exportTo: stringList.optional(),
  subjectAltNames: stringList.optional(),
});

/** The label that opts a ServiceEntry out of IP auto-allocation (`"false"`). */
const AUTOALLOCATE_LABEL = "networking.istio.io/enable-autoallocate-ip";
/** The label that puts a resource behind a waypoint. */
const WAYPOINT_LABEL = "istio.io/use-waypoint";

/** Checks a ServiceEntry spec. */
export function checkServiceEntry(spec: ServiceEntrySpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_SE, base, r);
  const resolution = spec.resolution ?? "NONE";
  if (resolution === "DYNAMIC_DNS") {
    r.warn([...base, "resolution"], `DYNAMIC_DNS is ${NOT_SUPPORTED}`);
  }
  if (spec.workloadSelector) {
    checkSelectorMap(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r);
    if (spec.endpoints !== undefined) {
      r.error(
        [...base, "workloadSelector"],
        "only one of workloadSelector or endpoints is allowed; keep one",
      );
    }
  }
  checkHosts(spec, resolution, r);
  checkAddresses(spec, resolution, r);
  const names = checkPorts(spec, resolution, r, ctx);
  checkResolution(spec, resolution, names, r, ctx);
  if (resolution !== "NONE" && spec.hosts.length > 1) {
    const l4 = spec.ports?.findIndex((p) =>
      !isHttpProtocol(p.protocol) && !isTlsProtocol(p.protocol)
    ) ?? -1;
    if (l4 >= 0) {
      r.error(
        [...base, "ports", l4],
        "multiple hosts with a non-HTTP, non-TLS port: nothing tells the hosts apart; " +
          "use one ServiceEntry per host or resolution NONE",
      );
    }
  }
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, true);
}

function checkHosts(spec: ServiceEntrySpec, resolution: ServiceEntryResolution, r: Reporter): void {
  if (spec.hosts.length === 0) r.error(["spec", "hosts"], "a ServiceEntry needs at least one host");
  spec.hosts.forEach((host, i) => {
    const at = ["spec", "hosts", i];
    if (host === "*") {
      r.error(at, `"*" is not allowed in a ServiceEntry; name the hosts, e.g. *.example.com`);
      return;
    }
    const problem = wildcardDomainProblem(host);
    if (problem) r.error(at, `invalid host ${quote(host)}: ${problem}`);
    else if (resolution !== "DYNAMIC_DNS" && host.includes("*") && !host.startsWith("*.")) {
      r.warn(
        at,
        `partial wildcard ${quote(host)} not allowed; use a whole first label, like *.example.com`,
      );
    }
  });
}

/** Go's netip.ParsePrefix accepts `s`. */
function isGoPrefix(s: string): boolean {
  const slash = s.lastIndexOf("/");
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!isGoIP(ip) || ip.includes("%")) return false;
  if (!/^(?:0|[1-9]\d*)$/.test(bits) || bits.length > 3) return false;
  return Number(bits) <= (ip.includes(":") ? 128 : 32);
}

function checkAddresses(
  spec: ServiceEntrySpec,
  resolution: ServiceEntryResolution,
  r: Reporter,
): void {
  spec.addresses?.forEach((a, i) => {
    const slashes = a.split("/").length - 1;
    if (slashes === 1 ? !isGoPrefix(a) : !isGoIP(a)) {
      r.error(
        ["spec", "addresses", i],
        slashes === 1
          ? `${quote(a)} is not a valid CIDR block, like 10.0.0.0/16`
          : `${quote(a)} is not a valid IP address`,
      );
    } else if (slashes === 1 && !/\/(32|128)$/.test(a)) {
      // Single addresses are the service's (DNS answers, captured connections); ranges aren't yet.
      r.warn(
        ["spec", "addresses", i],
        `address ranges are not supported by mesh yet: ${quote(a)} is ignored (single ` +
          "addresses are used, by DNS and transparent capture)",
      );
    }
  });
  if (
    spec.addresses?.some((a) => a.includes("/")) && resolution !== "NONE" && resolution !== "STATIC"
  ) {
    r.error(["spec", "addresses"], "CIDR addresses are allowed only for resolution NONE or STATIC");
  }
}

/** The port checks; returns the port names. */
function checkPorts(
  spec: ServiceEntrySpec,
  resolution: ServiceEntryResolution,
  r: Reporter,
  ctx: CheckContext,
): Map<string, number> {
  const names = new Map<string, number>();
  const optedOut = ctx.labels?.[AUTOALLOCATE_LABEL]?.toLowerCase() === "false";
  const noAddresses = (spec.addresses?.length ?? 0) === 0;
  // Istio allocates an address itself unless the resolution is NONE or the entry opts out.
  const autoAllocated = noAddresses && resolution !== "NONE" && !optedOut;
  spec.ports?.forEach((port, i) => {
    const path = ["spec", "ports", i];
    if (!names.has(port.name)) names.set(port.name, i);
    if (!isIstioLabel(port.name)) {
      r.error(
        [...path, "name"],
        `invalid port name ${quote(port.name)}; use a DNS label like http or tcp-db`,
      );
    }
    // HTTP ports are routed (HTTP2 and GRPC over HTTP/2, GRPC-WEB over HTTP/1.1); TCP (and
    // TLS, carried as TCP) go through Sidecar egress ports.
    const routed = ["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS"];
    if (port.protocol !== undefined && !routed.includes(port.protocol)) {
      r.warn([...path, "protocol"], `${port.protocol} is ${NOT_SUPPORTED}`);
    }
    if (noAddresses && !autoAllocated && (port.protocol === undefined || port.protocol === "TCP")) {
      r.warn(
        [...path, "protocol"],
        "addresses are required for ports serving TCP (or unset) protocol when IP " +
          "auto-allocation is not enabled (resolution NONE, or the entry opts out)",
      );
    }
  });
  checkUnique(spec.ports, (p) => p.name, (i) => ["spec", "ports", i, "name"], "port name", r);
  checkUnique(spec.ports, (p) => p.number, (i) => ["spec", "ports", i, "number"], "port", r);
  return names;
}

/** The rules of each resolution, and the endpoints. */
function checkResolution(
  spec: ServiceEntrySpec,
  resolution: ServiceEntryResolution,
  names: Map<string, number>,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  const endpoints = spec.endpoints ?? [];
  // The CRD's rules hold for every endpoint.
  endpoints.forEach((ep, i) => {
    const path = [...base, "endpoints", i];
    checkEntryShape(ep, path, r);
    if (ep.address === undefined && ep.network === undefined) {
      r.error([...path, "address"], "an endpoint needs an address (or a network)");
    }
  });
  switch (resolution) {
    case "NONE":
      if (spec.endpoints !== undefined) {
        r.error([...base, "endpoints"], "resolution NONE takes no endpoints; use STATIC or DNS");
      }
      if (spec.workloadSelector) {
        r.warn(
          [...base, "workloadSelector"],
          "workloadSelector should not be set when resolution is NONE",
        );
      }
      break;
    case "STATIC":
      endpoints.forEach((ep, i) => {
        checkWorkloadEntry(ep, [...base, "endpoints", i], r, {
          servicePorts: names,
          addresses: "ip",
        });
      });
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      checkDnsResolution(spec, resolution, names, r);
      break;
    case "DYNAMIC_DNS":
      checkDynamicDns(spec, r, ctx);
      break;
  }
}

function checkDnsResolution(
  spec: ServiceEntrySpec,
  resolution: "DNS" | "DNS_ROUND_ROBIN",
  names: Map<string, number>,
  r: Reporter,
): void {
  const base: Path = ["spec"];
  const endpoints = spec.endpoints ?? [];
  if (endpoints.length === 0) {
    const i = spec.hosts.findIndex((h) => fqdnProblem(h) !== undefined);
    if (i >= 0) {
      r.error(
        [...base, "hosts", i],
        `resolution ${resolution} without endpoints resolves the hosts themselves: they must be ` +
          `FQDNs; ${quote(spec.hosts[i])} is not (${fqdnProblem(spec.hosts[i])}); list endpoints`,
      );
    }
  }
  if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) {
    r.error([...base, "endpoints"], "resolution DNS_ROUND_ROBIN allows at most one endpoint");
  }
  endpoints.forEach((ep, i) => {
    const path = [...base, "endpoints", i];
    warnUnsupported(ep, UNSUPPORTED_WE, path, r);
    const address = ep.address ?? "";
    if (!isGoIP(address) && fqdnProblem(address)) {
      r.error(
        [...path, "address"],
        `endpoint address ${quote(address)} is neither an IP address nor an FQDN`,
      );
    }
    checkIstioLabels(ep.labels, [...path, "labels"], r);
    checkEndpointPorts(ep, path, r, names);
  });
  if ((spec.addresses?.length ?? 0) > 0 && spec.hosts.length > 1) {
    // Istio looks at the first port that runs over TCP (TCP, TLS, HTTPS, the databases).
    const tcp = spec.ports?.find((p) =>
      p.protocol !== undefined && !isHttpProtocol(p.protocol) && p.protocol !== "UDP"
    );
    if (tcp) {
      r.warn(
        [...base, "hosts"],
        "a ServiceEntry can not have more than one host with addresses and a TCP port",
      );
    }
  }
}

function checkDynamicDns(spec: ServiceEntrySpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  if (spec.hosts.length === 0) {
    r.error([...base, "hosts"], "resolution DYNAMIC_DNS needs at least one wildcard host");
  }
  spec.hosts.forEach((h, i) => {
    if (!h.startsWith("*")) {
      r.error(
        [...base, "hosts", i],
        `resolution DYNAMIC_DNS needs wildcard hosts; ${quote(h)} is not`,
      );
    }
  });
  if ((spec.addresses?.length ?? 0) > 0) {
    r.error(
      [...base, "addresses"],
      "addresses can't be set with resolution DYNAMIC_DNS (routes come from the hosts)",
    );
  }
  if ((spec.endpoints?.length ?? 0) > 0) {
    r.error(
      [...base, "endpoints"],
      "endpoints can't be set with resolution DYNAMIC_DNS (the hosts are resolved)",
    );
  }
  spec.ports?.forEach((p, i) => {
    if (!["HTTP", "TLS", "GRPC", "HTTP2"].includes(p.protocol ?? "")) {
      r.error(
        [...base, "ports", i, "protocol"],
        "only HTTP, TLS, GRPC and HTTP2 ports are supported with resolution DYNAMIC_DNS",
      );
    }
  });
  const waypoint = ctx.labels?.[WAYPOINT_LABEL];
  if (spec.location === "MESH_INTERNAL" && waypoint && waypoint.toLowerCase() !== "none") {
    r.error(
      [...base, "location"],
      "location MESH_INTERNAL with resolution DYNAMIC_DNS is not supported when using waypoints",
    );
  }
}
