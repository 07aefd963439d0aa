/**
 * HTTP `CONNECT` on the sidecar's outbound listener, for apps that reach other hosts through
 * it as an HTTPS proxy (`HTTPS_PROXY=http://127.0.0.1:<outbound port>`): the tunnel's bytes
 * are TCP as far as the mesh is concerned.
 *
 * - `host:port` of a service in the registry (a mesh service or a ServiceEntry): to an
 *   endpoint of its cluster (`outbound|port||host`); a mesh endpoint is reached as TCP to it
 *   is, through a CONNECT tunnel over mesh mTLS to its sidecar's inbound port, where the
 *   destination's AuthorizationPolicies decide (a refusal comes back as 403); an endpoint
 *   outside the mesh directly (the client's own TLS goes through untouched).
 * - anything else: straight to its address under `outboundTrafficPolicy: ALLOW_ANY`
 *   (PassthroughCluster); refused with 403 under REGISTRY_ONLY.
 *
 * Each tunnel counts as a TCP connection (`istio_tcp_connections_opened_total`, `..._closed_`,
 * bytes sent and received, reporter source) and gets one access log line when it ends.
 * @module
 */
import { type Ejections, pickEndpoint } from "./stages/pick.ts";
import net from "node:net";
import { STATUS_CODES } from "node:http";
import { Buffer } from "node:buffer";
import { splitHostPort } from "../api/host.ts";
import type { Endpoint } from "../api/proxy_config.ts";
import type { AccessLog } from "./access_log.ts";
import type { H1ConnectHandler } from "./h1_server.ts";
import { pauseReading } from "./flow.ts";
import { isOwnListener } from "./loop.ts";
import type { Runtime } from "./runtime.ts";
import { dial, spliceIdle, type TcpContext } from "./tcp.ts";
import { logger } from "../util/log.ts";

const log = logger("connect");

/** What the outbound listener's CONNECT handler reads. */
export interface ConnectContext extends TcpContext {
  accessLog?: AccessLog;
  /** This proxy's own listener ports (a tunnel to one would loop). */
  ownPorts(): readonly (number | undefined)[];
  /** A tunnel closes after this long without a byte either way (the listener's idle timeout). */
  idleTimeoutMs: number;
}

/** Where a CONNECT goes. */
export type ConnectTarget =
  | { kind: "cluster"; cluster: string; service: string; ep: Endpoint }
  | { kind: "passthrough"; ep: Endpoint }
  | { kind: "refused"; status: number; why: string; cluster?: string };

/**
 * Decides where a tunnel to `authority` (`host:port`) goes under `rt`: a registry service's
 * cluster, the passthrough cluster (ALLOW_ANY) or nowhere (with the status and why).
 */
export function connectTarget(
  rt: Runtime,
  authority: string,
  ownPorts: readonly number[] = [],
  o: { random?: () => number; outliers?: Ejections } = {},
): ConnectTarget {
  const hp = splitHostPort(authority);
  const host = hp.host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!host || hp.port === undefined || hp.port <= 0 || hp.port > 65535) {
    return { kind: "refused", status: 400, why: "a CONNECT target must be host:port" };
  }
  const port = hp.port;
  const vh = rt.outbound.virtualHost(`${host}:${port}`, port);
  const service = vh?.name.endsWith(`:${port}`) ? vh.name.slice(0, -`:${port}`.length) : "";
  const cluster = service ? `outbound|${port}||${service}` : "";
  const lb = cluster ? rt.balancers.get(cluster) : undefined;
  if (lb) {
    const ep = lb.cluster.originalDst
      ? { address: host, port, mtls: false, labels: {} }
      : pickEndpoint(lb, {
        tried: [],
        avoidTried: false,
        outliers: o.outliers ?? { isEjected: () => false },
        ...(o.random ? { random: o.random } : {}),
      });
    if (!ep) return { kind: "refused", status: 503, why: "no healthy upstream", cluster };
    return { kind: "cluster", cluster, service: lb.cluster.host, ep };
  }
  if (rt.config.outboundTrafficPolicy !== "ALLOW_ANY") {
    return {
      kind: "refused",
      status: 403,
      why: `CONNECT to ${host}:${port} refused: it is not in the mesh's registry and the ` +
        "outbound traffic policy is REGISTRY_ONLY (a ServiceEntry for it allows it)",
      cluster: "BlackHoleCluster",
    };
  }
  if (isOwnListener(host, port, ownPorts)) {
    return { kind: "refused", status: 508, why: `loop detected: ${authority} is this proxy` };
  }
  return { kind: "passthrough", ep: { address: host, port, mtls: false, labels: {} } };
}

function answer(socket: net.Socket, status: number, body: string): void {
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Status"}\r\ncontent-type: text/plain\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/** The outbound listener's CONNECT handler. */
export function outboundConnect(ctx: ConnectContext): H1ConnectHandler {
  return (target, client, rest) => {
    pauseReading(client); // nothing goes anywhere before the tunnel is open
    const start = performance.now();
    const rt = ctx.runtime();
    if (!rt) return answer(client, 503, "proxy has no configuration yet");
    const own = ctx.ownPorts().filter((p): p is number => !!p);
    const t = connectTarget(rt, target, [...own, ...rt.config.listeners.map((l) => l.port)], {
      outliers: ctx.outliers,
    });
    const logLine = (status: number, more: {
      ep?: Endpoint;
      cluster?: string;
      flags?: string;
      sent?: number;
      received?: number;
    } = {}) => {
      const accessLog = ctx.accessLog;
      if (!accessLog?.enabled) return;
      const durationMs = performance.now() - start;
      accessLog.write({
        start: Date.now() - durationMs,
        method: "CONNECT",
        path: "-",
        status,
        flags: more.flags,
        bytesReceived: more.received ?? 0,
        bytesSent: more.sent ?? 0,
        durationMs,
        authority: target,
        upstreamHost: more.ep ? `${more.ep.address}:${more.ep.port}` : undefined,
        upstreamCluster: more.cluster,
      });
    };
    if (t.kind === "refused") {
      logLine(t.status, { cluster: t.cluster, flags: t.status === 403 ? "NR" : undefined });
      return answer(client, t.status, t.why);
    }
    const cluster = t.kind === "cluster" ? t.cluster : "PassthroughCluster";
    const service = t.kind === "cluster" ? t.service : "PassthroughCluster";
    const ep = t.ep;
    const port = splitHostPort(target).port!;
    const opened = ep.mtls || ep.sidecar
      ? dial(ep, `${service}:${port}`, ctx) // TCP to a mesh service: its sidecar's tunnel
      : dial({ ...ep, mtls: false, sidecar: false }, target, ctx);
    opened.then((up) => {
      if (client.destroyed) {
        up.destroy();
        return;
      }
      const labels = { service, mtls: ep.mtls };
      ctx.stats.tcpOpened("source", labels);
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (rest.length) up.write(rest);
      spliceIdle(client, up, ctx.idleTimeoutMs, (fromClient, toClient) => {
        const received = fromClient + rest.length;
        ctx.stats.tcpClosed("source", labels, received, toClient);
        logLine(200, { ep, cluster, received, sent: toClient });
      });
    }, (err: Error) => {
      if (client.destroyed) return;
      // The destination's sidecar refused the tunnel (its AuthorizationPolicies).
      const refused = /^tunnel refused: HTTP\/1\.[01] (\d{3})/.exec(err.message);
      const status = refused ? Number(refused[1]) : 503;
      log.debug("CONNECT upstream failed", { target, to: `${ep.address}:${ep.port}`, error: err });
      logLine(status, { ep, cluster, flags: refused ? undefined : "UF" });
      answer(
        client,
        status,
        status === 403
          ? "RBAC: access denied"
          : `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`,
      );
    });
  };
}
