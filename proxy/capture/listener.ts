/**
 * The sidecar's outbound listener when transparent capture is on (`mesh start --capture`):
 * the same listener and port as without capture (apps may still use it as their HTTP proxy),
 * with every connection `mesh iptables` redirected to it routed by its original destination
 * (`outbound.ts`).
 *
 * @example
 * ```ts
 * const l = await serveCaptured({ name: "outbound", hostname: "127.0.0.1", port: 15001, handler, routed, tcp });
 * ```
 * @module
 */
import net from "node:net";
import {
  DEFAULT_LIMITS,
  type HttpAcceptor,
  httpAcceptor,
  type HttpListener,
  type ListenerOptions,
  listenGuarded,
  type ServeHandler,
} from "../listener.ts";
import type { RoutedContext } from "../stages/routed.ts";
import { outboundHandler } from "../outbound.ts";
import type { Runtime } from "../runtime.ts";
import { splitHostPort } from "../../api/host.ts";
import { clientGone, setClientGone } from "../client_gone.ts";
import type { TcpContext } from "../tcp.ts";
import { handleOutbound } from "./outbound.ts";
import { originalDstUnavailable } from "./original_dst.ts";

/** What {@linkcode serveCaptured} takes: the plain outbound listener's options, and more. */
export interface CapturedListenerOptions extends ListenerOptions {
  routed: RoutedContext;
  tcp: TcpContext;
  /** Counts captured connections by how they were routed. */
  count?: (kind: "http" | "tcp" | "passthrough" | "blackhole") => void;
}

/**
 * A handler that routes a request naming a service's address (`http://240.240.3.7:9080/`)
 * as one naming the service's host, as Istio's route configs list the address among a
 * virtual host's domains.
 */
export function addressAsHost(runtime: () => Runtime | undefined, h: ServeHandler): ServeHandler {
  return (req, info) => {
    const rt = runtime();
    const host = rt?.byAddress.size ? req.headers.get("host") : null;
    // Captured requests are origin-form: the Host header is their authority. Only one naming
    // a service's address is rebuilt; the rest go on as they came.
    const entry = host === null
      ? undefined
      : rt!.byAddress.get(splitHostPort(host).host.replace(/^\[|\]$/g, ""));
    if (!entry) return h(req, info);
    const url = new URL(req.url);
    url.hostname = entry.host;
    const headers = new Headers(req.headers);
    headers.set("host", url.host);
    const next = new Request(url, { method: req.method, headers, body: req.body });
    setClientGone(next, clientGone(req)); // the client leaving still ends the upstream request
    return h(next, info);
  };
}

/** Starts the outbound listener with capture; fails when original destinations can't be read. */
export function serveCaptured(o: CapturedListenerOptions): Promise<HttpListener> {
  const why = originalDstUnavailable();
  if (why) return Promise.reject(new Error(`--capture: ${why}`));
  const limits = o.limits ?? DEFAULT_LIMITS;
  let port = o.port;
  const direct = httpAcceptor({ ...o, port: () => port });
  const byPort = new Map<number, HttpAcceptor>();
  const http = (p: number) => {
    let a = byPort.get(p);
    if (!a) {
      const handler = outboundHandler(o.routed, { table: (rt) => rt.outbound, port: p });
      a = httpAcceptor({
        name: `outbound:${p}`,
        handler: addressAsHost(o.routed.runtime, handler),
        limits,
        port: () => p,
      });
      byPort.set(p, a);
    }
    return a;
  };
  const ctx = { runtime: o.routed.runtime, direct, http, tcp: o.tcp, count: o.count };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    handleOutbound(ctx, socket);
  });
  return listenGuarded(server, { ...o, limits, onPort: (p) => port = p }, () => {
    direct.close();
    for (const a of byPort.values()) a.close();
    for (const s of sockets) s.destroy();
  });
}
