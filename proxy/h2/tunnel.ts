/**
 * An HTTP/2 stream carrying a tunnel (extended CONNECT, RFC 8441: WebSocket between proxies)
 * as a `node:net`-style socket, so the code that splices two sockets (`tcp.ts`, `upgrade.ts`)
 * carries it like any connection:
 *
 * - reading pulls the stream's DATA (`H2Body`), one chunk per `_read`, so the peer's window
 *   grows only as the other side takes the bytes (backpressure);
 * - writing resolves once the bytes fit the peer's windows and reached the socket
 *   (`H2Stream.write`), so `write()` returns false while they wait, as a socket's does;
 * - `end()` sends END_STREAM (half-close, as a FIN); the stream's END_STREAM ends reading;
 * - `destroy()` resets a stream that hasn't completed (CANCEL); a stream reset by the peer
 *   or lost with its connection destroys the socket with that error;
 * - `setTimeout(ms, cb)` calls `cb` after `ms` without a byte either way, as a socket's does.
 *
 * @example
 * ```ts
 * const s = conn.request(extendedConnectFields, {});
 * await s.response; // 200: the tunnel is up
 * splice(appSocket, h2Tunnel(s), done);
 * ```
 * @module
 */
import { Duplex } from "node:stream";
import type net from "node:net";
import { H2_ERROR } from "./errors.ts";
import type { H2Stream } from "./stream.ts";

/** The tunnel over one stream. */
export class H2Tunnel extends Duplex {
  readonly #stream: H2Stream;
  #pumping = false;
  #idleMs = 0;
  #onIdle: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(stream: H2Stream) {
    super({ allowHalfOpen: false });
    this.#stream = stream;
    // Never into the event loop: a stream reset before the splice listens is no crash (the
    // splice's own `error` and `close` listeners still hear it).
    this.on("error", () => {});
    stream.closed.then((err) => {
      if (err && !this.destroyed) this.destroy(err);
    });
  }

  override _read(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.#stream.body.read();
        if (this.destroyed) return;
        if (chunk === null) {
          this.push(null);
          return;
        }
        this.#touch();
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(err as Error);
    } finally {
      this.#pumping = false;
    }
  }

  override _write(chunk: Uint8Array, _enc: string, cb: (err?: Error | null) => void): void {
    this.#touch();
    this.#stream.write(chunk).then(() => {
      this.#touch();
      cb();
    }, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#stream.end().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#stopTimer();
    // Not completed both ways (a close mid-stream, the other side gone): the peer is told.
    if (this.#stream.state !== "closed") this.#stream.reset(H2_ERROR.CANCEL);
    this.#stream.body.cancel();
    cb(err);
  }

  /** Calls `onIdle` after `ms` without a byte either way (0 turns it off), as `net.Socket`'s. */
  setTimeout(ms: number, onIdle?: () => void): this {
    this.#idleMs = ms;
    if (onIdle) this.#onIdle = onIdle;
    this.#stopTimer();
    this.#touch();
    return this;
  }

  // One timer per idle period, not per chunk: each byte moves `#last`, and the timer, when it
  // fires early, waits for the rest.
  #last = 0;

  #touch(): void {
    if (this.#idleMs <= 0 || this.destroyed) return;
    this.#last = performance.now();
    if (this.#timer === undefined) this.#arm(this.#idleMs);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.destroyed || this.#idleMs <= 0) return;
      const left = this.#last + this.#idleMs - performance.now();
      if (left > 1) return this.#arm(left);
      this.emit("timeout");
      this.#onIdle?.();
    }, ms);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The tunnel over `stream` typed as the socket the splicing code takes: it has every member
 * that code uses (`write`/`end`/`destroy`, `pause`/`resume`, `setTimeout`, the `data`, `end`,
 * `error` and `close` events).
 */
export function h2Tunnel(stream: H2Stream): net.Socket {
  return new H2Tunnel(stream) as unknown as net.Socket;
}
