/**
 * The sidecar's outbound listener with transparent capture on: each connection `mesh
 * iptables` redirected to it is routed by where the app meant it to go (its original
 * destination, `original_dst.ts`), as Istio's outbound listeners are:
 *
 * - to a service address in the name table (`ProxyConfig.names`: a ServiceEntry's address,
 *   a Kubernetes cluster IP, an auto-allocated 240.240.x.y) on an HTTP port (HTTP, HTTP2,
 *   GRPC, GRPC-WEB): served as HTTP by the outbound route table for that port, so routing,
 *   retries, timeouts, faults and mTLS all apply; a request naming the address instead of a
 *   host is routed as the service's host;
 * - on a TCP port (TCP, TLS, MONGO, ...): carried to the service's cluster
 *   (`outbound|port||host`), over mTLS to mesh peers;
 * - on a port that declares no protocol: HTTP if its first bytes are an HTTP request line or
 *   the HTTP/2 preface (within {@linkcode SNIFF_MS}), else TCP;
 * - anywhere else: passed through to that address (`ALLOW_ANY`, Istio's PassthroughCluster),
 *   or closed (`REGISTRY_ONLY`, the BlackHoleCluster).
 *
 * A connection that wasn't redirected (made to the listener's port itself) is the outbound
 * listener as before: HTTP by Host header or absolute form.
 *
 * @example
 * ```ts
 * const server = net.createServer((s) => handleOutbound(ctx, s));
 * ```
 * @module
 */
import net from "node:net";
import type { NameEntry } from "../../api/proxy_config.ts";
import { clusterName } from "../../api/proxy_config.ts";
import type { HttpAcceptor } from "../listener.ts";
import type { Runtime } from "../runtime.ts";
import { latin1 } from "../h1_codec.ts";
import { forwardToCluster, pickCluster, splice, type TcpContext } from "../tcp.ts";
import { logger } from "../../util/log.ts";
import { originalDestination, releaseDescriptorHint, type SocketAddress } from "./original_dst.ts";

const log = logger("capture");

/** How long a connection to a port without a declared protocol may stay silent before it counts as TCP. */
export const SNIFF_MS = 1000;

/** How long a passthrough connection may take to open (Istio's default connect timeout). */
const PASSTHROUGH_CONNECT_MS = 10_000;

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);
const METHOD = /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH|PRI) /;

/** What a captured connection is served with. */
export interface CaptureContext {
  runtime(): Runtime | undefined;
  /** Serves a connection as the plain outbound listener (not redirected). */
  direct: HttpAcceptor;
  /** Serves a captured connection as HTTP to a service port (the route table for `port`). */
  http(port: number): HttpAcceptor;
  tcp: TcpContext;
  /** Counts captured connections by how they were routed (the proxy's stats). */
  count?: (kind: "http" | "tcp" | "passthrough" | "blackhole") => void;
}

/** Where a captured connection goes. */
export type Verdict =
  | { kind: "direct" }
  | { kind: "http"; entry: NameEntry; port: number }
  | { kind: "tcp"; entry: NameEntry; port: number }
  | { kind: "sniff"; entry: NameEntry; port: number }
  | { kind: "passthrough"; dst: SocketAddress }
  | { kind: "blackhole"; dst: SocketAddress };

/**
 * Decides where a connection accepted on `localPort` goes, from its original destination
 * (undefined: not redirected).
 */
export function classify(
  rt: Runtime | undefined,
  dst: SocketAddress | undefined,
  local: SocketAddress,
): Verdict {
  if (!dst || (dst.port === local.port && (dst.address === local.address || isLoopback(dst)))) {
    return { kind: "direct" };
  }
  const entry = rt?.byAddress.get(dst.address);
  const p = entry?.ports.find((x) => x.port === dst.port);
  if (entry && p) {
    if (p.sniff) return { kind: "sniff", entry, port: dst.port };
    return HTTP_PROTOCOLS.has(p.protocol.toUpperCase())
      ? { kind: "http", entry, port: dst.port }
      : { kind: "tcp", entry, port: dst.port };
  }
  return rt?.config.outboundTrafficPolicy === "REGISTRY_ONLY"
    ? { kind: "blackhole", dst }
    : { kind: "passthrough", dst };
}

function isLoopback(a: SocketAddress): boolean {
  return a.address.startsWith("127.") || a.address === "::1";
}

/** Serves one connection accepted by the outbound listener. */
export function handleOutbound(ctx: CaptureContext, socket: net.Socket): void {
  socket.on("error", () => socket.destroy());
  // Gone already (connected and reset at once): no descriptor to look for.
  if (socket.destroyed || !socket.remoteAddress) return void socket.destroy();
  const local = { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
  const found = socket.remoteAddress && socket.remotePort
    ? originalDestination({
      peer: { address: socket.remoteAddress, port: socket.remotePort },
      localPort: local.port,
    })
    : undefined;
  if (found) socket.once("close", () => releaseDescriptorHint(found.fd));
  const rt = ctx.runtime();
  const v = classify(rt, found, local);
  route(ctx, socket, rt, v);
}

function route(ctx: CaptureContext, socket: net.Socket, rt: Runtime | undefined, v: Verdict) {
  switch (v.kind) {
    case "direct":
      return ctx.direct.accept(socket);
    case "http":
      ctx.count?.("http");
      return ctx.http(v.port).accept(socket);
    case "tcp": {
      ctx.count?.("tcp");
      // A VirtualService's tcp route (weighted clusters), else the service's own cluster.
      const destinations = v.entry.ports.find((p) => p.port === v.port)?.destinations;
      return forwardToCluster({
        client: socket,
        rt,
        cluster: pickCluster({
          cluster: clusterName(v.port, undefined, v.entry.host),
          ...(destinations ? { destinations } : {}),
        }),
        ctx: ctx.tcp,
        port: v.port,
      });
    }
    case "sniff":
      return sniff(
        socket,
        (http) =>
          route(ctx, socket, rt, { kind: http ? "http" : "tcp", entry: v.entry, port: v.port }),
      );
    case "passthrough":
      ctx.count?.("passthrough");
      return passthrough(socket, v.dst);
    case "blackhole":
      ctx.count?.("blackhole");
      log.debug("captured connection to a destination outside the registry; closing it", {
        to: `${v.dst.address}:${v.dst.port}`,
      });
      socket.destroy();
  }
}

/** Waits for the first bytes (or {@linkcode SNIFF_MS}) and puts them back. */
function sniff(socket: net.Socket, then: (http: boolean) => void): void {
  let done = false;
  const finish = (chunk?: Uint8Array) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.pause();
    if (chunk) socket.unshift(chunk);
    const head = chunk ? latin1.decode(chunk.subarray(0, 16)) : "";
    then(METHOD.test(head));
    socket.resume();
  };
  const onData = (chunk: Uint8Array) => finish(chunk);
  const timer = setTimeout(() => finish(), SNIFF_MS);
  socket.on("data", onData);
  socket.once("close", () => clearTimeout(timer));
}

/** Carries the connection to where it was going (the proxy's own traffic isn't captured). */
function passthrough(client: net.Socket, dst: SocketAddress): void {
  client.pause();
  const up = net.connect({ host: dst.address, port: dst.port });
  // Istio's default connect timeout; the client leaving first ends the attempt too.
  up.setTimeout(PASSTHROUGH_CONNECT_MS, () => {
    up.destroy();
    client.destroy();
  });
  const abandon = () => up.destroy();
  client.once("close", abandon);
  up.once("connect", () => {
    up.setTimeout(0);
    client.off("close", abandon);
    if (client.destroyed) return void up.destroy();
    client.resume();
    splice(client, up, () => {});
  });
  up.on("error", (err) => {
    log.debug("passthrough connection failed", { to: `${dst.address}:${dst.port}`, error: err });
    client.destroy();
  });
}
