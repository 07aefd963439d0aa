/**
 * The proxy's end of the push stream: one `node:tls` connection offering ALPN
 * `["h2", "http/1.1"]` and carrying `POST /v1/stream`, whose request body
 * (lines up) and response body (lines down) flow at once. When the control
 * plane picks `h2` it is one HTTP/2 stream on mesh's own codec (`h2/`, client
 * role; its flow-control windows apply both ways, and the body is read as it
 * comes, so at most one unfinished line is held); when it picks `http/1.1` (or
 * no ALPN: an older control plane) it is HTTP/1.1 with chunked bodies both
 * ways, framed by mesh's own HTTP/1.1 code (`h1_codec.ts`). No `node:http2`:
 * on Deno 2.9 it can abort the whole process when the peer goes away
 * (denoland/deno#36788).
 *
 * Nothing here throws or rejects: every failure (connect, TLS, refusal,
 * reset, a peer gone silent) ends the stream, and {@linkcode PushStream.done}
 * resolves with the reason.
 *
 * Liveness: a keepalive line goes up every interval (the server's, from its
 * `x-mesh-keepalive-ms` header), and a stream on which nothing arrived for
 * `missed` intervals is dropped, so a control plane that died without a FIN
 * (host down, partition) is noticed within about `missed × interval`. TCP
 * keepalive is on as well. Over HTTP/2 a GOAWAY from the control plane (a
 * graceful restart) ends the stream at once, with a reason naming it, so the
 * caller reconnects (to the restarted control plane, or another).
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
import { H2Connection } from "./h2/connection.ts";
import type { H2Stream } from "./h2/stream.ts";
import { errorName } from "./h2/errors.ts";
import { LineSplitter } from "../util/ndjson.ts";

/** Keepalive interval when the server doesn't announce one. */
export const DEFAULT_KEEPALIVE_MS = 5000;
/** Intervals of silence after which the stream is considered dead. */
export const MISSED_KEEPALIVES = 3;
/** Time allowed for connecting, the TLS handshake and the response head. */
export const OPEN_TIMEOUT_MS = 10_000;
/** The keepalive line the proxy sends (the server ignores its content). */
export const KEEPALIVE_LINE = '{"type":"keepalive"}\n';
/** Longest line accepted from the control plane (a config can be MBs). */
export const MAX_PUSH_LINE_CHARS = 32 << 20;
/** Up to this many bytes queued for the socket, `send()` says the stream isn't backed up. */
const SEND_HIGH_WATER = 64 * 1024;

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
  /** Called once the control plane accepted the stream (status 200), with the protocol. */
  onOpen?: (keepaliveMs: number, protocol: "h2" | "http/1.1") => void;
  /** Called for each line received (without its newline). */
  onLine: (line: string) => void;
  /** Keepalive interval before the server announced one (tests). */
  keepaliveMs?: number;
  missed?: number;
  openTimeoutMs?: number;
  /** Longest line accepted from the control plane (default {@linkcode MAX_PUSH_LINE_CHARS}). */
  maxLineChars?: number;
  /** ALPN offered (default `["h2", "http/1.1"]`; tests pin one). */
  alpn?: string[];
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
  #lines: PushLines;
  /** Body bytes received before giving up on a refused stream (for its error text). */
  errorBody = "";

  constructor(maxLine: number = MAX_PUSH_LINE_CHARS) {
    this.#lines = new PushLines(maxLine);
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
      if (err instanceof LineTooLong) {
        return `a pushed line is over ${this.#lines.maxChars} characters`;
      }
      throw err;
    }
    return undefined;
  }
}

class LineTooLong extends Error {}

/**
 * Lines out of body bytes, bounded: bytes without a newline are held as they
 * came and handed to the {@linkcode LineSplitter} in one piece once a newline
 * arrives, so a line of MBs arriving in 16 KiB pieces is decoded and searched
 * once (not once per piece). Holds at most one unfinished line.
 */
export class PushLines {
  #lines: LineSplitter;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  readonly maxChars: number;

  constructor(maxChars: number = MAX_PUSH_LINE_CHARS) {
    this.maxChars = maxChars;
    this.#lines = new LineSplitter(maxChars);
  }

  /** Feeds bytes; false (and must not be fed again) when a line is over `maxChars`. */
  feed(data: Uint8Array, onLine: (line: string) => void): boolean {
    if (data.length === 0) return true;
    if (data.indexOf(10) < 0) {
      this.#held.push(data.slice());
      this.#heldBytes += data.length;
      // A UTF-16 code unit is at most 3 UTF-8 bytes; the splitter checks characters exactly.
      if (this.#heldBytes + this.#lines.pending > this.maxChars * 3) return false;
      return true;
    }
    if (this.#held.length) {
      const all = new Uint8Array(this.#heldBytes + data.length);
      let at = 0;
      for (const h of this.#held) {
        all.set(h, at);
        at += h.length;
      }
      all.set(data, at);
      this.#held = [];
      this.#heldBytes = 0;
      data = all;
    }
    return this.#lines.feed(data, onLine);
  }
}

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
  const reader = new StreamResponseReader(opts.maxLineChars);
  let socket: tls.TLSSocket | undefined;
  /** Set once HTTP/2 was negotiated: the connection and its one stream. */
  let h2: { conn: H2Connection; stream: H2Stream } | undefined;

  const end = (reason: Error) => {
    if (ended) return;
    ended = true;
    clearTimeout(openTimer);
    clearInterval(timer);
    try {
      h2?.conn.destroy(reason);
    } catch { /* already gone */ }
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

  /** The response head arrived: a 200 opens the stream (keepalives, liveness). */
  const onOpened = (headers: readonly (readonly [string, string])[]) => {
    clearTimeout(openTimer);
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
    opts.onOpen?.(keepaliveMs, h2 ? "h2" : "http/1.1");
  };
  const refusal = (status: number, text: string) => {
    let msg = text;
    try {
      msg = JSON.parse(text).error ?? text;
    } catch { /* not JSON */ }
    return new Error(`push stream refused with status ${status}${msg ? `: ${msg}` : ""}`);
  };

  try {
    socket = tls.connect({
      host: opts.host,
      port: opts.port,
      servername: opts.servername,
      ALPNProtocols: opts.alpn ?? ["h2", "http/1.1"],
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
      if (s.alpnProtocol === "h2") return openH2();
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

  /** HTTP/2: the stream is one request on a client connection of mesh's codec. */
  const openH2 = () => {
    // Windows a little over the codec's defaults, for MB-sized configs over a long round
    // trip; the body is read as it arrives, so they bound nothing we'd hold anyway.
    const conn = new PushH2Connection(s, {
      role: "client",
      settings: { initialWindowSize: 1 << 20 },
      connectionWindow: 2 << 20,
      timeouts: { idleMs: 0 },
    });
    // Ended after the codec handled the frame (not from inside its frame loop).
    conn.onGoaway = (code) =>
      queueMicrotask(() =>
        end(new Error(`the control plane is going away (GOAWAY ${errorName(code)}); reconnect`))
      );
    conn.closed.then((r) =>
      end(
        r.error ?? new Error(`the control plane closed the connection (${errorName(r.code)})`),
      )
    );
    const stream = conn.request([
      [":method", "POST"],
      [":scheme", "https"],
      [":path", opts.path ?? "/v1/stream"],
      [":authority", opts.authority],
      ["content-type", "application/x-ndjson"],
    ]);
    h2 = { conn, stream };
    stream.write(encoder.encode(opts.first)).catch((err) => end(err as Error));
    stream.response.then(async (headers) => {
      if (ended) return;
      const status = Number(headers.find(([k]) => k === ":status")?.[1]);
      if (status !== 200) {
        clearTimeout(openTimer);
        // The refusal's body (JSON with an error) is small: read its start, then give up.
        let text = "";
        const dec = new TextDecoder();
        try {
          for await (const c of stream.body) {
            text += dec.decode(c, { stream: true });
            if (text.length >= 2048) break;
          }
        } catch { /* cut short: what arrived is the reason */ }
        return end(refusal(status, text));
      }
      lastRx = Date.now();
      onOpened(headers);
      const lines = new PushLines(opts.maxLineChars);
      for await (const c of stream.body) {
        if (ended) return;
        // Liveness counts the stream's own bytes, not the connection's control frames.
        lastRx = Date.now();
        if (!lines.feed(c, (line) => !ended && opts.onLine(line))) {
          return end(
            new Error(
              `bad push stream response: a pushed line is over ${lines.maxChars} characters`,
            ),
          );
        }
      }
      end(new Error("the control plane ended the stream"));
    }).catch((err) => end(err as Error));
  };

  s.on(
    "data",
    safe((data: Uint8Array) => {
      if (ended || h2) return; // over HTTP/2 the codec reads the socket
      lastRx = Date.now();
      const err = reader.feed(data, (status, headers) => {
        clearTimeout(openTimer);
        if (status === 200) onOpened(headers);
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
      if (h2) {
        const { conn, stream } = h2;
        stream.write(encoder.encode(line)).catch((err) => end(err as Error));
        return stream.bufferedOutgoing + conn.bufferedOutgoing <= SEND_HIGH_WATER;
      }
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

/** A client connection that tells of the peer's GOAWAY (the codec only records it). */
class PushH2Connection extends H2Connection {
  onGoaway: ((code: number) => void) | undefined;
  protected override _onGoaway(lastStreamId: number, code: number): void {
    super._onGoaway(lastStreamId, code);
    this.onGoaway?.(code);
  }
}
