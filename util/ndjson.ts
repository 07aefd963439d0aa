/**
 * Newline-delimited JSON framing for the push stream: bytes in (in any
 * chunking, UTF-8 split anywhere), complete lines out, with a bound on how
 * long a line may grow so a peer can't make the reader buffer without limit.
 *
 * @example
 * ```ts
 * const lines = new LineSplitter(1 << 20);
 * lines.feed(bytes, (line) => handle(JSON.parse(line))); // false: a line was too long
 * ```
 * @module
 */

/** Longest line accepted by default (1 MiB of text). */
export const MAX_LINE_CHARS = 1 << 20;

/** Splits a byte stream into lines (without the `\n`; blank lines skipped). */
export class LineSplitter {
  #decoder = new TextDecoder();
  #buf = "";
  readonly maxChars: number;

  constructor(maxChars = MAX_LINE_CHARS) {
    this.maxChars = maxChars;
  }

  /**
   * Feeds bytes (or text); calls `onLine` for each complete non-blank line.
   * Returns false (and stops) when a line grows past `maxChars`; the splitter
   * must not be fed again then.
   */
  feed(chunk: Uint8Array | string, onLine: (line: string) => void): boolean {
    this.#buf += typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = this.#buf.indexOf("\n", start)) >= 0) {
      const line = this.#buf.slice(start, nl);
      start = nl + 1;
      if (line.length > this.maxChars) {
        this.#buf = "";
        return false;
      }
      if (line.trim()) onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
    this.#buf = start ? this.#buf.slice(start) : this.#buf;
    if (this.#buf.length > this.maxChars) {
      this.#buf = "";
      return false;
    }
    return true;
  }

  /** Characters of an unfinished line held now. */
  get pending(): number {
    return this.#buf.length;
  }
}
