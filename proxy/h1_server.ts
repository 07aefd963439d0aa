/**
 * A small HTTP/1.1 server loop over any connected socket (a `node:tls`
 * socket from the mTLS inbound listener): requests are parsed incrementally,
 * bodies stream with backpressure, responses go out head-first with
 * content-length or chunked framing, and keep-alive is handled here rather
 * than through write callbacks.
 *
 * @example
 * ```ts
 * tls.createServer(opts, (socket) => serveH1(socket, async (req) => ({ status: 200, headers: [], body: "hi" })));
 * ```
 * @module
 */
import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";
import {
  ChunkedDecoder,
  concat,
  CRLF,
  HOP_BY_HOP,
  indexOfHeadEnd,
  latin1,
  MAX_HEAD_BYTES,
  parseHeaderLines,
  SocketBody,
  writeBody,
} from "./h1_codec.ts";

/** A request as the handler sees it. */
export interface H1ServerRequest {
  method: string;
  /** The request target as sent (origin-form `/path?q`, or absolute-form). */
  target: string;
  /** Header pairs, names lowercase, including framing headers. */
  headers: [string, string][];
  /** The body stream, or null when the request has none. */
  body: ReadableStream<Uint8Array> | null;
  /** Body length when sent with content-length. */
  length?: number;
  socket: Socket;
}

/** What the handler answers. */
export interface H1ServerResponse {
  status: number;
  /** Header pairs; hop-by-hop and framing headers are dropped and set by the server. */
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | Uint8Array | string | null;
  /** Length of a streamed body when known (sent as content-length). */
  length?: number;
}

/** Handles one request. */
export type H1Handler = (req: H1ServerRequest) => Promise<H1ServerResponse> | H1ServerResponse;

const encoder = new TextEncoder();
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;
/** Idle keep-alive connections close after this long. */
export const IDLE_TIMEOUT_MS = 60_000;

function plain(status: number, text: string): H1ServerResponse {
  return { status, headers: [["content-type", "text/plain"]], body: text };
}

/**
 * Takes over a connection after a `CONNECT` request: gets the request target
 * and any bytes that followed the request head; owns the socket from then on.
 */
export type H1ConnectHandler = (target: string, socket: Socket, rest: Uint8Array) => void;

/** Serves HTTP/1.1 on `socket` until it closes (or a CONNECT hands it to `onConnect`). */
export function serveH1(socket: Socket, handler: H1Handler, onConnect?: H1ConnectHandler): void {
  socket.setNoDelay?.(true);
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  let buf: Uint8Array = new Uint8Array(0);
  let busy = false; // a request is being handled
  let closed = false;
  // Body state of the current request.
  let body: SocketBody | undefined;
  let remaining = 0;
  let chunked: ChunkedDecoder | undefined;
  let bodyDone = true;

  const onBodyData = (data: Uint8Array): Uint8Array => {
    // Returns bytes past the end of the body (a pipelined next request).
    if (chunked) {
      const used = chunked.feed(data, (c) => body?.push(c));
      if (typeof used === "string") {
        body?.error(new Error(used));
        socket.destroy();
        return new Uint8Array(0);
      }
      if (chunked.done) {
        bodyDone = true;
        body?.close();
        chunked = undefined;
        return data.subarray(used);
      }
      return new Uint8Array(0);
    }
    const take = Math.min(remaining, data.length);
    if (take > 0) body?.push(take === data.length ? data : data.subarray(0, take));
    remaining -= take;
    if (remaining === 0) {
      bodyDone = true;
      body?.close();
      return data.subarray(take);
    }
    return new Uint8Array(0);
  };

  const respond = async (res: H1ServerResponse, method: string, keepAlive: boolean) => {
    const noBody = method === "HEAD" || res.status === 204 || res.status === 304;
    let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? "Status"}${CRLF}`;
    for (const [k, v] of res.headers) {
      if (HOP_BY_HOP.has(k) || k === "content-length") continue;
      head += `${k}: ${v}${CRLF}`;
    }
    if (!keepAlive) head += `connection: close${CRLF}`;
    let bytes: Uint8Array | undefined;
    if (typeof res.body === "string") bytes = encoder.encode(res.body);
    else if (res.body instanceof Uint8Array) bytes = res.body;
    if (noBody) {
      const cl = res.headers.find(([k]) => k === "content-length");
      if (cl) head += `content-length: ${cl[1]}${CRLF}`;
      socket.write(head + CRLF);
      await (res.body instanceof ReadableStream ? res.body.cancel() : undefined);
    } else if (bytes || res.body === null) {
      const b = bytes ?? new Uint8Array(0);
      head += `content-length: ${b.length}${CRLF}${CRLF}`;
      socket.write(b.length ? concat(encoder.encode(head), b) : head);
    } else {
      head += res.length !== undefined
        ? `content-length: ${res.length}${CRLF}${CRLF}`
        : `transfer-encoding: chunked${CRLF}${CRLF}`;
      await writeBody(
        encoder.encode(head),
        res.body as ReadableStream<Uint8Array>,
        socket,
        res.length === undefined,
      );
    }
  };

  const next = () => {
    if (busy || closed || buf.length === 0) return;
    const end = indexOfHeadEnd(buf, 0);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) {
        closed = true;
        respond(plain(431, "request head over 64 KiB\n"), "GET", false).finally(() => socket.end());
      }
      return;
    }
    const lines = latin1.decode(buf.subarray(0, end)).split(CRLF);
    let rest = buf.subarray(end + 4);
    buf = new Uint8Array(0);
    const m = REQUEST_LINE.exec(lines[0]);
    const h = m ? parseHeaderLines(lines) : "malformed request line";
    if (!m || typeof h === "string") {
      closed = true;
      respond(plain(400, `bad request: ${h}\n`), "GET", false).finally(() => socket.end());
      return;
    }
    const method = m[1];
    if (method === "CONNECT") {
      closed = true;
      socket.removeListener("data", onData);
      socket.setTimeout(0);
      if (!onConnect) {
        respond(plain(405, "CONNECT is not allowed here\n"), method, false).finally(() =>
          socket.end()
        );
        return;
      }
      onConnect(m[2], socket, rest);
      return;
    }
    const keepAlive = m[3] === "1" ? h.connection !== "close" : h.connection === "keep-alive";
    let length: number | undefined;
    body = undefined;
    chunked = undefined;
    remaining = 0;
    bodyDone = true;
    if (h.transferEncoding?.includes("chunked")) {
      chunked = new ChunkedDecoder();
      bodyDone = false;
    } else if (h.contentLength !== undefined) {
      length = Number(h.contentLength);
      if (!Number.isSafeInteger(length) || length < 0) {
        closed = true;
        respond(plain(400, "bad request: bad content-length\n"), method, false)
          .finally(() => socket.end());
        return;
      }
      remaining = length;
      bodyDone = length === 0;
    }
    if (!bodyDone) {
      body = new SocketBody(socket, () => {});
      if (h.expect === "100-continue") socket.write(`HTTP/1.1 100 Continue${CRLF}${CRLF}`);
      if (rest.length) rest = onBodyData(rest);
    }
    buf = rest;
    busy = true;
    const req: H1ServerRequest = {
      method,
      target: m[2],
      headers: h.headers,
      body: body ? body.stream : null,
      length,
      socket,
    };
    Promise.resolve()
      .then(() => handler(req))
      .catch((err) => plain(500, `internal error: ${(err as Error).message}\n`))
      .then(async (res) => {
        // A request body the handler left unread would desynchronise the
        // connection: such a response says `connection: close` and ends it.
        const reuse = keepAlive && !closed && bodyDone;
        await respond(res, method, reuse);
        if (!reuse || !bodyDone) {
          closed = true;
          socket.end();
          return;
        }
        busy = false;
        next();
      })
      .catch(() => socket.destroy());
  };

  const onData = (chunk: Uint8Array) => {
    if (closed) return;
    if (!bodyDone) {
      const rest = onBodyData(chunk);
      if (rest.length) buf = concat(buf, rest);
    } else {
      buf = concat(buf, chunk);
    }
    next();
  };
  socket.on("data", onData);
  socket.on("error", () => {
    closed = true;
    body?.error(new Error("client connection failed"));
  });
  socket.on("close", () => {
    closed = true;
    if (!bodyDone) body?.error(new Error("client closed the connection mid-body"));
  });
}
