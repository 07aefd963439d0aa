/**
 * What every listener of the proxy is protected by ({@linkcode ListenerLimits}): at most
 * `maxConnections` per listener and a process-wide budget derived from the open-file limit
 * (one more is closed as soon as it is accepted), accept errors that never crash the process,
 * and a loopback probe that notices an accept loop that stopped (Deno 2.9's `node:net` stops
 * accepting for good after one `EMFILE`) and listens on the port again. The head, header and
 * idle limits are applied by the HTTP servers (`listener.ts`'s `h1Options`, `h2_serve.ts`).
 *
 * @example
 * ```ts
 * const guard = guardServer(server, "outbound", limits);
 * ```
 * @module
 */
import net from "node:net";
import { logger } from "../util/log.ts";

const log = logger("listener");

/** Protection settings of a listener (flags of `mesh start`, see README). */
export interface ListenerLimits {
  /** Most connections open at once; more are closed when accepted. */
  maxConnections: number;
  /** A request head must be complete this long after its first byte (ms). */
  requestHeadersTimeoutMs: number;
  /** A connection without a request in flight closes after this long idle (ms). */
  idleTimeoutMs: number;
  /** Largest request head in bytes (request line and headers). */
  maxRequestHeadersBytes: number;
  /** Most header lines in a request. */
  maxRequestHeaders: number;
}

/** The defaults: Envoy's limits, with a shorter headers timeout and idle timeout. */
export const DEFAULT_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxConnections: 10_000,
  requestHeadersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxRequestHeadersBytes: 60 * 1024,
  maxRequestHeaders: 100,
});

/** Logs one line per `key` at most every `intervalMs`, with how many were held back. */
export function rateLimitedLog(intervalMs = 10_000) {
  const last = new Map<string, { at: number; held: number }>();
  return (key: string, message: string, fields: Record<string, unknown>) => {
    const now = performance.now();
    const s = last.get(key);
    if (s && now - s.at < intervalMs) {
      s.held++;
      return;
    }
    const held = s?.held ?? 0;
    last.set(key, { at: now, held: 0 });
    log.warn(message, held ? { ...fields, suppressed: held } : fields);
  };
}
const warn = rateLimitedLog();

/** The soft open-file limit of this process (from /proc/self/limits), or undefined. */
export function openFileLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = text.match(/^Max open files\s+(\d+|unlimited)/m);
    if (!m) return undefined;
    return m[1] === "unlimited" ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Connections all guarded listeners of the process may hold together: half the open-file
 * limit less a reserve, since each downstream connection may need an upstream one (and the
 * rest of the process needs descriptors too).
 */
export const PROCESS_CONNECTION_BUDGET: number = (() => {
  const limit = openFileLimit();
  return limit === undefined ? Infinity : Math.max(64, Math.floor((limit - 256) / 2));
})();
let processConnections = 0;

/** Connections open now across every guarded listener of the process. */
export function openConnections(): number {
  return processConnections;
}

/** How often a listener checks that it still accepts, and after how many misses it relistens. */
const PROBE_INTERVAL_MS = 2_000;
const PROBE_WAIT_MS = 2_000;
const PROBE_MISSES = 2;

/** A guarded server's live numbers. */
export interface Guard {
  /** Connections open now. */
  readonly connections: number;
  /** Connections refused for the limits so far. */
  readonly refused: number;
  /** Times the accept loop was found stopped and the port listened on again. */
  readonly relistens: number;
}

/**
 * Protects a `node:net` server (call it after `createServer(handler)`, before `listen`): its
 * connection listeners run only for connections within `maxConnections` (and the process
 * budget); `error` events are logged (rate-limited), never thrown; and once listening, a
 * probe (over loopback, or to the listener's own address) checks every couple of seconds that
 * connections are still accepted, and listens on the port again when they aren't.
 */
export function guardServer(
  server: net.Server,
  name: string,
  limits: Pick<ListenerLimits, "maxConnections"> = DEFAULT_LIMITS,
): Guard {
  const state = { connections: 0, refused: 0, relistens: 0 };
  const handlers = server.listeners("connection") as ((s: net.Socket) => void)[];
  server.removeAllListeners("connection");
  const probes = new Set<number>();
  let probeAccepted = 0;
  // Loopback connections accepted while a probe runs, by remote port: the server may accept
  // the probe before the probe learns its own port (the order of the two events varies).
  const acceptedWhileProbing = new Set<number>();
  server.on("connection", (socket: net.Socket) => {
    // The probe comes from loopback, or from the listener's own address when it is bound to
    // one (a host's interface address): the kernel picks that as the probe's source.
    if (probing && (isLoopback(socket.remoteAddress) || socket.remoteAddress === probeHost)) {
      const port = socket.remotePort ?? -1;
      if (probes.has(port)) {
        probeAccepted++;
        socket.on("error", () => {});
        socket.destroy();
        return;
      }
      if (acceptedWhileProbing.size < 64) acceptedWhileProbing.add(port);
    }
    if (
      state.connections >= limits.maxConnections || processConnections >= PROCESS_CONNECTION_BUDGET
    ) {
      state.refused++;
      socket.on("error", () => {});
      socket.destroy();
      warn(`${name}:limit`, "connection refused: too many connections", {
        listener: name,
        open: state.connections,
        max: Math.min(limits.maxConnections, PROCESS_CONNECTION_BUDGET),
      });
      return;
    }
    state.connections++;
    processConnections++;
    socket.once("close", () => {
      state.connections--;
      processConnections--;
    });
    for (const h of handlers) h.call(server, socket);
  });
  server.on("error", (err: Error & { code?: string }) => {
    // Accept failures (EMFILE, ENFILE, ECONNABORTED) must not end the process.
    warn(`${name}:error`, "listener error; still listening", {
      listener: name,
      code: err.code,
      error: err.message,
    });
  });

  let timer: ReturnType<typeof setInterval> | undefined;
  let misses = 0;
  let probing = false;
  let probeHost: string | undefined;
  const probe = () => {
    if (!server.listening) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    if (probing) return;
    const a = server.address();
    if (!a || typeof a !== "object") return;
    probing = true;
    const host = a.address === "0.0.0.0" ? "127.0.0.1" : a.address === "::" ? "::1" : a.address;
    probeHost = host;
    const before = probeAccepted;
    let port = -1;
    const s = net.connect({ host, port: a.port });
    s.on("error", (err: Error & { code?: string }) => {
      // Out of descriptors ourselves: can't tell now; the next probe will.
      if (err.code === "EMFILE" || err.code === "ENFILE") {
        warn(`${name}:probe`, "out of file descriptors", { listener: name, code: err.code });
      }
    });
    s.once("connect", () => {
      port = s.localPort ?? -1;
      probes.add(port);
    });
    const t = setTimeout(() => {
      probing = false;
      probes.delete(port);
      const acceptedEarly = acceptedWhileProbing.has(port);
      acceptedWhileProbing.clear();
      const connected = port !== -1;
      s.destroy();
      if (!connected || probeAccepted > before || acceptedEarly) {
        misses = 0;
        return;
      }
      // The kernel took the connection but the server never accepted it.
      if (++misses < PROBE_MISSES || !server.listening) return;
      misses = 0;
      state.relistens++;
      log.warn("listener stopped accepting (file descriptors ran out?); listening again", {
        listener: name,
        address: `${a.address}:${a.port}`,
      });
      server.close();
      server.listen(a.port, a.address);
    }, PROBE_WAIT_MS);
    Deno.unrefTimer(t as unknown as number);
  };
  server.on("listening", () => {
    if (timer !== undefined) return;
    timer = setInterval(probe, PROBE_INTERVAL_MS);
    Deno.unrefTimer(timer as unknown as number);
  });
  return state;
}

function isLoopback(address: string | undefined): boolean {
  return !!address &&
    (address.startsWith("127.") || address === "::1" || address === "::ffff:127.0.0.1");
}
