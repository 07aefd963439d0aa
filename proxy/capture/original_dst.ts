/**
 * The original destination of a connection that `mesh iptables` redirected to the proxy
 * (iptables `REDIRECT`, as Istio's default interception mode): the kernel keeps it in the
 * connection's conntrack entry, and `getsockopt(SO_ORIGINAL_DST)` on the accepted socket
 * reads it back.
 *
 * Deno exposes no file descriptor for an accepted socket, so this finds it: it walks the
 * process's descriptors calling `getpeername`/`getsockname` through FFI (libc) until one is
 * the connection (same peer address and port, same local port), then asks that descriptor
 * for `SO_ORIGINAL_DST` (`IP6T_SO_ORIGINAL_DST` for IPv6). The walk costs one or two system
 * calls per open descriptor (docs/capture.md has the measurement, and why not TPROXY). The
 * 4-tuple is unique among live sockets, so a descriptor reused by another connection in the
 * meantime can't be mistaken for this one.
 *
 * @example
 * ```ts
 * const dst = originalDestination({
 *   peer: { address: socket.remoteAddress!, port: socket.remotePort! },
 *   localPort: socket.localPort!,
 * });
 * // → { address: "10.96.0.12", port: 9080 }
 * ```
 * @module
 */

/** An IP address and port. */
export interface SocketAddress {
  address: string;
  port: number;
}

/**
 * An original destination, and the descriptor it was read from: pass that to
 * {@linkcode releaseDescriptorHint} when the connection closes.
 */
export interface OriginalDestination extends SocketAddress {
  fd: number;
}

/** What {@linkcode originalDestination} needs to know of the accepted connection. */
export interface AcceptedConnection {
  /** The client's address and port (`socket.remoteAddress`, `socket.remotePort`). */
  peer: SocketAddress;
  /** The port the proxy accepted it on (`socket.localPort`). */
  localPort: number;
}

const SOL_IP = 0;
const SOL_IPV6 = 41;
const SO_ORIGINAL_DST = 80;
const IP6T_SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
/** Descriptors walked past the highest one seen, for sockets opened since. */
const SLACK = 64;
/** Never walk past this many descriptors. */
const MAX_FDS = 1 << 20;

const SYMBOLS = {
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | undefined;
let libcError: string | undefined;

/** libc through FFI, opened once; an error text when it can't be. */
function open(): Libc | string {
  if (libc) return libc;
  if (libcError) return libcError;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    return libc;
  } catch (err) {
    libcError = `can't load libc.so.6 through FFI to read original destinations (${
      (err as Error).message
    }); run the proxy with --allow-ffi (or -A)`;
    return libcError;
  }
}

/** Why original destinations can't be read here, or undefined when they can. */
export function originalDstUnavailable(): string | undefined {
  const l = open();
  return typeof l === "string" ? l : undefined;
}

const addr = new Uint8Array(128);
const len = new Uint32Array(1);
const lenBytes = new Uint8Array(len.buffer);

/** Parses a `sockaddr_in` / `sockaddr_in6`; undefined for other families. */
export function parseSockaddr(b: Uint8Array): SocketAddress | undefined {
  const family = b[0] | (b[1] << 8);
  const port = (b[2] << 8) | b[3];
  if (family === AF_INET) return { address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port };
  if (family === AF_INET6) {
    const words: string[] = [];
    for (let i = 8; i < 24; i += 2) words.push(((b[i] << 8) | b[i + 1]).toString(16));
    const text = words.join(":");
    // An IPv4-mapped address reads as the IPv4 one, as node reports it on dual-stack sockets.
    const m = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(text);
    if (m) {
      const hi = parseInt(m[1], 16), lo = parseInt(m[2], 16);
      return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, port };
    }
    return { address: compressIpv6(words), port };
  }
  return undefined;
}

/** The canonical text of an IPv6 address's eight words (RFC 5952: longest zero run as ::). */
function compressIpv6(words: string[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; lower case. */
function normalize(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** The `sockaddr` bytes (family, port, address) a socket of `a` reports, for comparing. */
function sockaddrBytes(a: SocketAddress): Uint8Array[] {
  const ip = normalize(a.address);
  const port = [a.port >> 8, a.port & 255];
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    const mapped = new Uint8Array(24);
    mapped.set([AF_INET6, 0, ...port]);
    mapped.set([0xff, 0xff, ...octets], 18);
    return [new Uint8Array([AF_INET, 0, ...port, ...octets]), mapped];
  }
  const words = expandIpv6(ip);
  if (!words) return [];
  const b = new Uint8Array(24);
  b.set([AF_INET6, 0, ...port]);
  words.forEach((w, k) => b.set([w >> 8, w & 255], 8 + 2 * k));
  return [b];
}

/** An IPv6 address's eight words; undefined when it isn't one. */
function expandIpv6(ip: string): number[] | undefined {
  const [head, tail, extra] = ip.split("::");
  if (extra !== undefined) return undefined;
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  const zeros = tail !== undefined ? 8 - h.length - t.length : 0;
  const all = [...h, ...Array(Math.max(0, zeros)).fill("0"), ...t];
  if (all.length !== 8 || all.some((w) => !/^[0-9a-f]{1,4}$/.test(w))) return undefined;
  return all.map((w) => parseInt(w, 16));
}

/** `sockaddr` bytes of the form `want` skipping IPv6's flow info (bytes 4–7). */
function sameSockaddr(got: Uint8Array, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) {
    if (want[0] === AF_INET6 && i >= 4 && i < 8) continue;
    if (got[i] !== want[i]) return false;
  }
  return true;
}

/** Lookups made and descriptors walked by them, for the proxy's stats (and docs/capture.md). */
export const lookupStats = { lookups: 0, walked: 0 };

let highest = 0;
/** Where the next walk starts: where the last one was found, or a descriptor since freed. */
let hint = 3;

/** The highest descriptor open now (from /proc/self/fd), remembered for the next walks. */
function refreshHighest(): number {
  try {
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      const n = Number(e.name);
      if (n > highest) highest = n;
    }
  } catch { /* no procfs: keep walking what we know, plus the slack */ }
  return highest;
}

/**
 * The descriptor of the accepted connection, or -1 when none is. Each descriptor costs one
 * `getpeername` compared byte for byte (no allocation), and a `getsockname` when the peer
 * matches. The walk goes outward from the hint (where the last one was found, or a
 * descriptor a found connection freed): a new socket takes the lowest free descriptor, and
 * with connections coming and going that is most often right there.
 */
function findFd(l: Libc, c: AcceptedConnection): number {
  const wants = sockaddrBytes(c.peer);
  if (wants.length === 0) return -1;
  lookupStats.lookups++;
  const is = (fd: number): boolean => {
    lookupStats.walked++;
    len[0] = addr.length;
    if (l.getpeername(fd, addr, lenBytes) !== 0) return false;
    if (!wants.some((w) => sameSockaddr(addr, w))) return false;
    len[0] = addr.length;
    if (l.getsockname(fd, addr, lenBytes) !== 0) return false;
    return ((addr[2] << 8) | addr[3]) === c.localPort;
  };
  const found = (fd: number) => {
    if (fd > highest) highest = fd;
    hint = fd;
    return fd;
  };
  const top = Math.min(highest + SLACK, MAX_FDS);
  const start = Math.max(3, Math.min(hint, top));
  for (let d = 0; start - d >= 3 || start + d <= top; d++) {
    if (start + d <= top && is(start + d)) return found(start + d);
    if (d > 0 && start - d >= 3 && is(start - d)) return found(start - d);
  }
  // Opened past the slack since the last refresh: look at what is open now.
  const now = Math.min(refreshHighest(), MAX_FDS);
  for (let fd = top + 1; fd <= now; fd++) if (is(fd)) return found(fd);
  return -1;
}

/**
 * Tells the lookup a connection it found is closing: its descriptor is where the next
 * accepted socket most likely lands.
 */
export function releaseDescriptorHint(fd: number): void {
  if (fd >= 3) hint = fd;
}

/**
 * The address and port the client connected to before the kernel redirected it to the
 * proxy. A connection made to the proxy's port itself reads as that port (when conntrack
 * tracks it) or undefined (when it doesn't): callers compare. Undefined too when the
 * connection is already gone or FFI isn't available ({@linkcode originalDstUnavailable}).
 */
export function originalDestination(c: AcceptedConnection): OriginalDestination | undefined {
  const l = open();
  if (typeof l === "string") return undefined;
  const fd = findFd(l, c);
  if (fd < 0) return undefined;
  const v6 = normalize(c.peer.address).includes(":");
  len[0] = addr.length;
  const rc = v6
    ? l.getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, addr, lenBytes)
    : l.getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, addr, lenBytes);
  if (rc !== 0) return undefined; // ENOENT: no conntrack entry
  const dst = parseSockaddr(addr);
  return dst && { ...dst, fd };
}
