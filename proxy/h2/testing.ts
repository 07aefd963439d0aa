/**
 * Helpers for the HTTP/2 tests: a server and client of this codec over real sockets on
 * 127.0.0.1 ({@linkcode h2Pair}), and {@linkcode RawPeer}, a peer that writes frames by hand
 * (to misbehave) and collects the frames it gets.
 *
 * @example
 * ```ts
 * const p = await h2Pair({ onStream: (s) => s.respond([[":status", "204"]], { endStream: true }) });
 * const s = p.client.request(get("/"), { endStream: true });
 * await s.response;
 * await p.close();
 * ```
 * @module
 */
import net from "node:net";
import { H2Connection, type H2ConnectionOptions } from "./connection.ts";
import { encodeFrame, type Frame, type ReadItem } from "./frames.ts";
import { FrameReader } from "./frame_reader.ts";
import { type HeaderField, HpackDecoder, HpackEncoder } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";

/** Request fields for `path` (GET unless `method` says otherwise). */
export function get(path: string, method = "GET"): HeaderField[] {
  return [[":method", method], [":scheme", "http"], [":path", path], [":authority", "test"]];
}

/** A listening server of this codec and one client connected to it. */
export interface H2Pair {
  client: H2Connection;
  /** Server connections, in accept order. */
  servers: H2Connection[];
  /** The first server connection. */
  server: Promise<H2Connection>;
  port: number;
  close(): Promise<void>;
}

/** What {@linkcode h2Pair} sets up. */
export interface H2PairOptions {
  onStream?: (s: H2Stream) => void;
  server?: Partial<H2ConnectionOptions>;
  client?: Partial<H2ConnectionOptions>;
}

/** A TCP listener on 127.0.0.1 port 0 serving this codec. */
export async function h2Listen(
  o: H2PairOptions,
): Promise<
  { port: number; servers: H2Connection[]; first: Promise<H2Connection>; close(): Promise<void> }
> {
  const servers: H2Connection[] = [];
  const sockets = new Set<net.Socket>();
  const first = Promise.withResolvers<H2Connection>();
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    const c = new H2Connection(sock, { role: "server", onStream: o.onStream, ...o.server });
    servers.push(c);
    first.resolve(c);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    servers,
    first: first.promise,
    close: async () => {
      for (const c of servers) c.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
      await Promise.all(servers.map((c) => c.closed));
    },
  };
}

/** A server and a client of this codec. */
export async function h2Pair(o: H2PairOptions): Promise<H2Pair> {
  const l = await h2Listen(o);
  const sock = net.connect(l.port, "127.0.0.1");
  const client = new H2Connection(sock, { role: "client", ...o.client });
  return {
    client,
    servers: l.servers,
    server: l.first,
    port: l.port,
    close: async () => {
      client.destroy();
      await client.closed;
      await l.close();
    },
  };
}

/** A hand-driven peer: frames out as written, frames in as read. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: ReadItem[] = [];
  /** The fields of the last HEADERS of each stream. */
  readonly decoded = new Map<number, HeaderField[]>();
  readonly encoder = new HpackEncoder({ huffman: false });
  readonly decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  /** Set once the server closes the connection. */
  readonly ended: Promise<void>;
  #reader = new FrameReader({ maxFrameSize: 1 << 24 });
  #waiters: { pred: (f: ReadItem) => boolean; resolve: (f: ReadItem) => void }[] = [];
  #ended = Promise.withResolvers<void>();

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.ended = this.#ended.promise;
    this.socket.on("data", (c: Uint8Array) => {
      try {
        this.#reader.push(c, (f) => {
          // Blocks are decoded as they arrive: HPACK state follows the wire order.
          if (f.type === "HEADERS") this.decoded.set(f.streamId, this.decoder.decode(f.block));
          this.frames.push(f);
          for (const w of [...this.#waiters]) {
            if (w.pred(f)) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1);
              w.resolve(f);
            }
          }
        });
      } catch { /* the test looks at what arrived */ }
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => this.#ended.resolve());
  }

  /** Writes the preface and an empty SETTINGS (and ACKs the server's). */
  start(settings: [number, number][] = []): this {
    this.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    this.send({ type: "SETTINGS", ack: false, settings });
    this.send({ type: "SETTINGS", ack: true, settings: [] });
    return this;
  }

  write(b: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  send(f: Frame): void {
    this.write(encodeFrame(f));
  }

  /** HEADERS with `fields` encoded by our encoder. */
  headers(streamId: number, fields: HeaderField[], endStream = true): void {
    this.send({
      type: "HEADERS",
      streamId,
      endStream,
      endHeaders: true,
      block: this.encoder.encode(fields),
    });
  }

  /** The first frame (already arrived or still to come) matching `pred`. */
  waitFor<T extends ReadItem>(pred: (f: ReadItem) => boolean): Promise<T> {
    const got = this.frames.find(pred);
    if (got) return Promise.resolve(got as T);
    return new Promise((resolve) =>
      this.#waiters.push({ pred, resolve: resolve as (f: ReadItem) => void })
    );
  }

  /** The GOAWAY the server sends. */
  goaway(): Promise<Extract<ReadItem, { type: "GOAWAY" }>> {
    return this.waitFor((f) => f.type === "GOAWAY");
  }

  /** The RST_STREAM for `streamId`. */
  rst(streamId: number): Promise<Extract<ReadItem, { type: "RST_STREAM" }>> {
    return this.waitFor((f) => f.type === "RST_STREAM" && f.streamId === streamId);
  }

  /** The decoded fields of the HEADERS for `streamId`. */
  async response(streamId: number): Promise<HeaderField[]> {
    await this.waitFor((f) => f.type === "HEADERS" && f.streamId === streamId);
    return this.decoded.get(streamId)!;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.ended;
  }
}
