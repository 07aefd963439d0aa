/**
 * The routed side of the proxy: a sidecar's outbound listener (apps send to it
 * by Host header, or with absolute-form requests as to an HTTP proxy) and a
 * gateway's listeners. Logical service (virtual host + route) → concrete
 * backend (cluster) → endpoint.
 * @module
 */
import type http from "node:http";
import { splitHostPort } from "../api/host.ts";
import type { Runtime } from "./runtime.ts";
import type { RequestView, RouteTable } from "./route.ts";
import { forwardableHeaders, sendError, type Upstreams } from "./forward.ts";
import type { Stats } from "./stats.ts";

/** Where a routed listener gets its state. */
export interface RoutedContext {
  runtime(): Runtime | undefined;
  upstreams: Upstreams;
  stats: Stats;
}

/** Parses an absolute-form target (`http://host:port/path`) into authority and path. */
export function splitAbsolute(url: string): { authority: string; path: string } | undefined {
  if (!url.startsWith("http://")) return undefined;
  const rest = url.slice(7);
  const slash = rest.indexOf("/");
  return slash < 0
    ? { authority: rest, path: "/" }
    : { authority: rest.slice(0, slash), path: rest.slice(slash) };
}

class IncomingView implements RequestView {
  method: string;
  path: string;
  authority: string;
  port: number;
  #headers: http.IncomingHttpHeaders;
  constructor(req: http.IncomingMessage, authority: string, path: string, port: number) {
    this.method = req.method ?? "GET";
    this.path = path;
    this.authority = authority;
    this.port = port;
    this.#headers = req.headers;
  }
  header(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v.join(",") : v;
  }
}

/**
 * Makes a request handler that routes with `table(runtime)`.
 * `defaultPort` is the port assumed when the authority names none.
 */
export function routedHandler(
  ctx: RoutedContext,
  table: (rt: Runtime) => RouteTable | undefined,
  defaultPort: number,
  passthrough: boolean,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const start = performance.now();
    const rt = ctx.runtime();
    if (!rt) return sendError(res, 503, "proxy has no configuration yet");
    if (req.method === "CONNECT") {
      return sendError(res, 501, "CONNECT tunnels are not supported yet; send plain HTTP");
    }
    const url = req.url ?? "/";
    const abs = splitAbsolute(url);
    const authority = abs?.authority ?? req.headers.host ?? "";
    const path = abs?.path ?? url;
    const port = splitHostPort(authority).port ?? defaultPort;
    const view = new IncomingView(req, authority, path, port);
    const routes = table(rt);
    const hit = routes?.match(view);
    const headers = forwardableHeaders(req.headers, "x-forwarded-client-cert");
    headers.host = authority;
    if (!headers["x-request-id"]) headers["x-request-id"] = crypto.randomUUID();
    if (hit === undefined) {
      if (passthrough && rt.config.outboundTrafficPolicy === "ALLOW_ANY" && authority) {
        const { host } = splitHostPort(authority);
        const target = { address: host.replace(/^\[|\]$/g, ""), port, mtls: false, labels: {} };
        return ctx.upstreams.forward(
          req,
          res,
          target,
          path,
          headers,
          (code) =>
            ctx.stats.record(
              "source",
              { service: "PassthroughCluster" },
              code,
              performance.now() - start,
            ),
        );
      }
      ctx.stats.record("source", { service: "BlackHoleCluster" }, 502, 0);
      return sendError(res, passthrough ? 502 : 404, passthrough ? "" : "");
    }
    if (hit === null) {
      ctx.stats.record("source", { service: "unknown" }, 404, 0);
      return sendError(res, 404, "");
    }
    const lb = rt.balancers.get(hit.cluster);
    const service = lb?.cluster.host ?? hit.cluster.split("|")[3] ?? "unknown";
    const ep = lb?.pick();
    if (!ep) {
      ctx.stats.record("source", { service }, 503, performance.now() - start);
      return sendError(res, 503, "no healthy upstream");
    }
    ctx.upstreams.forward(
      req,
      res,
      ep,
      path,
      headers,
      (code) =>
        ctx.stats.record("source", { service, mtls: ep.mtls }, code, performance.now() - start),
    );
  };
}
