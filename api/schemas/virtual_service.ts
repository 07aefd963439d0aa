/**
 * VirtualService (`networking.istio.io`): hosts, gateways, and its HTTP, TLS and TCP routes.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  checkLabels,
  checkUnique,
  formatted,
  HOST_HINT,
  isDns1123Label,
  isIP,
  isIPOrCIDR,
  isWildcardHost,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  quote,
  type Reporter,
  stringList,
  warnUnsupported,
} from "./common.ts";
import {
  checkHttpRoute,
  checkWeights,
  gatewayRef,
  type HTTPRoute,
  httpRoute,
  isGatewayRef,
  labels,
  type RouteDestination,
  routeDestination,
} from "./http_route.ts";
import { UNSUPPORTED_L4_MATCH } from "./unsupported.ts";
const l4Match = z.strictObject({
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});

const tlsMatch = z.strictObject({
  sniHosts: nonEmptyList(z.string(), "sniHosts must list at least one host"),
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});

const tlsRoute = z.strictObject({
  match: nonEmptyList(tlsMatch, "a TLS route needs at least one match with sniHosts"),
  route: z.array(routeDestination).optional(),
});
/** A TLS (SNI) route of a VirtualService. */
export type TLSRoute = z.infer<typeof tlsRoute>;

const tcpRoute = z.strictObject({
  match: z.array(l4Match).optional(),
  route: z.array(routeDestination).optional(),
});
/** A TCP route of a VirtualService. */
export type TCPRoute = z.infer<typeof tcpRoute>;

/** `spec` of a VirtualService. */
export interface VirtualServiceSpec {
  /** Hosts the routes apply to (at least one). */
  hosts: string[];
  /** Gateways (`name` or `namespace/name`) and/or `mesh`; absent means `mesh` only. */
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}

/** The schema of a VirtualService `spec`. */
export const virtualServiceSpec: z.ZodType<VirtualServiceSpec> = z.strictObject({
  // No hosts: a delegate VirtualService, whose routes a root's `delegate` takes in.
  hosts: z.array(
    formatted((s) => isWildcardHost(s) || isIP(s), (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
  ).default([]),
  gateways: z.array(gatewayRef).optional(),
  http: z.array(httpRoute).optional(),
  tls: z.array(tlsRoute).optional(),
  tcp: z.array(tcpRoute).optional(),
  exportTo: stringList.optional(),
});

/** Checks a VirtualService spec (structure already valid). */
export function checkVirtualService(
  spec: VirtualServiceSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
  if (spec.hosts.length === 0) {
    // A delegate: only HTTP routes, no gateways, and no further delegation (Istio's rules).
    if (spec.gateways?.length) {
      r.error([...base, "gateways"], "a delegate VirtualService (no hosts) can't set gateways");
    }
    for (const k of ["tls", "tcp"] as const) {
      if (spec[k]?.length) {
        r.error([...base, k], `a delegate VirtualService (no hosts) can only have http routes`);
      }
    }
    spec.http?.forEach((h, i) => {
      if (h.delegate) {
        r.error(
          [...base, "http", i, "delegate"],
          "a delegate VirtualService can't delegate again; only one level is supported",
        );
      }
    });
  }
  const gateways = spec.gateways ?? [];
  const appliesToMesh = gateways.length === 0 || gateways.includes("mesh");
  if (appliesToMesh && spec.hosts.length && spec.tls?.length) {
    r.warn(
      [...base, "tls"],
      `tls routes for sidecars (mesh) are ${NOT_SUPPORTED} (they apply to gateways with TLS ` +
        "PASSTHROUGH servers)",
    );
  }
  spec.hosts.forEach((host, i) => {
    if (host === "*" && appliesToMesh) {
      r.error(
        [...base, "hosts", i],
        `"*" is only allowed when the VirtualService is bound to gateways; ` +
          "list the service's hosts, or set gateways",
      );
    }
    const earlier = spec.hosts.findIndex((h, j) =>
      j < i && (h === host || (h.startsWith("*") && hostCovers(h, host)) ||
        (host.startsWith("*") && hostCovers(host, h)))
    );
    if (earlier >= 0) {
      r.error(
        [...base, "hosts", i],
        `host ${quote(host)} overlaps hosts[${earlier}] ${quote(spec.hosts[earlier])}; ` +
          "list each host once",
      );
    }
  });
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    r.error(base, "no routes; add at least one entry under http");
  }
  checkUnique(spec.http, (h) => h.name, (i) => [...base, "http", i, "name"], "route name", r);
  spec.http?.forEach((route, i) => checkHttpRoute(route, [...base, "http", i], r, appliesToMesh));
  spec.tls?.forEach((route, i) => {
    const path = [...base, "tls", i];
    route.match.forEach((m, j) => {
      const at = [...path, "match", j];
      m.sniHosts.forEach((sni, k) => {
        const covered = spec.hosts.some((h) => h === sni || hostCovers(h, sni));
        if (!isWildcardHost(sni) || sni === "*") {
          r.error([...at, "sniHosts", k], `invalid SNI host ${quote(sni)}; use a DNS name`);
        } else if (!covered) {
          r.error(
            [...at, "sniHosts", k],
            `SNI host ${quote(sni)} is not one of the VirtualService's hosts ` +
              `(${spec.hosts.join(", ")}); add it to hosts or fix the name`,
          );
        }
      });
      checkL4Match(m, at, r);
      warnUnsupported(m, ["destinationSubnets"], at, r);
    });
    checkRouteDestinations(route.route, [...path, "route"], r, "TLS route");
  });
  spec.tcp?.forEach((route, i) => {
    const path = [...base, "tcp", i];
    route.match?.forEach((m, j) => {
      checkL4Match(m, [...path, "match", j], r);
      warnUnsupported(m, UNSUPPORTED_L4_MATCH, [...path, "match", j], r);
      if (m.sourceSubnet !== undefined && !isIPOrCIDR(m.sourceSubnet)) {
        r.error(
          [...path, "match", j, "sourceSubnet"],
          `invalid subnet ${quote(m.sourceSubnet)}; use an IP address or CIDR block`,
        );
      }
    });
    checkRouteDestinations(route.route, [...path, "route"], r, "TCP route");
  });
}

/** Whether wildcard `pattern` (`*` or `*.suffix`) covers `host`. */
function hostCovers(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  return pattern.startsWith("*.") && host.endsWith(pattern.slice(1)) && host !== pattern;
}

function checkL4Match(
  m: z.infer<typeof l4Match> | z.infer<typeof tlsMatch>,
  path: Path,
  r: Reporter,
): void {
  m.destinationSubnets?.forEach((s, i) => {
    if (!isIPOrCIDR(s)) {
      r.error(
        [...path, "destinationSubnets", i],
        `invalid subnet ${quote(s)}; use an IP address or CIDR block like 10.0.0.0/16`,
      );
    }
  });
  checkLabels(m.sourceLabels, [...path, "sourceLabels"], r);
  m.gateways?.forEach((g, i) => {
    if (!isGatewayRef(g)) {
      r.error([...path, "gateways", i], `invalid gateway ${quote(g)}; use namespace/name or mesh`);
    }
  });
  if (m.sourceNamespace !== undefined && !isDns1123Label(m.sourceNamespace)) {
    r.error([...path, "sourceNamespace"], `invalid namespace ${quote(m.sourceNamespace)}`);
  }
}

function checkRouteDestinations(
  destinations: readonly RouteDestination[] | undefined,
  path: Path,
  r: Reporter,
  what: string,
): void {
  if (!destinations?.length) {
    r.error(path, `no destination; a ${what} needs at least one entry under route`);
    return;
  }
  checkWeights(destinations, path, r);
}
