/**
 * The sidecar's DNS proxy, as istio-agent's DNS proxying: a UDP and TCP server on one port
 * (15053 by default) that answers the mesh's names from a {@link NameTable} and forwards every
 * other query to the host's resolvers, over the transport the client used.
 *
 * Forwarding: the upstreams are `upstreams`, else the `nameserver` lines of `resolvConf`
 * (`/etc/resolv.conf`), read once at start; one naming this server's own address and port is
 * skipped. Each forwarded query goes out with a fresh random id from a fresh socket (the
 * client's id is restored in the answer), tries the next upstream after `timeoutMs`, and is
 * answered SERVFAIL when all have failed. A UDP answer larger than the client can take (512
 * bytes, or its EDNS size) is cut to its question with TC set, so the client retries over TCP.
 *
 * Bounds: at most `maxInflight` forwarded queries at once (beyond: SERVFAIL at once); a TCP
 * connection idle `tcpIdleMs` with nothing pending, or with more than `tcpMaxPendingBytes` of
 * queries unanswered, is closed. Malformed packets are answered FORMERR when their id can be
 * read, else dropped; nothing a client sends can throw out of the server.
 *
 * @example
 * ```ts
 * let table = buildNameTable({ hosts, namespace: "default" });
 * const dns = await startDnsServer({ host: "127.0.0.1", port: 15053, table: () => table });
 * // on a new config: table = buildNameTable(...); the next query sees it
 * await dns.close();
 * ```
 * @module
 */

import dgram from "node:dgram";
import net from "node:net";
import { logger } from "../../util/log.ts";
import type { NameTable } from "./names.ts";
import {
  buildResponse,
  CLASS_IN,
  frame,
  isResponse,
  parseQuery,
  type Query,
  RCODE,
  readId,
  splitFrames,
  TCP_MAX_MESSAGE,
  truncate,
  UDP_MAX_PLAIN,
  withId,
} from "./wire.ts";

const log = logger("dns");

/** The port istio-agent's DNS proxy listens on. */
export const DEFAULT_DNS_PORT = 15053;
/** How long one upstream gets to answer before the next is tried. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** Forwarded queries in flight at most; more are answered SERVFAIL. */
export const DEFAULT_MAX_INFLIGHT = 1024;
/** The TTL of the table's answers, as Istio's (30 s). */
export const DEFAULT_TTL = 30;
/** A TCP connection with nothing pending is closed after this long without traffic. */
export const DEFAULT_TCP_IDLE_MS = 10_000;
/** A TCP connection with more query bytes than this unanswered is closed. */
export const DEFAULT_TCP_MAX_PENDING_BYTES = 64 * 1024;
/** TCP connections at most; more are closed on accept. */
export const DEFAULT_MAX_TCP_CONNECTIONS = 512;

/** Options of {@link startDnsServer}. */
export interface DnsServerOptions {
  /** The address to listen on, `127.0.0.1` by default. */
  host?: string;
  /** The port (UDP and TCP), {@link DEFAULT_DNS_PORT} by default; 0 picks a free one. */
  port?: number;
  /** The current name table, read for every query (so a new config applies at once). */
  table: () => NameTable;
  /** Upstream resolvers, `ip` or `ip:port` (`[v6]:port`); else read from `resolvConf`. */
  upstreams?: readonly string[];
  /** The resolv.conf whose `nameserver` lines are the upstreams, `/etc/resolv.conf` by default. */
  resolvConf?: string;
  /** Per upstream, {@link DEFAULT_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** {@link DEFAULT_MAX_INFLIGHT} by default. */
  maxInflight?: number;
  /** The TTL of table answers, {@link DEFAULT_TTL} by default. */
  ttl?: number;
  /** {@link DEFAULT_TCP_IDLE_MS} by default. */
  tcpIdleMs?: number;
  /** {@link DEFAULT_TCP_MAX_PENDING_BYTES} by default. */
  tcpMaxPendingBytes?: number;
  /** {@link DEFAULT_MAX_TCP_CONNECTIONS} by default. */
  maxTcpConnections?: number;
}

/** Counters: queries answered from the table, answered by an upstream, and failed. */
export interface DnsStats {
  /** Answered from the table (addresses, NOERROR-empty or NXDOMAIN). */
  answered: number;
  /** Answered by an upstream resolver. */
  forwarded: number;
  /** Answered SERVFAIL, FORMERR or NOTIMP, or dropped as malformed. */
  failed: number;
}

/** A running DNS proxy. */
export interface DnsServer {
  /** The bound port (UDP and TCP). */
  readonly port: number;
  /** The upstreams in use, after skipping this server's own address. */
  readonly upstreams: readonly string[];
  /** Live counters. */
  readonly stats: Readonly<DnsStats>;
  /** Stops listening, closes TCP connections and abandons queries in flight. */
  close(): Promise<void>;
}

/** An upstream's address. */
interface Upstream {
  host: string;
  port: number;
  text: string;
}

/** One try of one upstream: the client's message, sent with `id`. */
interface Attempt {
  upstream: Upstream;
  msg: Uint8Array;
  id: number;
}

/** The `nameserver` addresses of a resolv.conf's text, in order. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIP(m[1].split("%")[0])) out.push(m[1]);
  }
  return out;
}

/** `ip`, `ip:port` or `[v6]:port` as host and port (53 when absent); undefined if neither. */
export function parseUpstream(text: string): { host: string; port: number } | undefined {
  let host = text, port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) [host, port] = [bracket[1], bracket[2] ? Number(bracket[2]) : 53];
  else if (!net.isIP(text.split("%")[0])) {
    const i = text.lastIndexOf(":");
    if (i < 0) return undefined;
    [host, port] = [text.slice(0, i), Number(text.slice(i + 1))];
  }
  if (!net.isIP(host.split("%")[0]) || !Number.isInteger(port) || port < 1 || port > 65535) {
    return undefined;
  }
  return { host, port };
}

const isLoopback = (h: string) => h === "::1" || h.startsWith("127.") || h === "localhost";
const isWildcard = (h: string) => h === "0.0.0.0" || h === "::";

/** Whether an upstream is this server itself (forwarding to it would loop). */
function isSelf(u: { host: string; port: number }, host: string, port: number): boolean {
  if (u.port !== port) return false;
  if (u.host === host) return true;
  return isWildcard(host) && (isLoopback(u.host) || isWildcard(u.host));
}

function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}

/** Starts the DNS proxy; rejects when the port can't be bound (UDP or TCP). */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const host = opts.host ?? "127.0.0.1";
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxInflight = opts.maxInflight ?? DEFAULT_MAX_INFLIGHT;
  const ttl = opts.ttl ?? DEFAULT_TTL;
  const tcpIdleMs = opts.tcpIdleMs ?? DEFAULT_TCP_IDLE_MS;
  const tcpMaxPending = opts.tcpMaxPendingBytes ?? DEFAULT_TCP_MAX_PENDING_BYTES;
  const maxConns = opts.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
  const family = net.isIPv6(host) ? "udp6" : "udp4";

  const { udp, tcp, port } = await bindBoth({
    host,
    port: opts.port ?? DEFAULT_DNS_PORT,
    family,
  });

  let configured = opts.upstreams ? [...opts.upstreams] : undefined;
  if (!configured) {
    const file = opts.resolvConf ?? "/etc/resolv.conf";
    try {
      configured = parseResolvConf(Deno.readTextFileSync(file));
    } catch (e) {
      log.warn("can't read resolv.conf; non-mesh names will fail", { file, error: e });
      configured = [];
    }
  }
  const upstreams: Upstream[] = [];
  for (const text of configured) {
    const u = parseUpstream(text);
    if (!u) log.warn("ignoring upstream that isn't an address", { upstream: text });
    else if (isSelf(u, host, port)) {
      log.warn("skipping upstream that is this server", { upstream: text });
    } else upstreams.push({ ...u, text });
  }
  if (!upstreams.length) log.warn("no upstream resolvers; non-mesh names answer SERVFAIL");

  const stats: DnsStats = { answered: 0, forwarded: 0, failed: 0 };
  /** Abort functions of the upstream attempts in flight. */
  const attempts = new Set<() => void>();
  const conns = new Set<net.Socket>();
  let inflight = 0;
  let closed = false;
  let lastFailWarn = -Infinity;

  /** One UDP attempt: the answer, or undefined on timeout, error or close. */
  const askUdp = ({ upstream: u, msg, id }: Attempt): Promise<Uint8Array | undefined> =>
    new Promise((resolve) => {
      const sock = dgram.createSocket(net.isIPv6(u.host.split("%")[0]) ? "udp6" : "udp4");
      const done = (answer?: Uint8Array) => {
        if (!attempts.delete(abort)) return;
        clearTimeout(timer);
        try {
          sock.close();
        } catch { /* already closed */ }
        resolve(answer);
      };
      const abort = () => done();
      attempts.add(abort);
      const timer = setTimeout(abort, timeoutMs);
      sock.on("error", (e) => {
        log.debug("upstream error", { upstream: u.text, error: e });
        done();
      });
      sock.on("message", (m: Uint8Array, rinfo: dgram.RemoteInfo) => {
        // Not ours: another sender, port or id (an off-path answer must guess all three).
        if (rinfo.address !== u.host.split("%")[0] || rinfo.port !== u.port) return;
        if (readId(m) !== id || !isResponse(m)) return;
        done(new Uint8Array(m));
      });
      sock.send(withId(msg, id), u.port, u.host, (e) => e && done());
    });

  /** One TCP attempt: the answer, or undefined on timeout, error or close. */
  const askTcp = ({ upstream: u, msg, id }: Attempt): Promise<Uint8Array | undefined> =>
    new Promise((resolve) => {
      let buf: Uint8Array = new Uint8Array(0);
      const sock = net.connect({ host: u.host, port: u.port });
      const done = (answer?: Uint8Array) => {
        if (!attempts.delete(abort)) return;
        clearTimeout(timer);
        sock.destroy();
        resolve(answer);
      };
      const abort = () => done();
      attempts.add(abort);
      const timer = setTimeout(abort, timeoutMs);
      sock.on("error", (e) => {
        log.debug("upstream error", { upstream: u.text, error: e });
        done();
      });
      sock.on("close", () => done());
      sock.on("connect", () => sock.write(frame(withId(msg, id))));
      sock.on("data", (d: Uint8Array) => {
        buf = concat(buf, d);
        if (buf.length > TCP_MAX_MESSAGE + 2) return done();
        const { messages, rest } = splitFrames(buf);
        buf = rest;
        const m = messages.find((m) => readId(m) === id && isResponse(m));
        if (m) done(m);
      });
    });

  /** The upstream's answer with the client's id, trying each upstream in turn. */
  const forward = async (
    { msg, query, tcp }: { msg: Uint8Array; query: Query; tcp: boolean },
  ): Promise<Uint8Array | undefined> => {
    for (const u of upstreams) {
      if (closed) return undefined;
      const answer = await (tcp ? askTcp : askUdp)({ upstream: u, msg, id: randomId() });
      if (answer) return withId(answer, query.id);
      log.debug("upstream gave no answer", { upstream: u.text, name: query.question.name });
    }
    return undefined;
  };

  const fail = (query: Query, why: string): Uint8Array => {
    stats.failed++;
    const now = performance.now();
    if (now - lastFailWarn > 10_000) {
      lastFailWarn = now;
      log.warn("answering SERVFAIL", { reason: why, name: query.question.name });
    }
    return buildResponse({ query, rcode: RCODE.SERVFAIL });
  };

  /** The reply to one message, or undefined to drop it. Never throws. */
  const handle = async (msg: Uint8Array, tcp: boolean): Promise<Uint8Array | undefined> => {
    const parsed = parseQuery(msg);
    if (!parsed.ok) {
      stats.failed++;
      log.debug("malformed query", { error: parsed.error, answered: !!parsed.reply });
      return parsed.reply;
    }
    const { query } = parsed;
    const limit = tcp
      ? TCP_MAX_MESSAGE
      : Math.max(UDP_MAX_PLAIN, Math.min(query.edns?.udpSize ?? 0, TCP_MAX_MESSAGE));
    let found;
    try {
      found = query.question.class === CLASS_IN
        ? opts.table().lookup(query.question.name, query.question.type)
        : undefined;
    } catch (e) {
      log.error("name table lookup failed", { error: e });
      return fail(query, "name table error");
    }
    if (found) {
      stats.answered++;
      if (found.kind === "nxdomain") {
        return buildResponse({ query, rcode: RCODE.NXDOMAIN, authoritative: true });
      }
      const type = query.question.type;
      const answers = found.addresses.map((address) => ({ type, ttl, address }));
      return truncate(buildResponse({ query, answers, authoritative: true }), limit);
    }
    if (!upstreams.length) return fail(query, "no upstream resolvers");
    if (inflight >= maxInflight) return fail(query, "too many forwarded queries in flight");
    inflight++;
    try {
      const answer = await forward({ msg, query, tcp });
      if (closed) return undefined;
      if (!answer) return fail(query, "no upstream answered");
      stats.forwarded++;
      return truncate(answer, limit);
    } finally {
      inflight--;
    }
  };
  const safeHandle = (msg: Uint8Array, tcp: boolean) =>
    handle(msg, tcp).catch((e) => {
      log.error("dns query failed", { error: e });
      return undefined;
    });

  udp.on("message", (m: Uint8Array, rinfo: dgram.RemoteInfo) => {
    void safeHandle(new Uint8Array(m), false).then((reply) => {
      if (!reply || closed) return;
      try {
        udp.send(reply, rinfo.port, rinfo.address, (e) => e && log.debug("udp send", { error: e }));
      } catch (e) {
        log.debug("udp send", { error: e });
      }
    });
  });
  udp.on("error", (e) => log.warn("udp socket error", { error: e }));

  tcp.on("connection", (sock: net.Socket) => {
    if (closed || conns.size >= maxConns) {
      sock.destroy();
      return;
    }
    conns.add(sock);
    let buf: Uint8Array = new Uint8Array(0);
    let unanswered = 0; // bytes of queries received, not yet answered or dropped
    let pending = 0;
    const idle = setTimeout(function check() {
      if (pending > 0) idle.refresh();
      else sock.destroy();
    }, tcpIdleMs);
    sock.on("close", () => {
      clearTimeout(idle);
      conns.delete(sock);
    });
    sock.on("error", (e) => log.debug("tcp client error", { error: e }));
    sock.on("data", (d: Uint8Array) => {
      idle.refresh();
      unanswered += d.length;
      buf = concat(buf, d);
      if (unanswered > tcpMaxPending) {
        log.debug("closing tcp client: too much unanswered", { bytes: unanswered });
        sock.destroy();
        return;
      }
      const { messages, rest } = splitFrames(buf);
      buf = rest;
      for (const m of messages) {
        pending++;
        void safeHandle(m, true).then((reply) => {
          pending--;
          unanswered -= m.length + 2;
          if (!reply || sock.destroyed) return;
          idle.refresh();
          sock.write(frame(reply));
          if (sock.writableLength > tcpMaxPending * 4) sock.destroy(); // not reading its answers
        });
      }
    });
  });
  tcp.on("error", (e) => log.warn("tcp server error", { error: e }));

  log.info("dns proxy listening", { host, port, upstreams: upstreams.map((u) => u.text) });
  return {
    port,
    upstreams: upstreams.map((u) => u.text),
    stats,
    async close() {
      if (closed) return;
      closed = true;
      for (const abort of [...attempts]) abort();
      for (const c of conns) c.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return new Uint8Array(b);
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Binds UDP then TCP on the same port; for port 0, retries until both get one. */
async function bindBoth(
  { host, port, family }: { host: string; port: number; family: "udp4" | "udp6" },
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 0;; attempt++) {
    const udp = dgram.createSocket(family);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        try {
          udp.close();
        } catch { /* not open */ }
        reject(e);
      };
      udp.once("error", onError);
      udp.bind(port, host, () => {
        udp.off("error", onError);
        resolve();
      });
    });
    const bound = udp.address().port;
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(bound, host, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      return { udp, tcp, port: bound };
    } catch (e) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (port !== 0 || attempt >= 20) throw e;
    }
  }
}
