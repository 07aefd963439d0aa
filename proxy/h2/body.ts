/**
 * The incoming body of an HTTP/2 stream: DATA payloads wait here until the application
 * reads them, and each read reports the bytes consumed so that the connection grows the
 * peer's flow-control windows only then (a slow reader never makes us buffer more than the
 * window). Tiny payloads are packed together, so a peer sending one-byte DATA frames can't
 * make us hold an object per byte.
 *
 * @example
 * ```ts
 * for await (const chunk of stream.body) console.log(chunk.length);
 * const chunk = await stream.body.read(); // null at the end
 * ```
 * @module
 */

const SMALL = 1024;
const PACK = 16 * 1024;

/** A stream's incoming body: async-iterable chunks with backpressure. */
export class H2Body implements AsyncIterable<Uint8Array> {
  #queue: Uint8Array[] = [];
  #pack: Uint8Array | undefined;
  #packLen = 0;
  #bytes = 0;
  #ended = false;
  #error: Error | undefined;
  #waiter: { resolve: (c: Uint8Array | null) => void; reject: (e: Error) => void } | undefined;
  #onConsume: ((n: number) => void) | undefined;
  #onCancel: () => void;

  /**
   * @internal `onConsume` is told of bytes read; `onCancel` when the reader gives up;
   * `onDiscard` of each DATA payload dropped after that.
   */
  constructor(
    o: { onConsume: (n: number) => void; onCancel: () => void; onDiscard?: () => void },
  ) {
    this.#onDiscard = o.onDiscard;
    this.#onConsume = o.onConsume;
    this.#onCancel = o.onCancel;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#bytes;
  }

  /** True once the end of the body (or an error) was reached and everything was read. */
  get done(): boolean {
    return (this.#ended || this.#error !== undefined) && this.#bytes === 0;
  }

  /** The next chunk; null at the end; rejects with the stream's error. */
  read(): Promise<Uint8Array | null> {
    const c = this.#take();
    if (c) return Promise.resolve(c);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) {
      return Promise.reject(new Error("H2Body: read() while another read is pending"));
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    let finished = false;
    try {
      for (;;) {
        const c = await this.read();
        if (c === null) {
          finished = true;
          return;
        }
        yield c;
      }
    } catch (e) {
      finished = true;
      throw e;
    } finally {
      if (!finished) this.cancel();
    }
  }

  /** Reads the whole body (up to `max` bytes; more rejects and cancels). */
  async bytes(max = 64 * 1024 * 1024): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of this) {
      n += c.length;
      if (n > max) {
        this.cancel();
        throw new RangeError(`body over ${max} bytes`);
      }
      parts.push(c);
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** The body as a web `ReadableStream` (pulling reads, so backpressure holds). */
  readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        const c = await this.read();
        if (c === null) ctl.close();
        else ctl.enqueue(c);
      },
      cancel: () => this.cancel(),
    }, { highWaterMark: 0 });
  }

  /**
   * Gives up on the rest: buffered bytes are dropped, later ones are dropped as they come
   * (their window given back), and the stream is told (`onCancel`) if still open.
   */
  cancel(): void {
    if (this.done || this.#discarding) return;
    this.#drop();
    this.#discarding = true;
    if (!this.#ended && !this.#error) this.#onCancel();
  }

  #discarding = false;
  #onDiscard: (() => void) | undefined;

  /** @internal A DATA payload arrived. */
  push(data: Uint8Array): void {
    if (this.#ended || this.#error || data.length === 0) return;
    if (this.#discarding) {
      this.#onConsume?.(data.length);
      this.#onDiscard?.();
      return;
    }
    this.#bytes += data.length;
    if (this.#waiter && this.#queue.length === 0 && this.#packLen === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      const c = data.length * 2 < data.buffer.byteLength ? data.slice() : data;
      this.#bytes -= c.length;
      this.#onConsume?.(c.length);
      w.resolve(c);
      return;
    }
    if (data.length < SMALL) {
      if (!this.#pack || this.#packLen + data.length > PACK) {
        this.#flushPack();
        this.#pack = new Uint8Array(PACK);
      }
      this.#pack.set(data, this.#packLen);
      this.#packLen += data.length;
      return;
    }
    this.#flushPack();
    // A view into a much larger socket chunk would keep all of it alive: copy.
    this.#queue.push(data.length * 2 < data.buffer.byteLength ? data.slice() : data);
  }

  /** @internal END_STREAM arrived. */
  end(): void {
    if (this.#ended || this.#error) return;
    this.#ended = true;
    if (this.#waiter && this.#bytes === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(null);
    }
  }

  /** @internal The stream failed: buffered bytes are dropped and reads reject with `e`. */
  fail(e: Error): void {
    if (this.#ended || this.#error) return;
    this.#error = e;
    this.#drop();
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.reject(e);
    }
  }

  /** @internal The stream left the connection: reads no longer credit windows. Returns the bytes still buffered. */
  detach(): number {
    this.#onConsume = undefined;
    return this.#bytes;
  }

  #drop(): void {
    const n = this.#bytes;
    this.#queue = [];
    this.#pack = undefined;
    this.#packLen = 0;
    this.#bytes = 0;
    if (n) this.#onConsume?.(n);
  }

  #flushPack(): void {
    if (this.#pack && this.#packLen) this.#queue.push(this.#pack.subarray(0, this.#packLen));
    this.#pack = undefined;
    this.#packLen = 0;
  }

  #take(): Uint8Array | undefined {
    if (this.#queue.length === 0) this.#flushPack();
    const c = this.#queue.shift();
    if (!c) return undefined;
    this.#bytes -= c.length;
    this.#onConsume?.(c.length);
    return c;
  }
}
