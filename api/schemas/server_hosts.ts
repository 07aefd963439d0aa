/**
 * The host and address rules that Gateway servers and Sidecar listeners share, as Istio states
 * them (agent.ValidateNamespaceSlashWildcardHostname, ValidateWildcardDomain, ValidateFQDN,
 * ValidateIPAddress with Go's netip.ParseAddr, net.SplitHostPort): `namespace/host` entries,
 * wildcard domains, IP addresses and `host:port` endpoints.
 * @module
 */

import { quote } from "./common.ts";

const LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** A first label: `*`, or a label with an optional `*` or `*-` in front (Istio's wildcard label). */
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
const INT64_MAX = 2n ** 63n - 1n;

/** A DNS-1123 label as Istio checks it: letters of either case, digits and `-`, at most 63. */
export function isIstioLabel(s: string): boolean {
  return s.length <= 63 && LABEL.test(s);
}

/** Go's strconv.Atoi succeeds: an optional sign, digits, within int64. */
function isAtoi(s: string): boolean {
  if (!/^[+-]?\d+$/.test(s)) return false;
  const n = BigInt(s);
  return n <= INT64_MAX && n >= -INT64_MAX - 1n;
}

/** What is wrong with dot-separated DNS labels (a trailing dot is allowed), or undefined. */
function labelsProblem(domain: string): string | undefined {
  const labels = domain.split(".");
  const tld = labels[labels.length - 1];
  if (isAtoi(tld)) return `the top-level domain ${quote(tld)} is all digits`;
  for (let i = 0; i < labels.length; i++) {
    if (i === labels.length - 1 && labels[i] === "") return undefined;
    if (!isIstioLabel(labels[i])) return `${quote(labels[i])} is not a DNS label`;
  }
  return undefined;
}

function lengthProblem(domain: string): string | undefined {
  if (domain.length > 255) return `it is ${domain.length} characters long; the limit is 255`;
  if (domain === "") return "it is empty";
  return undefined;
}

/** Istio's ValidateFQDN: DNS labels (no wildcard), at most 255 characters. */
export function fqdnProblem(domain: string): string | undefined {
  return lengthProblem(domain) ?? labelsProblem(domain);
}

/** Istio's ValidateWildcardDomain: a wildcard label first, then DNS labels. */
export function wildcardDomainProblem(domain: string): string | undefined {
  const long = lengthProblem(domain);
  if (long) return long;
  const dot = domain.indexOf(".");
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first)) {
    return `${quote(first)} is not a DNS label`;
  }
  return dot < 0 ? undefined : labelsProblem(domain.slice(dot + 1));
}

function isIPv4Go(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9]\d{0,2})$/.test(p) && +p <= 255);
}

/** Groups of one side of `::`: hex fields, an IPv4 address last if `v4Last`; -1 if invalid. */
function ipv6Groups(side: string, v4Last: boolean): number {
  if (side === "") return 0;
  const fields = side.split(":");
  let groups = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (v4Last && i === fields.length - 1 && f.includes(".")) {
      if (!isIPv4Go(f)) return -1;
      groups += 2;
    } else if (/^[0-9a-fA-F]{1,4}$/.test(f)) groups++;
    else return -1;
  }
  return groups;
}

/** Go's netip.ParseAddr accepts `s`: IPv4 without leading zeros, or IPv6 with an optional zone. */
export function isGoIP(s: string): boolean {
  if (!s.includes(":")) return isIPv4Go(s);
  const pct = s.indexOf("%");
  if (pct === s.length - 1) return false;
  const addr = pct < 0 ? s : s.slice(0, pct);
  const halves = addr.split("::");
  if (halves.length > 2) return false;
  if (halves.length === 1) return ipv6Groups(addr, true) === 8;
  const left = ipv6Groups(halves[0], false);
  const right = ipv6Groups(halves[1], true);
  return left >= 0 && right >= 0 && left + right <= 7;
}

/** Where a `namespace/host` entry is: a Gateway server or a Sidecar egress listener. */
export type HostOwner = "Gateway" | "Sidecar";

/** What is wrong with the host part of a Gateway or Sidecar host entry (first problem). */
function hostPartProblem(host: string, entry: string, owner: HostOwner): string | undefined {
  const bad = `invalid host ${quote(entry)}`;
  if (host !== "*" && !host.includes(".")) {
    return `${bad}: short names are not allowed in a ${owner}; use the FQDN, like ` +
      `${host || "reviews"}.default.svc.cluster.local`;
  }
  if (host.includes("*") && host !== "*" && !host.startsWith("*.")) {
    return `${bad}: a wildcard must be the whole first label, like *.example.com`;
  }
  const problem = wildcardDomainProblem(host);
  if (problem && !(owner === "Gateway" && isGoIP(host))) return `${bad}: ${problem}`;
  return undefined;
}

/**
 * What is wrong with a Gateway server host or a Sidecar egress host, or undefined. Both are
 * `namespace/host` (a Gateway also takes a bare host, and IP addresses); the namespace is `*`,
 * `.` or a namespace name, in a Sidecar optionally after `~` (to exclude it); the host is `*`,
 * `*.domain` or a name with a dot.
 */
export function namespacedHostProblem(entry: string, owner: HostOwner): string | undefined {
  const slash = entry.indexOf("/");
  if (slash < 0) {
    if (owner === "Gateway") return hostPartProblem(entry, entry, owner);
    return `invalid host ${quote(entry)}; write it as namespace/host, like ./*, */*, ` +
      "istio-system/*.example.com or prod/reviews.prod.svc.cluster.local";
  }
  const ns = entry.slice(0, slash);
  const host = entry.slice(slash + 1);
  if (ns === "" || host === "") {
    return `invalid host ${quote(entry)}; neither the namespace nor the host may be empty`;
  }
  const name = owner === "Sidecar" && ns.startsWith("~") ? ns.slice(1) : ns;
  if (!(name === "*" || name === "." || (name === "" && ns === "~") || isIstioLabel(name))) {
    const allowed = owner === "Sidecar"
      ? "*, . or a namespace name, each optionally after ~"
      : "*, . or a namespace name";
    return `invalid host ${quote(entry)}: namespace ${quote(ns)} is not ${allowed}`;
  }
  return hostPartProblem(host, entry, owner);
}

/**
 * Go's net.SplitHostPort: `host:port` or `[host]:port` (the host may not hold a colon unless
 * bracketed); undefined when it doesn't split.
 */
export function splitHostPort(s: string): { host: string; port: string } | undefined {
  const colon = s.lastIndexOf(":");
  if (colon < 0) return undefined;
  let host = s.slice(0, colon);
  if (host.startsWith("[")) {
    if (!host.endsWith("]") || host.indexOf("]") !== host.length - 1) return undefined;
    host = host.slice(1, -1);
  } else if (host.includes(":") || host.includes("]")) return undefined;
  if (host.includes("[") || host.includes("]")) return undefined;
  return { host, port: s.slice(colon + 1) };
}

/** Go's strconv.Atoi of a port, or undefined. */
export function atoiPort(s: string): number | undefined {
  return isAtoi(s) ? Number(s) : undefined;
}
