/**
 * Forwarding one HTTP request to one endpoint, streaming both bodies: plain
 * HTTP to local apps and non-mesh endpoints, mesh mTLS (client certificate,
 * peer SPIFFE ID checked) to other proxies. Connections are pooled and kept
 * alive; a certificate renewal starts a new pool while open requests finish
 * on the old one.
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { PeerCertificate } from "node:tls";
import type { Endpoint } from "../api/proxy_config.ts";
import { urisFromAltNames } from "../ca/spiffe.ts";
import type { Credentials } from "./control_client.ts";
import { logger } from "../util/log.ts";

const log = logger("forward");

/** Headers that belong to one hop and are never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-authenticate",
  "http2-settings",
]);

/** Copies request or response headers minus hop-by-hop ones and `drop`. */
export function forwardableHeaders(
  src: http.IncomingHttpHeaders,
  drop?: string,
): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const conn = src["connection"];
  const listed = typeof conn === "string" && conn !== "keep-alive" && conn !== "close"
    ? new Set(conn.toLowerCase().split(/\s*,\s*/))
    : undefined;
  for (const k in src) {
    if (HOP_BY_HOP.has(k) || k === drop || listed?.has(k)) continue;
    out[k] = src[k];
  }
  return out;
}

function identityChecker(expected: string | undefined) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (!expected) return undefined;
    const uris = urisFromAltNames(cert.subjectaltname);
    return uris.includes(expected)
      ? undefined
      : new Error(`peer identity ${uris.join(",") || "(none)"} is not the expected ${expected}`);
  };
}

/** The outcome of a forward, for metrics and logs. */
export type ForwardDone = (status: number) => void;

/** Connection pools to upstreams. */
export class Upstreams {
  #plain = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
  #mtls?: https.Agent;
  #checkers = new WeakMap<Endpoint, ReturnType<typeof identityChecker>>();

  /** Uses new credentials for new mTLS connections; pooled ones close when idle. */
  setCredentials(creds: Credentials): void {
    const old = this.#mtls;
    // Deno 2.9's node:https loses responses on reused keep-alive mTLS connections
    // between two proxies (a response stays queued behind one whose 'finish' never
    // fires), so each mTLS request gets its own connection until the hot path is
    // reworked (issue 3; see docs/performance.md).
    this.#mtls = new https.Agent({
      keepAlive: false,
      maxSockets: Infinity,
      maxFreeSockets: 256,
      key: creds.keyPem,
      cert: creds.certChainPem,
      ca: creds.rootsPem,
    });
    // Requests in flight finish on the old pool; its idle sockets go now, busy ones after use.
    if (old) setTimeout(() => old.destroy(), 60_000).unref?.();
  }

  /** Streams `req` to `ep` and the answer back to `res`; calls `done` once with the status sent. */
  forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    ep: Endpoint,
    path: string,
    headers: http.OutgoingHttpHeaders,
    done: ForwardDone,
  ): void {
    let checker = this.#checkers.get(ep);
    if (ep.mtls && !checker) {
      checker = identityChecker(ep.identity);
      this.#checkers.set(ep, checker);
    }
    const options: https.RequestOptions = {
      host: ep.address,
      port: ep.port,
      method: req.method,
      path,
      headers,
      agent: ep.mtls ? this.#mtls : this.#plain,
    };
    if (ep.mtls) options.checkServerIdentity = checker;
    const up = ep.mtls ? https.request(options) : http.request(options);
    let finished = false;
    const finish = (status: number) => {
      if (finished) return;
      finished = true;
      done(status);
    };
    up.on("response", (upRes) => {
      const status = upRes.statusCode ?? 502;
      res.writeHead(status, upRes.statusMessage, forwardableHeaders(upRes.headers));
      upRes.pipe(res);
      upRes.on("end", () => {
        finish(status);
      });
      upRes.on("error", () => {
        res.destroy();
        finish(status);
      });
    });
    up.on("error", (err) => {
      log.debug("upstream error", { to: `${ep.address}:${ep.port}`, error: err });
      if (!res.headersSent) {
        sendError(
          res,
          503,
          `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`,
        );
        finish(503);
      } else {
        res.destroy();
        finish(res.statusCode);
      }
    });
    // A client that goes away mid-response aborts the upstream request; once the
    // upstream answer is complete its connection belongs to the pool again.
    res.on("close", () => {
      if (!finished) up.destroy();
    });
    const te = req.headers["transfer-encoding"];
    const cl = req.headers["content-length"];
    if (te === undefined && (cl === undefined || cl === "0")) {
      // No body: end at once rather than through a pipe (and drain the source for keep-alive).
      req.resume();
      up.end();
    } else {
      req.pipe(up);
    }
  }

  /** Closes every pooled connection. */
  close(): void {
    this.#plain.destroy();
    this.#mtls?.destroy();
  }
}

/** Sends a short plain-text error as Envoy does (`no healthy upstream`, ...). */
export function sendError(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
