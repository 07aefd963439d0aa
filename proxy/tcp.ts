/**
 * TCP through the mesh. A Sidecar egress listener with `protocol: TCP`
 * accepts plain TCP on `bind:port`, picks an endpoint of its cluster and
 * carries the bytes there: to a mesh peer over mTLS, opening the tunnel with
 * an HTTP `CONNECT` on the peer's inbound port (as Istio's HBONE does over
 * HTTP/2), or straight to a non-mesh endpoint.
 * @module
 */
import { type Ejections, pickEndpoint } from "./stages/pick.ts";
import net from "node:net";
import type { Endpoint, SniRoute, TcpDestination } from "../api/proxy_config.ts";
import { hostMatches } from "../api/host.ts";
import { MAX_HELLO_BYTES, serverName } from "./sni.ts";
import { concat, indexOfHeadEnd, latin1 } from "./h1_codec.ts";
import { guardServer, type ListenerLimits } from "./listener.ts";
import { identityChecker, type Origination, originationOptions } from "./forward.ts";
import type { Credentials } from "./control_client.ts";
import { originationOf, type Runtime } from "./runtime.ts";
import type { Stats } from "./stats.ts";
import { logger } from "../util/log.ts";
import { isOwnListener } from "./loop.ts";
import { connectTls, pauseReading, resumeReading, type TlsDialOptions } from "./flow.ts";

const log = logger("tcp");

/** What a TCP listener reads when a connection arrives. */
export interface TcpContext {
  runtime(): Runtime | undefined;
  tls(): { creds: Credentials; roots: string } | undefined;
  stats: Stats;
  /** Outlier ejections (kept across pushes): ejected endpoints take no new connections. */
  outliers?: Ejections;
}

/** No ejections (a context without outlier detection). */
const NO_EJECTIONS: Ejections = { isEjected: () => false, version: () => 0 };

/**
 * Pipes two sockets both ways, counting bytes; calls `done` once when both are closed.
 * Backpressure: a side whose writes back up (`write()` false) stops the other side's
 * reading until `drain` ({@linkcode pauseReading}, which really stops a TLS socket), so a
 * slow reader holds at most the sockets' buffers.
 */
export function splice(
  a: net.Socket,
  b: net.Socket,
  done: (aToB: number, bToA: number) => void,
): void {
  const ab = flowInto(a, b);
  const ba = flowInto(b, a);
  let closed = 0;
  const close = () => {
    if (++closed === 2) done(ab(), ba());
  };
  const end = (other: net.Socket) => () => other.destroy();
  a.on("close", close);
  b.on("close", close);
  a.on("error", end(b));
  b.on("error", end(a));
  a.on("close", end(b));
  b.on("close", end(a));
}

/**
 * {@linkcode splice}, and both sockets closed after `idleMs` without a byte either way (0:
 * never): a socket's timer restarts on its reads and writes, and whatever one side reads the
 * other writes, so either timer firing means the whole tunnel was quiet.
 */
export function spliceIdle(
  a: net.Socket,
  b: net.Socket,
  idleMs: number,
  done: (aToB: number, bToA: number) => void,
): void {
  if (idleMs > 0) {
    const quiet = () => {
      a.destroy();
      b.destroy();
    };
    a.setTimeout(idleMs, quiet);
    b.setTimeout(idleMs, quiet);
  }
  splice(a, b, done);
}

/** Copies `from` into `to` with backpressure; returns a reader of the bytes copied. */
function flowInto(from: net.Socket, to: net.Socket): () => number {
  let bytes = 0;
  let waiting = false;
  from.on("data", (c: Uint8Array) => {
    bytes += c.length;
    if (!to.write(c) && !waiting) {
      waiting = true;
      pauseReading(from);
      to.once("drain", () => {
        waiting = false;
        resumeReading(from);
      });
    }
  });
  from.on("end", () => to.end());
  resumeReading(from);
  return () => bytes;
}

/** How long opening a tunnel (connect, TLS, the CONNECT answer) may take. */
const DIAL_TIMEOUT_MS = 10_000;

/**
 * Opens the tunnel to `ep`, resolving with the ready socket: a CONNECT tunnel to a mesh
 * sidecar (over mTLS, or plaintext when its PeerAuthentication disables mTLS), else a
 * plain connection.
 */
export function dial(
  ep: Endpoint,
  authority: string,
  ctx: TcpContext,
  origination?: Origination,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (!ep.mtls && !ep.sidecar) {
      // Outside the mesh: plain TCP, or TLS when a DestinationRule originates it.
      let options: TlsDialOptions;
      try {
        options = origination
          ? originationOptions(ep, origination)
          : { host: ep.address, port: ep.port };
      } catch (err) {
        return reject(err);
      }
      const s: net.Socket = origination
        ? connectTls(options, () => ready())
        : net.connect({ host: ep.address, port: ep.port }, () => ready());
      const ready = () => {
        s.setTimeout(0);
        s.removeListener("error", reject);
        resolve(s);
      };
      s.setTimeout(DIAL_TIMEOUT_MS, () => {
        s.destroy();
        reject(new Error(`no connection in ${DIAL_TIMEOUT_MS} ms`));
      });
      s.once("error", reject);
      return;
    }
    let s: net.Socket;
    if (ep.mtls) {
      const t = ctx.tls();
      if (!t) return reject(new Error("no mesh certificate yet"));
      s = connectTls({
        host: ep.address,
        port: ep.port,
        key: t.creds.keyPem,
        cert: t.creds.certChainPem,
        ca: t.roots,
        checkServerIdentity: identityChecker(
          ep.identity,
          () => ctx.runtime()?.config.trustDomainAliases,
        ),
      });
    } else s = net.connect({ host: ep.address, port: ep.port });
    s.setNoDelay(true);
    // The peer must answer the CONNECT in time, and a close before the answer is a failure.
    const fail = (err: Error) => {
      s.setTimeout(0);
      s.removeListener("close", closed);
      s.destroy();
      reject(err);
    };
    const closed = () => fail(new Error("the peer closed the tunnel before answering"));
    s.setTimeout(
      DIAL_TIMEOUT_MS,
      () => fail(new Error(`no tunnel answer in ${DIAL_TIMEOUT_MS} ms`)),
    );
    s.once("error", fail);
    s.once("close", closed);
    s.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
    let buf: Uint8Array = new Uint8Array(0);
    const onData = (chunk: Uint8Array) => {
      buf = concat(buf, chunk);
      const end = indexOfHeadEnd(buf, 0);
      if (end < 0) {
        if (buf.length > 8192) s.destroy(new Error("tunnel answer too long"));
        return;
      }
      pauseReading(s); // no byte may flow before the caller pipes it
      s.setTimeout(0);
      s.removeListener("data", onData);
      s.removeListener("error", fail);
      s.removeListener("close", closed);
      const status = latin1.decode(buf.subarray(0, end)).split("\r\n")[0];
      if (!/^HTTP\/1\.[01] 200/.test(status)) {
        s.destroy();
        return reject(new Error(`tunnel refused: ${status}`));
      }
      const rest = buf.subarray(end + 4);
      if (rest.length) s.unshift(rest);
      resolve(s);
    };
    s.on("data", onData);
  });
}

/**
 * Where a TCP listener's connections go: one cluster, weighted ones (a `tcp` route), or by
 * the TLS server name (`tls` routes, passthrough).
 */
export interface TcpTarget {
  cluster?: string;
  destinations?: TcpDestination[];
  sniRoutes?: SniRoute[];
}

/** The route for a server name: an exact SNI host first, then the longest wildcard. */
export function bestSniRoute(routes: SniRoute[], name: string): SniRoute | undefined {
  let best: SniRoute | undefined;
  let bestLen = -1;
  for (const r of routes) {
    for (const h of r.sniHosts) {
      if (!hostMatches(h, name)) continue;
      const len = h === name ? Infinity : h.length;
      if (len > bestLen) {
        best = r;
        bestLen = len;
      }
    }
  }
  return best;
}

/** How long a client may take to send its ClientHello. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Reads the SNI of `client`'s ClientHello (undefined when there is none) and puts the bytes
 * back, so that they are the first to go upstream; `client` is paused again after.
 */
export function readServerName(client: net.Socket): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf: Uint8Array = new Uint8Array(0);
    const done = (name: string | undefined) => {
      client.setTimeout(0);
      client.removeListener("data", onData);
      client.removeListener("close", onClose);
      client.pause();
      client.unshift(buf);
      resolve(name);
    };
    const onData = (chunk: Uint8Array) => {
      buf = concat(buf, chunk);
      const r = serverName(buf);
      if (r.more && buf.length < MAX_HELLO_BYTES) return;
      done(r.name);
    };
    const onClose = () => reject(new Error("the client closed before its ClientHello"));
    client.setTimeout(HELLO_TIMEOUT_MS, () => {
      client.destroy();
      reject(new Error("no ClientHello in time"));
    });
    client.on("data", onData);
    client.once("close", onClose);
    client.resume();
  });
}

/** A cluster of `target`, by weight when it has destinations. */
export function pickCluster(target: TcpTarget | undefined, rand = Math.random): string | undefined {
  const ds = target?.destinations;
  if (!ds?.length) return target?.cluster;
  const total = ds.reduce((n, d) => n + d.weight, 0);
  let r = rand() * total;
  for (const d of ds) {
    r -= d.weight;
    if (r < 0) return d.cluster;
  }
  return ds[ds.length - 1].cluster;
}

/**
 * Starts a TCP listener; resolves once it listens. `target` says, when a connection
 * arrives, where it goes (by default the Sidecar egress listener on `port`).
 */
export function startTcpListener(
  bind: string,
  port: number,
  ctx: TcpContext,
  target: (rt: Runtime) => TcpTarget | undefined = (rt) =>
    rt.config.egressListeners?.find((l) => l.port === port),
  authorize = false,
  limits?: Pick<ListenerLimits, "maxConnections">,
): Promise<{ close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    client.setNoDelay(true);
    const rt = ctx.runtime();
    // A gateway's TCP server enforces the AuthorizationPolicies that select the gateway, as
    // TCP (its clients have no mesh identity).
    if (authorize && rt?.authorize) {
      const decision = rt.authorize({
        principal: "",
        sourceIp: client.remoteAddress ?? "",
        host: "",
        port,
        method: "",
        path: "",
        header: () => undefined,
        tcp: true,
      });
      if (!decision.allowed) {
        client.destroy();
        return;
      }
    }
    const t = rt ? target(rt) : undefined;
    if (t?.sniRoutes) {
      // TLS passthrough: the ClientHello's server name picks the route.
      readServerName(client).then((name) => {
        const route = name === undefined ? undefined : bestSniRoute(t.sniRoutes!, name);
        if (!route) {
          log.warn("no tls route for a connection's SNI; closing it", { port, sni: name });
          client.destroy();
          return;
        }
        forward(client, rt, pickCluster({ destinations: route.destinations }));
      }, () => client.destroy());
      return;
    }
    forward(client, rt, rt ? pickCluster(t) : undefined);
  });

  const forward = (client: net.Socket, rt: Runtime | undefined, cluster: string | undefined) =>
    forwardToCluster({ client, rt, cluster, ctx, port });
  // The listener limits (connections at once, accept errors, the accept watchdog).
  guardServer(server, `tcp:${port}`, limits);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, bind, () => {
      server.off("error", reject);
      resolve({
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const c of open) c.destroy();
          }),
      });
    });
  });
}

/** What {@linkcode forwardToCluster} takes. */
export interface ForwardOptions {
  client: net.Socket;
  rt: Runtime | undefined;
  cluster: string | undefined;
  ctx: TcpContext;
  /** The port the connection came in on (logs, and the loop check). */
  port: number;
}

/**
 * Sends a client connection to an endpoint of `cluster` (over mTLS to a mesh peer, or
 * straight to one outside), piping bytes both ways; closes the client when there is none.
 */
export function forwardToCluster(o: ForwardOptions): void {
  const { client, rt, cluster, ctx, port } = o;
  const lb = cluster ? rt?.balancers.get(cluster) : undefined;
  // The stages' pick: the balancer's, outlier-ejected endpoints skipped (panic threshold).
  const ep = lb &&
    pickEndpoint(lb, { tried: [], avoidTried: false, outliers: ctx.outliers ?? NO_EJECTIONS });
  const service = lb?.cluster.host ?? "unknown";
  if (!ep) {
    log.warn("no endpoint for a TCP connection; closing it", { port, cluster });
    client.destroy();
    return;
  }
  // An endpoint outside the mesh that is this very listener would dial itself forever.
  if (!ep.mtls && !ep.sidecar && isOwnListener(ep.address, ep.port, [port])) {
    log.warn("a TCP endpoint is this listener itself; closing the connection", { port });
    client.destroy();
    return;
  }
  const labels = { service, mtls: ep.mtls };
  dial(ep, `${service}:${lb!.cluster.port}`, ctx, originationOf(lb!.cluster)).then((up) => {
    if (client.destroyed) {
      up.destroy(); // the client left (or the listener closed) while the tunnel opened
      return;
    }
    ctx.stats.tcpOpened("source", labels);
    splice(client, up, (sent, received) => ctx.stats.tcpClosed("source", labels, sent, received));
  }, (err) => {
    log.warn("TCP upstream failed", { to: `${ep.address}:${ep.port}`, error: err });
    client.destroy();
  });
}
