/**
 * Names and addresses as Istio's agent validation checks them (pkg/config/validation/agent):
 * DNS-1123 labels that may hold capitals, FQDNs, wildcard domains, trust domains, `host:port`
 * proxy addresses and extension provider services. Each returns why Istio refuses the value,
 * or undefined.
 * @module
 */

import { isIP, quote } from "./common.ts";
import { fqdnProblem, isIstioLabel, wildcardDomainProblem } from "./server_hosts.ts";

/** Why `domain` is not a trust domain: dot-separated labels, a trailing dot allowed. */
export function trustDomainProblem(domain: string): string | undefined {
  if (domain === "") return "empty domain name not allowed";
  const parts = domain.split(".");
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === "") return undefined;
    if (!isIstioLabel(parts[i])) {
      return `label ${quote(parts[i])} is not letters, digits and '-' (at most 63)`;
    }
  }
  return undefined;
}

/** Go's net.SplitHostPort. */
function splitHostPort(hostport: string): [string, string] | string {
  let host: string;
  let rest: string;
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0) return "missing ']' in address";
    if (end + 1 === hostport.length) return "missing port in address";
    if (hostport[end + 1] !== ":") {
      return hostport.indexOf(":", end) >= 0
        ? "too many colons in address"
        : "missing port in address";
    }
    host = hostport.slice(1, end);
    rest = hostport.slice(end + 2);
    if (hostport.indexOf("[", 1) >= 0) return "unexpected '[' in address";
    if (hostport.indexOf("]", end + 1) >= 0) return "unexpected ']' in address";
  } else {
    const colon = hostport.lastIndexOf(":");
    if (colon < 0) return "missing port in address";
    host = hostport.slice(0, colon);
    rest = hostport.slice(colon + 1);
    if (host.includes(":")) return "too many colons in address";
    if (host.includes("[") || host.includes("]")) return "unexpected bracket in address";
  }
  return [host, rest];
}

/** Why Istio refuses a port number (it must be 1..65535). */
export function portProblem(port: number): string | undefined {
  return port >= 1 && port <= 65535 && Number.isInteger(port)
    ? undefined
    : `port number ${port} must be in the range 1..65535`;
}

/** Why `address` is not a proxy address (`host:port`, the host an FQDN or an IP address). */
export function proxyAddressProblem(address: string): string | undefined {
  const split = splitHostPort(address);
  if (typeof split === "string") return `unable to split ${quote(address)}: ${split}`;
  const [host, port] = split;
  if (!/^[+-]?\d+$/.test(port)) return `port (${quote(port)}) is not a number`;
  const p = portProblem(Number(port));
  if (p) return p;
  if (fqdnProblem(host) && !isIP(host)) {
    return `${quote(host)} is not a valid hostname or an IP address`;
  }
  return undefined;
}

/**
 * Why `entry` is not a `namespace/host` of a Sidecar (as Istio checks extension provider
 * services written with a namespace): the namespace `*`, `.`, `~` or a label, the host `*` or a
 * wildcard domain with a dot.
 */
function providerHostProblem(entry: string): string | undefined {
  const slash = entry.indexOf("/");
  if (slash < 0) return "host must be of form namespace/dnsName";
  const ns = entry.slice(0, slash);
  const host = entry.slice(slash + 1);
  if (ns === "" || host === "") {
    return "config namespace and dnsName in host entry cannot be empty";
  }
  const bare = ns.startsWith("~") ? ns.slice(1) : ns;
  if (bare !== "" && bare !== "*" && bare !== "." && !isIstioLabel(bare)) {
    return `invalid namespace value ${quote(ns)}`;
  }
  if (host !== "*" && !host.includes(".")) return "short names (non FQDN) are not allowed";
  const domain = wildcardDomainProblem(host);
  if (domain) return domain;
  if (host.includes("*") && host !== "*" && !host.startsWith("*.")) {
    return `partial wildcard ${quote(host)} not allowed`;
  }
  return undefined;
}

/** Why Istio refuses an extension provider's `service`: an FQDN, an IP or `namespace/host`. */
export function providerServiceProblem(service: string): string | undefined {
  if (service === "") return "service must not be empty";
  if (!service.includes("/")) {
    if (fqdnProblem(service) && !isIP(service)) return `invalid service ${quote(service)}`;
    return undefined;
  }
  return providerHostProblem(service);
}
