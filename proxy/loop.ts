/**
 * Loop detection: a proxy never forwards a request to itself. Two checks, as Envoy's
 * deployments combine an address check (Istio blackholes traffic addressed to the proxy's own
 * listeners) with a hop marker:
 *
 * - By address: a destination that is one of this proxy's own listeners (a loopback,
 *   any-address or local-interface address with a port the proxy listens on: outbound,
 *   inbound, admin, gateway and egress ports) is refused before a connection is made.
 * - By marker: every routed listener (outbound, egress, gateway) appends its proxy's random id
 *   to `x-mesh-via` on requests it forwards, and answers a request that already carries its
 *   id with 508 Loop Detected (RFC 5842: the server ended an operation that would loop
 *   forever). That catches loops the address check can't see (a name that resolves to the
 *   proxy, a chain of proxies). A chain longer than {@linkcode MAX_VIA_HOPS} is refused too.
 *   The inbound side removes `x-mesh-via` before the app, so an app's own calls start afresh.
 * @module
 */

/** The request header that carries the ids of the proxies a request went through. */
export const VIA_HEADER = "x-mesh-via";

/** The most proxies a request may go through before it is taken for a loop. */
export const MAX_VIA_HOPS = 16;

/** A random id for one proxy's routed listeners (not its identity: nothing to learn from it). */
export function newProxyId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/**
 * Why a request is a loop for the proxy `id`, from its `x-mesh-via` value; undefined when it
 * isn't one.
 */
export function viaLoop(via: string | null | undefined, id: string): string | undefined {
  if (!via) return undefined;
  const hops = via.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (hops.includes(id)) return "the request came back to the proxy that forwarded it";
  if (hops.length >= MAX_VIA_HOPS) return `the request went through ${hops.length} proxies`;
  return undefined;
}

/** `x-mesh-via` with `id` appended. */
export function withVia(via: string | null | undefined, id: string): string {
  return via ? `${via}, ${id}` : id;
}

let localAddresses: Set<string> | undefined;

/** This host's interface addresses (read once; none when the runtime can't tell). */
function interfaceAddresses(): Set<string> {
  if (!localAddresses) {
    localAddresses = new Set();
    try {
      for (const i of Deno.networkInterfaces()) localAddresses.add(i.address.toLowerCase());
    } catch { /* no --allow-sys: loopback and any-address are still caught */ }
  }
  return localAddresses;
}

/**
 * Whether `address` (an IP literal, with or without brackets, or a name) reaches this host:
 * `localhost`, 127.0.0.0/8, `::1`, the any-address (`0.0.0.0`, `::`, which connect to the
 * local host), IPv4-mapped forms of those, or one of the host's interface addresses.
 */
export function isLocalAddress(address: string): boolean {
  let a = address.toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (a.endsWith(".")) a = a.slice(0, -1);
  if (a === "localhost" || a.endsWith(".localhost")) return true;
  if (a.includes(":")) {
    const g = ipv6Groups(a);
    if (g) {
      const head = g.slice(0, 5).every((x) => x === 0);
      if (head && g[5] === 0xffff) {
        a = `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`; // IPv4-mapped
      } else if (head && g[5] === 0 && g[6] === 0 && (g[7] === 0 || g[7] === 1)) {
        return true; // :: (any) and ::1
      }
    }
  }
  if (/^127\.\d+\.\d+\.\d+$/.test(a) || a === "0.0.0.0" || a === "0") return true;
  return interfaceAddresses().has(a);
}

/** The eight groups of an IPv6 address (an IPv4 tail as two), or undefined. */
function ipv6Groups(a: string): number[] | undefined {
  const tail = a.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  let s = a;
  if (tail) {
    const [b0, b1, b2, b3] = tail.slice(1).map(Number);
    s = a.slice(0, -tail[0].length) +
      `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0) return undefined;
  const groups = [...head, ...Array(fill).fill("0"), ...rest];
  if (groups.length !== 8 || groups.some((x) => !/^[0-9a-f]{1,4}$/.test(x))) return undefined;
  return groups.map((x) => parseInt(x, 16));
}

/** Whether `address:port` is one of this proxy's own listeners (`ports`). */
export function isOwnListener(address: string, port: number, ports: Iterable<number>): boolean {
  for (const p of ports) {
    if (p === port) return isLocalAddress(address);
  }
  return false;
}
