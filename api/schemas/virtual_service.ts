/**
 * VirtualService (`networking.istio.io`): hosts, gateways, and its HTTP, TLS and TCP routes.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkExportTo,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  quote,
  type Reporter,
  stringList,
  uint32,
  warnUnsupported,
} from "./common.ts";
import {
  checkHttpRoute,
  checkJwtClaimMatches,
  checkWeights,
  type HTTPRoute,
  httpRoute,
  labels,
  type RouteDestination,
  routeDestination,
} from "./http_route.ts";
import {
  checkGatewayNames,
  checkIstioLabels,
  optionalPortProblem,
  subnetProblem,
} from "./http_route_checks.ts";
import { isGoIP, wildcardDomainProblem } from "./server_hosts.ts";
import { UNSUPPORTED_L4_MATCH } from "./unsupported.ts";

const l4Match = z.strictObject({
  destinationSubnets: stringList.optional(),
  port: uint32.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: labels.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});

const tlsMatch = z.strictObject({
  sniHosts: nonEmptyList(z.string(), "sniHosts must list at least one host"),
  destinationSubnets: stringList.optional(),
  port: uint32.optional(),
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
  hosts: z.array(z.string()).default([]),
  gateways: stringList.optional(),
  http: z.array(httpRoute).optional(),
  tls: z.array(tlsRoute).optional(),
  tcp: z.array(tcpRoute).optional(),
  exportTo: stringList.optional(),
});

/** `name` is a wildcard (Istio's host.Name: a leading `*`). */
function isWildcard(name: string): boolean {
  return name.startsWith("*");
}

/** Istio's host.Name.Matches: the two names (each maybe a wildcard) share a host. */
export function hostNamesOverlap(a: string, b: string): boolean {
  if (isWildcard(a) && isWildcard(b)) {
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  }
  if (isWildcard(a)) return b.endsWith(a.slice(1));
  if (isWildcard(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's host.Name.SubsetOf: every host `a` stands for is one `b` stands for. */
export function hostNameWithin(a: string, b: string): boolean {
  if (isWildcard(a)) {
    return isWildcard(b) && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  }
  return isWildcard(b) ? a.endsWith(b.slice(1)) : a === b;
}

/**
 * Problems with a host of a VirtualService bound to gateways: a wildcard domain, or, when it has
 * TLS routes with SNI hosts, an SNI name of Istio's AUTO_PASSTHROUGH form
 * `outbound_.<port>_.<subset>_.<host>`.
 */
function gatewayHostProblem(host: string, sni: boolean): string | undefined {
  if (!sni || !host.startsWith("outbound_") || host.length > 255) {
    return wildcardDomainProblem(host);
  }
  const parts = host.split("_");
  if (parts.length < 4) {
    return "an outbound_ SNI name has the form outbound_.<port>_.<subset>_.<host>";
  }
  const port = parts[1].replace(/^\.+|\.+$/g, "");
  const name = parts[3].replace(/^\.+|\.+$/g, "");
  if (!/[0-9]/.test(port)) return `${quote(port)} is not a port`;
  if (!/[a-zA-Z]/.test(name)) return `${quote(name)} is not a host name`;
  return undefined;
}

/** Checks a VirtualService spec (structure already valid), as Istio's ValidateVirtualService. */
export function checkVirtualService(
  spec: VirtualServiceSpec,
  r: Reporter,
  ctx: CheckContext,
): void {
  const base: Path = ["spec"];
  if (spec.hosts.length === 0) {
    // A delegate: no gateways, only HTTP routes (Istio's rules).
    if (spec.gateways?.length) {
      r.error([...base, "gateways"], "a delegate VirtualService (no hosts) can't set gateways");
    }
    for (const k of ["tls", "tcp"] as const) {
      if (spec[k]?.length) {
        r.error([...base, k], `a delegate VirtualService (no hosts) can't have ${k} routes`);
      }
    }
  }
  const gateways = spec.gateways ?? [];
  checkGatewayNames(gateways, [...base, "gateways"], r);
  // Bound to gateways only (no `mesh`): Istio's gateway rules for hosts and SNI hosts.
  const gatewaysOnly = gateways.length > 0 && !gateways.includes("mesh");
  checkJwtClaimMatches(spec.http, gatewaysOnly, [...base, "http"], r);
  if (!gatewaysOnly && spec.hosts.length && spec.tls?.length) {
    r.warn(
      [...base, "tls"],
      `tls routes for sidecars (mesh) are ${NOT_SUPPORTED} (they apply to gateways with TLS ` +
        "PASSTHROUGH servers)",
    );
  }
  checkHosts(spec, gatewaysOnly, r);
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    r.error(base, "no routes; add at least one entry under http, tcp or tls");
  }
  const inDelegate = spec.hosts.length === 0;
  spec.http?.forEach((route, i) => checkHttpRoute(route, [...base, "http", i], r, { inDelegate }));
  spec.tls?.forEach((route, i) => checkTlsRoute(route, spec, gatewaysOnly, [...base, "tls", i], r));
  spec.tcp?.forEach((route, i) => {
    const path = [...base, "tcp", i];
    route.match?.forEach((m, j) => {
      checkL4Match(m, [...path, "match", j], r);
      warnUnsupported(m, UNSUPPORTED_L4_MATCH, [...path, "match", j], r);
    });
    checkRouteDestinations(route.route, [...path, "route"], r, "TCP route");
  });
  checkExportTo(spec.exportTo, [...base, "exportTo"], ctx, r, false);
}

function checkHosts(spec: VirtualServiceSpec, gatewaysOnly: boolean, r: Reporter): void {
  const sni = spec.tls?.some((t) => t.match.some((m) => m.sniHosts.length > 0)) ?? false;
  let allValid = true;
  spec.hosts.forEach((host, i) => {
    const problem = gatewaysOnly ? gatewayHostProblem(host, sni) : wildcardDomainProblem(host);
    if (problem) {
      if (isGoIP(host)) return;
      allValid = false;
      r.error(
        ["spec", "hosts", i],
        `invalid host ${quote(host)}: ${problem}; use a short name like reviews, an FQDN, ` +
          "a wildcard like *.example.com, or an IP address",
      );
    } else if (!gatewaysOnly && host === "*") {
      allValid = false;
      r.error(
        ["spec", "hosts", i],
        `"*" is only allowed when the VirtualService is bound to gateways (and not mesh); ` +
          "list the service's hosts, or set gateways",
      );
    }
  });
  if (!allValid) return;
  spec.hosts.forEach((host, j) => {
    const i = spec.hosts.findIndex((h, k) => k < j && hostNamesOverlap(h, host));
    if (i >= 0) {
      r.error(
        ["spec", "hosts", j],
        `host ${quote(host)} overlaps hosts[${i}] ${quote(spec.hosts[i])}; list each host once`,
      );
    }
  });
}

function checkTlsRoute(
  route: TLSRoute,
  spec: VirtualServiceSpec,
  gatewaysOnly: boolean,
  path: Path,
  r: Reporter,
): void {
  route.match.forEach((m, j) => {
    const at = [...path, "match", j];
    m.sniHosts.forEach((sni, k) => {
      const problem = gatewaysOnly ? gatewayHostProblem(sni, true) : wildcardDomainProblem(sni);
      if (problem) {
        if (isGoIP(sni)) {
          r.warn(
            [...at, "sniHosts", k],
            `SNI host ${quote(sni)} is an IP address: SNI names hosts, and most clients send none`,
          );
        } else r.error([...at, "sniHosts", k], `invalid SNI host ${quote(sni)}: ${problem}`);
      } else if (!spec.hosts.some((h) => hostNameWithin(sni, h))) {
        r.error(
          [...at, "sniHosts", k],
          `SNI host ${quote(sni)} is not a subset of the VirtualService's hosts ` +
            `(${spec.hosts.join(", ")}); add it to hosts or fix the name`,
        );
      }
    });
    checkL4Match(m, at, r);
    warnUnsupported(m, ["destinationSubnets"], at, r);
  });
  checkRouteDestinations(route.route, [...path, "route"], r, "TLS route");
}

/** Checks a TCP or TLS match (Istio doesn't check `sourceNamespace` or `sourceSubnet` here). */
function checkL4Match(
  m: z.infer<typeof l4Match> | z.infer<typeof tlsMatch>,
  path: Path,
  r: Reporter,
): void {
  m.destinationSubnets?.forEach((s, i) => {
    const problem = subnetProblem(s);
    if (problem) r.error([...path, "destinationSubnets", i], problem);
  });
  const portProblem = optionalPortProblem(m.port);
  if (portProblem) r.error([...path, "port"], portProblem);
  checkIstioLabels(m.sourceLabels, [...path, "sourceLabels"], r);
  checkGatewayNames(m.gateways, [...path, "gateways"], r);
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
