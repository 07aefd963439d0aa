/**
 * The control plane's side of the push stream: `POST /v1/stream`, whose request
 * body (newline-delimited JSON up: hello, acks, nacks, keepalives) and
 * response body (configs and keepalives down), which stays open, flow at once.
 * It is one HTTP/2 stream on mesh's own codec (`proxy/h2/`, adapted by
 * `server.ts`) when the proxy negotiated ALPN `h2`, else a chunked HTTP/1.1
 * exchange on mesh's HTTP/1.1 server (`proxy/h1_server.ts`); this module only
 * sees the request/response shapes. The response body is a stream whose queue
 * holds one line, so a slow proxy (the h2 stream's window, or the socket)
 * pushes back on {@linkcode ProxyConnection}'s latest-value queue instead of
 * buffering configs.
 *
 * Liveness: a keepalive line goes down every `keepaliveMs`, and a stream
 * from which nothing (not even a keepalive) arrived for `missed` intervals is
 * dropped, so a proxy that vanished without a FIN is forgotten. `signal`
 * ends the stream cleanly (the control plane shutting down).
 *
 * @example
 * ```ts
 * serveH1(tlsSocket, (req) => servePushStream(req, { identity, hub }));
 * ```
 * @module
 */
import type { H1ServerRequest, H1ServerResponse } from "../proxy/h1_server.ts";
import type { NodeInfo, ProxyMessage } from "../api/proxy_config.ts";
import type { PartsAckMessage, PartsNackMessage } from "../api/push_protocol.ts";
import type { ProxyConnection, PushHub } from "./push.ts";
import { LineSplitter } from "../util/ndjson.ts";
import { logger } from "../util/log.ts";

const log = logger("stream");

/** Keepalive interval of the push stream, both ways. */
export const KEEPALIVE_MS = 5000;
/** Intervals without a byte from the peer after which a stream is dropped. */
export const MISSED_KEEPALIVES = 3;
/** Header announcing the server's keepalive interval to the proxy. */
export const KEEPALIVE_HEADER = "x-mesh-keepalive-ms";
/** The keepalive line (both directions; receivers ignore it). */
export const KEEPALIVE_LINE = '{"type":"keepalive"}\n';

/** Settings of one push stream. */
export interface PushStreamOptions {
  /** The verified identity of the client certificate. */
  identity: { namespace: string; serviceAccount: string };
  hub: PushHub;
  /** Called when the proxy reports something (an ack, its certificate's root). */
  onProxyReport?: () => void;
  keepaliveMs?: number;
  missed?: number;
  /** Ends the stream cleanly when aborted (shutdown): the response body ends. */
  signal?: AbortSignal;
}

/**
 * The request as this module needs it. Over HTTP/1.1 that is the server's
 * request as is; over HTTP/2 the adapter adds `closed` (the stream is gone)
 * and `abort` (drop it: reset), which replace watching and destroying the
 * socket, shared with other streams there.
 */
export type PushStreamRequest = Pick<H1ServerRequest, "body" | "socket"> & {
  /** Settles when the stream is gone (HTTP/2); else the socket's close is watched. */
  closed?: Promise<unknown>;
  /** Drops the stream at once (HTTP/2); else the socket is destroyed. */
  abort?: () => void;
};

const encoder = new TextEncoder();

/** Large lines sent to many proxies at once (a class's push) are encoded once. */
const encoded = new Map<string, Uint8Array>();
const ENCODED_KEPT = 16;
const ENCODE_SHARED_FROM = 4096;

function encode(line: string): Uint8Array {
  if (line.length < ENCODE_SHARED_FROM) return encoder.encode(line);
  let bytes = encoded.get(line);
  if (!bytes) {
    bytes = encoder.encode(line);
    if (encoded.size >= ENCODED_KEPT) encoded.delete(encoded.keys().next().value!);
    encoded.set(line, bytes);
  }
  return bytes;
}

/** Answers `POST /v1/stream`; the response body stays open until either side ends it. */
export function servePushStream(
  req: PushStreamRequest,
  opts: PushStreamOptions,
): H1ServerResponse {
  const { identity, hub } = opts;
  const who = `${identity.namespace}/${identity.serviceAccount}`;
  const keepaliveMs = opts.keepaliveMs ?? KEEPALIVE_MS;
  const missed = opts.missed ?? MISSED_KEEPALIVES;
  const socket = req.socket;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let conn: ProxyConnection | undefined;
  let closed = false;
  let lastRx = Date.now();
  const reader = req.body?.getReader();

  const enqueue = (line: string): boolean => {
    if (closed) return false;
    try {
      ctrl.enqueue(encode(line));
      return (ctrl.desiredSize ?? 0) > 0;
    } catch {
      return false;
    }
  };
  const finish = (reason: string, destroy = false) => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    if (!req.closed) socket.off("close", onClose);
    opts.signal?.removeEventListener("abort", onAbort);
    if (conn) {
      log.debug("push stream closed", { node: conn.node.id, reason });
      hub.disconnect(conn);
      conn = undefined;
    }
    try {
      ctrl.close();
    } catch { /* cancelled */ }
    reader?.cancel().catch(() => {});
    if (destroy) {
      if (req.abort) req.abort();
      else socket.destroy();
    }
  };
  const onClose = () => finish("connection closed");
  const onAbort = () => finish("control plane shutting down");
  if (req.closed) req.closed.then(onClose, onClose);
  else socket.on("close", onClose);
  opts.signal?.addEventListener("abort", onAbort);
  const timer = setInterval(() => {
    if (Date.now() - lastRx > keepaliveMs * missed) {
      log.warn("no keepalive from the proxy; dropping its stream", {
        node: conn?.node.id,
        identity: who,
        silentMs: Date.now() - lastRx,
      });
      return finish("keepalive missed", true);
    }
    // A full queue means the socket is stuck: don't add to it.
    if ((ctrl.desiredSize ?? 0) > 0) enqueue(KEEPALIVE_LINE);
  }, keepaliveMs);

  const onLine = (line: string) => {
    let msg:
      | ProxyMessage
      | PartsAckMessage
      | PartsNackMessage
      | { type: "keepalive" }
      | { type: "health"; healthy?: unknown };
    try {
      msg = JSON.parse(line);
    } catch {
      enqueue(JSON.stringify({ type: "error", message: "line is not JSON" }) + "\n");
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "hello" && !conn) {
      const node = msg.node as NodeInfo;
      if (
        !node || typeof node.id !== "string" || node.namespace !== identity.namespace ||
        node.serviceAccount !== identity.serviceAccount
      ) {
        enqueue(
          JSON.stringify({
            type: "error",
            message: `hello names ${node?.namespace}/${node?.serviceAccount} but the ` +
              `certificate is ${who}`,
          }) + "\n",
        );
        return finish("hello for another identity");
      }
      const protocol = typeof msg.protocol === "number" ? msg.protocol : undefined;
      const have = msg.have && typeof msg.have === "object" ? msg.have : undefined;
      conn = hub.connect({
        node,
        identity,
        write: enqueue,
        end: () => finish("replaced", true),
        protocol,
        have,
      });
    } else if (msg.type === "ack" && conn) {
      conn.ack(msg);
      opts.onProxyReport?.();
    } else if (msg.type === "nack" && conn) {
      conn.nack(msg);
    } else if (msg.type === "health" && conn) {
      hub.reportHealth(conn, msg.healthy === true);
    }
  };

  const lines = new LineSplitter();
  (async () => {
    if (!reader) return finish("no request body");
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) return finish("proxy ended the stream");
      lastRx = Date.now();
      if (!lines.feed(value, onLine)) {
        log.warn("stream line too long; closing", { identity: who });
        return finish("line too long", true);
      }
    }
  })().catch((err) => finish(`read failed: ${(err as Error).message}`));

  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      ctrl = c;
    },
    pull: () => {
      conn?.drained();
    },
    cancel: () => finish("response cancelled"),
  }, new CountQueuingStrategy({ highWaterMark: 1 }));
  return {
    status: 200,
    headers: [
      ["content-type", "application/x-ndjson"],
      ["cache-control", "no-store"],
      [KEEPALIVE_HEADER, String(keepaliveMs)],
    ],
    body,
  };
}
