/**
 * The proxy's end of the push stream: one `node:tls` connection carrying
 * `POST /v1/stream` as HTTP/1.1 with a chunked request body (lines up) while
 * the chunked response (lines down) is read, both at once, framed by mesh's
 * own HTTP/1.1 code (`h1_codec.ts`). No `node:http2`: on Deno 2.9 it can
 * abort the whole process when the peer goes away (denoland/deno#36788).
 *
 * Nothing here throws or rejects: every failure (connect, TLS, refusal,
 * reset, a peer gone silent) ends the stream, and {@linkcode PushStream.done}
 * resolves with the reason.
 *
 * Liveness: a keepalive line goes up every interval (the server's, from its
 * `x-mesh-keepalive-ms` header), and a stream on which nothing arrived for
 * `missed` intervals is dropped, so a control plane that died without a FIN
 * (host down, partition) is noticed within about `missed × interval`. TCP
 * keepalive is on as well.
 *
 * @example
 * ```ts
 * const s = openPushStream({ host, port, tls: { ca, key, cert }, first: hello, onLine });
 * const { opened, reason } = await s.done;
 * ```
 * @module
 */
import tls from "node:tls";
import {
  ChunkedDecoder,
  CRLF,
  indexOfHeadEnd,
  latin1,
  MAX_HEAD_BYTES,
  parseHeaderLines,
} from "./h1_codec.ts";
import { LineSplitter } from "../util/ndjson.ts";

/** Keepalive interval when the server doesn't announce one. */
export const DEFAULT_KEEPALIVE_MS = 5000;
/** Intervals of silence after which the stream is considered dead. */
export const MISSED_KEEPALIVES = 3;
/** Time allowed for connecting, the TLS handshake and the response head. */
export const OPEN_TIMEOUT_MS = 10_000;
/** The keepalive line the proxy sends (the server ignores its content). */
export const KEEPALIVE_LINE = '{"type":"keepalive"}\n';

/** How to open the stream. */
export interface PushStreamOptions {
  host: string;
  port: number;
  /** SNI name (omitted for IP addresses). */
  servername?: string;
  /** Value of the Host header. */
  authority: string;
  path?: string;
  /** TLS settings: trust roots and the client certificate. */
  tls: tls.ConnectionOptions;
  /** The first line(s) sent with the request (the hello). */
  first: string;
  /** Called once the control plane accepted the stream (status 200). */
  onOpen?: (keepaliveMs: number) => void;
  /** Called for each line received (without its newline). */
  onLine: (line: string) => void;
  /** Keepalive interval before the server announced one (tests). */
  keepaliveMs?: number;
  missed?: number;
  openTimeoutMs?: number;
}

/** How a stream ended. */
export interface PushStreamEnd {
  /** Whether the control plane had accepted it. */
  opened: boolean;
  reason: Error;
}

/** An open (or opening) push stream. */
export interface PushStream {
  /** Sends one line (with its newline); false when not open or the socket is backed up. */
  send(line: string): boolean;
  /** Ends the stream (resolving {@linkcode done}). */
  close(reason?: string): void;
  /** Resolves once, when the stream ended for any reason; never rejects. */
  readonly done: Promise<PushStreamEnd>;
}

const encoder = new TextEncoder();
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;

/** A chunk of a chunked request body. */
export function chunk(text: string): Uint8Array {
  const data = encoder.encode(text);
  const size = encoder.encode(`${data.length.toString(16)}${CRLF}`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size, 0);
  out.set(data, size.length);
  out.set([13, 10], out.length - 2);
  return out;
}

/**
 * Parses the response side of the stream: a head, then a chunked (or, from an
 * HTTP/1.0-style peer, close-delimited) body split into lines.
 */
export class StreamResponseReader {
  #buf: Uint8Array = new Uint8Array(0);
  #head?: { status: number; headers: [string, string][]; chunked: boolean };
  #chunked?: ChunkedDecoder;
  #lines: LineSplitter;
  /** Body bytes received before giving up on a refused stream (for its error text). */
  errorBody = "";

  constructor(maxLine?: number) {
    this.#lines = new LineSplitter(maxLine);
  }

  /** The parsed head, once it arrived. */
  get head(): { status: number; headers: [string, string][] } | undefined {
    return this.#head;
  }

  /** Whether the server ended the body (the terminating chunk arrived). */
  get ended(): boolean {
    return this.#chunked?.done ?? false;
  }

  /**
   * Feeds bytes. Calls `onHead` once with the head, then `onLine` per line of a
   * 200 response. Returns an error message when the bytes can't be parsed.
   */
  feed(
    data: Uint8Array,
    onHead: (status: number, headers: [string, string][]) => void,
    onLine: (line: string) => void,
  ): string | undefined {
    if (!this.#head) {
      const from = this.#buf.length;
      const buf = new Uint8Array(this.#buf.length + data.length);
      buf.set(this.#buf, 0);
      buf.set(data, this.#buf.length);
      this.#buf = buf;
      const end = indexOfHeadEnd(buf, from);
      if (end < 0) {
        return buf.length > MAX_HEAD_BYTES ? "response head over 64 KiB" : undefined;
      }
      const lines = latin1.decode(buf.subarray(0, end)).split(CRLF);
      const m = STATUS_LINE.exec(lines[0]);
      if (!m) return `bad status line ${JSON.stringify(lines[0].slice(0, 80))}`;
      const h = parseHeaderLines(lines);
      if (typeof h === "string") return h;
      const status = Number(m[1]);
      if (status >= 100 && status < 200) {
        this.#buf = new Uint8Array(0);
        return this.feed(buf.subarray(end + 4), onHead, onLine);
      }
      const chunked = h.transferEncoding?.includes("chunked") ?? false;
      this.#head = { status, headers: h.headers, chunked };
      if (chunked) this.#chunked = new ChunkedDecoder();
      this.#buf = new Uint8Array(0);
      onHead(status, h.headers);
      data = buf.subarray(end + 4);
      if (data.length === 0) return undefined;
    }
    const emit = (bytes: Uint8Array) => {
      if (this.#head!.status !== 200) {
        if (this.errorBody.length < 2048) this.errorBody += new TextDecoder().decode(bytes);
        return;
      }
      if (!this.#lines.feed(bytes, onLine)) throw new LineTooLong();
    };
    try {
      if (this.#chunked) {
        if (this.#chunked.done) return undefined;
        const used = this.#chunked.feed(data, emit);
        if (typeof used === "string") return used;
      } else {
        emit(data);
      }
    } catch (err) {
      if (err instanceof LineTooLong) return "a pushed line is over 1 MiB";
      throw err;
    }
    return undefined;
  }
}

class LineTooLong extends Error {}

/** Opens the push stream; see {@linkcode PushStream}. */
export function openPushStream(opts: PushStreamOptions): PushStream {
  const missed = opts.missed ?? MISSED_KEEPALIVES;
  let keepaliveMs = opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  let opened = false;
  let ended = false;
  let lastRx = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  let resolveDone!: (end: PushStreamEnd) => void;
  const done = new Promise<PushStreamEnd>((r) => resolveDone = r);
  const reader = new StreamResponseReader();
  let socket: tls.TLSSocket | undefined;

  const end = (reason: Error) => {
    if (ended) return;
    ended = true;
    clearTimeout(openTimer);
    clearInterval(timer);
    try {
      socket?.destroy();
    } catch { /* already gone */ }
    resolveDone({ opened, reason });
  };
  const safe = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => {
    try {
      fn(...a);
    } catch (err) {
      end(err as Error);
    }
  };
  const openTimeout = opts.openTimeoutMs ?? OPEN_TIMEOUT_MS;
  const openTimer = setTimeout(
    () => end(new Error(`the control plane did not answer within ${openTimeout} ms`)),
    openTimeout,
  );

  try {
    socket = tls.connect({
      host: opts.host,
      port: opts.port,
      servername: opts.servername,
      ALPNProtocols: ["http/1.1"],
      ...opts.tls,
    });
  } catch (err) {
    end(err as Error);
    return { send: () => false, close: () => {}, done };
  }
  const s = socket;
  s.on("error", (err: Error) => end(err));
  s.on("close", () => end(new Error("connection closed")));
  s.on("end", () => end(new Error("the control plane closed the connection")));
  s.once(
    "secureConnect",
    safe(() => {
      try {
        s.setNoDelay(true);
        s.setKeepAlive(true, keepaliveMs);
      } catch { /* not supported: the stream's own keepalive still works */ }
      const head =
        `POST ${opts.path ?? "/v1/stream"} HTTP/1.1${CRLF}host: ${opts.authority}${CRLF}` +
        `content-type: application/x-ndjson${CRLF}transfer-encoding: chunked${CRLF}${CRLF}`;
      const first = chunk(opts.first);
      const out = new Uint8Array(head.length + first.length);
      out.set(encoder.encode(head), 0);
      out.set(first, head.length);
      s.write(out);
    }),
  );
  s.on(
    "data",
    safe((data: Uint8Array) => {
      if (ended) return;
      lastRx = Date.now();
      const err = reader.feed(data, (status, headers) => {
        clearTimeout(openTimer);
        if (status !== 200) return;
        const announced = Number(headers.find(([k]) => k === "x-mesh-keepalive-ms")?.[1]);
        if (Number.isFinite(announced) && announced >= 100) keepaliveMs = announced;
        opened = true;
        timer = setInterval(() => {
          if (Date.now() - lastRx > keepaliveMs * missed) {
            return end(
              new Error(`nothing from the control plane for ${missed} keepalive intervals`),
            );
          }
          send(KEEPALIVE_LINE);
        }, keepaliveMs);
        opts.onOpen?.(keepaliveMs);
      }, (line) => {
        if (!ended) opts.onLine(line);
      });
      if (err) return end(new Error(`bad push stream response: ${err}`));
      const head = reader.head;
      if (head && head.status !== 200) {
        // The refusal's body (JSON with an error) is small; wait a moment for it, then give up.
        const text = reader.errorBody;
        let msg = text;
        try {
          msg = JSON.parse(text).error ?? text;
        } catch { /* not (all of) it yet */ }
        if (msg || reader.ended) {
          return end(new Error(`push stream refused with status ${head.status}: ${msg}`));
        }
        setTimeout(
          () => end(new Error(`push stream refused with status ${head.status}`)),
          200,
        );
        return;
      }
      if (reader.ended) end(new Error("the control plane ended the stream"));
    }),
  );

  const send = (line: string): boolean => {
    if (ended || !opened) return false;
    try {
      return s.write(chunk(line));
    } catch (err) {
      end(err as Error);
      return false;
    }
  };
  return {
    send,
    close: (reason = "closed") => end(new Error(reason)),
    done,
  };
}
