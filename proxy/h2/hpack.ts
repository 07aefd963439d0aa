/**
 * HPACK header compression for HTTP/2 (RFC 7541): an encoder and a decoder, each with its
 * dynamic table (entry size = name + value + 32 bytes, newest entry at index 62, oldest
 * evicted first), integer and string-literal coding with the Huffman code of `huffman.ts`,
 * and dynamic table size updates.
 *
 * Header fields are byte strings (each char code 0-255 is one byte). The decoder throws only
 * {@link HpackError}: `COMPRESSION_ERROR` (the connection must be closed) or
 * `HEADER_LIST_TOO_LARGE` (the block was fully processed, the table is consistent, the
 * request can be refused with 431 and the connection used on). The encoder throws
 * `COMPRESSION_ERROR` only for a field with a char code above 0xff, before changing any state.
 *
 * The encoder sends full static or dynamic matches as indexed fields and the rest as literals
 * with incremental indexing, except sensitive fields (never indexed: `authorization`,
 * `proxy-authorization`, `cookie` values under 20 bytes, and names the caller lists) and large
 * values (over a quarter of the table, sent without indexing). Strings are Huffman coded when
 * that is shorter.
 *
 * @example
 * ```ts
 * import { HpackDecoder, HpackEncoder } from "./hpack.ts";
 * const encoder = new HpackEncoder();
 * const decoder = new HpackDecoder();
 * const block = encoder.encode([[":method", "GET"], [":path", "/"], ["authorization", "x"]]);
 * decoder.decode(block); // [[":method", "GET"], [":path", "/"], ["authorization", "x"]]
 * encoder.setPeerMaxTableSize(0); // the next block starts with a size update to 0
 * ```
 * @module
 */
import { HUFFMAN_EOS, huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
import { STATIC_LENGTH, STATIC_TABLE, staticName } from "./hpack_static.ts";

/** A header field: name (lower case for HTTP/2) and value, both as latin1/byte strings (each char code 0-255 is one byte). */
export type HeaderField = readonly [name: string, value: string];

/** The one error type of the codec; `code` is the HTTP/2 consequence. */
export class HpackError extends Error {
  readonly code: "COMPRESSION_ERROR" | "HEADER_LIST_TOO_LARGE";
  constructor(
    code: "COMPRESSION_ERROR" | "HEADER_LIST_TOO_LARGE",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HpackError";
    this.code = code;
  }
}

export interface EncoderOptions {
  /** default 4096 */
  maxTableSize?: number;
  /** default true: Huffman when shorter */
  huffman?: boolean;
}

export interface DecoderOptions {
  /** SETTINGS_HEADER_TABLE_SIZE we advertise; default 4096 */
  maxTableSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise, counted as RFC 9113 §6.5.2 (name + value + 32 per field); default 65536 */
  maxHeaderListSize?: number;
}

/** A snapshot of a dynamic table, newest entry first (for tests and diagnostics). */
export interface DynamicTableView {
  /** Sum of the entry sizes (name + value + 32). */
  readonly size: number;
  /** The table's current maximum size. */
  readonly maxSize: number;
  readonly entries: HeaderField[];
}

/** HTTP/2's initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2). */
const DEFAULT_TABLE_SIZE = 4096;
/** Largest integer the decoder accepts (2^31 - 1). */
const MAX_INTEGER = 0x7fffffff;
/** Continuation bytes an integer may have after its prefix. */
const MAX_CONTINUATION = 5;
/** Fields never indexed whatever their value. */
const ALWAYS_SENSITIVE = new Set(["authorization", "proxy-authorization"]);
/** `cookie` values shorter than this are never indexed (RFC 7541 §7.1.3). */
const SHORT_COOKIE = 20;
/** A char code the byte-string fields can't carry. */
const NOT_A_BYTE = /[\u0100-\uffff]/;
/** Scratch space the decoder keeps between blocks, at most (bigger is allocated per string). */
const MAX_SCRATCH = 65536;
const EMPTY = new Uint8Array(0);

function compressionError(message: string): HpackError {
  return new HpackError("COMPRESSION_ERROR", message);
}

/** A size option as a non-negative integer below 2^31, or the default when unusable. */
function sizeOption(value: number | undefined, fallback: number): number {
  if (value === undefined || Number.isNaN(value)) return fallback;
  return Math.min(MAX_INTEGER, Math.max(0, Math.floor(value)));
}

/** Bytes `[start, end)` as a byte string, without per-byte concatenation. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  const chunk = 8192;
  if (end - start <= chunk) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  const parts: string[] = [];
  for (let i = start; i < end; i += chunk) parts.push(latin1(bytes, i, Math.min(end, i + chunk)));
  return parts.join("");
}

/** The dynamic table: a ring of entries, newest at position 0. */
class DynamicTable {
  size = 0;
  count = 0;
  /** Entries ever inserted; entry k (1-based, in insertion order) has sequence number k. */
  inserted = 0;
  #ring: (HeaderField | undefined)[] = new Array(16);
  #mask = 15;
  #newest = 15;

  constructor(public max: number) {}

  /** The entry at dynamic position `i` (0 = newest); `i` must be below `count`. */
  get(i: number): HeaderField {
    return this.#ring[(this.#newest - i) & this.#mask]!;
  }

  add(field: HeaderField): void {
    const need = field[0].length + field[1].length + 32;
    if (need > this.max) {
      // RFC 7541 §4.4: a too-large entry empties the table and is not added.
      this.setMax(this.max, 0);
      return;
    }
    while (this.size + need > this.max) this.#evict();
    if (this.count > this.#mask) this.#grow();
    this.#newest = (this.#newest + 1) & this.#mask;
    this.#ring[this.#newest] = field;
    this.count++;
    this.size += need;
    this.inserted++;
    this.added(field, this.inserted);
  }

  /** Sets the maximum size, evicting until the entries fit in `room` (default: the maximum). */
  setMax(max: number, room = max): void {
    this.max = max;
    while (this.size > room) this.#evict();
  }

  view(): DynamicTableView {
    const entries: HeaderField[] = [];
    for (let i = 0; i < this.count; i++) entries.push(this.get(i));
    return { size: this.size, maxSize: this.max, entries };
  }

  /** Hook for the encoder's lookup maps. */
  protected added(_field: HeaderField, _seq: number): void {}
  /** Hook for the encoder's lookup maps. */
  protected evicted(_field: HeaderField, _seq: number): void {}

  #evict(): void {
    const slot = (this.#newest - this.count + 1) & this.#mask;
    const field = this.#ring[slot]!;
    this.#ring[slot] = undefined;
    const seq = this.inserted - this.count + 1;
    this.count--;
    this.size -= field[0].length + field[1].length + 32;
    this.evicted(field, seq);
  }

  #grow(): void {
    const ring: (HeaderField | undefined)[] = new Array((this.#mask + 1) * 2);
    for (let i = 0; i < this.count; i++) ring[this.count - 1 - i] = this.get(i);
    this.#ring = ring;
    this.#mask = ring.length - 1;
    this.#newest = this.count - 1;
  }
}

/** A name's dynamic entries: the newest one's sequence number and each value's newest. */
interface NameEntries {
  newest: number;
  values: Map<string, number>;
}

/** The encoder's table, with (name, value) → entry maps kept in step with eviction. */
class EncoderTable extends DynamicTable {
  readonly byName = new Map<string, NameEntries>();

  /** The HPACK index of the entry with sequence number `seq`. */
  indexOf(seq: number): number {
    return STATIC_LENGTH + 1 + this.inserted - seq;
  }

  protected override added([name, value]: HeaderField, seq: number): void {
    const e = this.byName.get(name);
    if (e) {
      e.newest = seq;
      e.values.set(value, seq);
    } else this.byName.set(name, { newest: seq, values: new Map([[value, seq]]) });
  }

  protected override evicted([name, value]: HeaderField, seq: number): void {
    const e = this.byName.get(name);
    if (!e) return;
    // Eviction is oldest first: when the newest entry of a name goes, all of its others went.
    if (e.newest === seq) this.byName.delete(name);
    else if (e.values.get(value) === seq) e.values.delete(value);
  }
}

let encoderTable: (encoder: HpackEncoder) => DynamicTable;
let decoderTable: (decoder: HpackDecoder) => DynamicTable;

/** The dynamic table of an encoder or decoder, newest first (for tests and diagnostics). */
export function dynamicTable(coder: HpackEncoder | HpackDecoder): DynamicTableView {
  return (coder instanceof HpackEncoder ? encoderTable(coder) : decoderTable(coder)).view();
}

/** Encodes header blocks for one direction of one connection. */
export class HpackEncoder {
  #table: EncoderTable;
  #limit: number;
  #huffman: boolean;
  /** Smallest and last effective size set since the last block (-1: none). */
  #pendingLow = -1;
  #pendingFinal = -1;
  #buf = new Uint8Array(1024);
  #pos = 0;

  static {
    encoderTable = (e) => e.#table;
  }

  constructor(options?: EncoderOptions) {
    this.#limit = sizeOption(options?.maxTableSize, DEFAULT_TABLE_SIZE);
    this.#huffman = options?.huffman ?? true;
    // A table smaller than the decoder's needs no announcement: it holds only the newest of
    // the decoder's entries, at the same indexes.
    this.#table = new EncoderTable(Math.min(this.#limit, DEFAULT_TABLE_SIZE));
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: the encoder uses min(its own limit, this) and emits a dynamic table size update at the start of the next block. */
  setPeerMaxTableSize(size: number): void {
    const effective = Math.min(this.#limit, sizeOption(size, DEFAULT_TABLE_SIZE));
    this.#pendingLow = this.#pendingLow < 0 ? effective : Math.min(this.#pendingLow, effective);
    this.#pendingFinal = effective;
  }

  /** One header block. `sensitive` names are encoded "never indexed" (authorization, cookie values under 20 bytes, proxy-authorization, and any name in options). */
  encode(
    fields: readonly HeaderField[],
    options?: { sensitive?: ReadonlySet<string> },
  ): Uint8Array {
    for (const [name, value] of fields) {
      if (NOT_A_BYTE.test(name) || NOT_A_BYTE.test(value)) {
        throw compressionError(`header field ${JSON.stringify(name)} has a char code above 0xff`);
      }
    }
    try {
      return this.#encode(fields, options?.sensitive);
    } catch (e) {
      throw new HpackError("COMPRESSION_ERROR", `HPACK encoding failed: ${e}`, { cause: e });
    }
  }

  #encode(fields: readonly HeaderField[], sensitive: ReadonlySet<string> | undefined): Uint8Array {
    const table = this.#table;
    this.#pos = 0;
    this.#ensure(16);
    if (this.#pendingFinal >= 0) {
      const low = this.#pendingLow, final = this.#pendingFinal;
      if (low < table.max && low < final) {
        this.#int(0x20, 5, low);
        table.setMax(low);
      }
      if (final !== table.max) {
        this.#int(0x20, 5, final);
        table.setMax(final);
      }
      this.#pendingLow = this.#pendingFinal = -1;
    }
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f];
      const name = field[0], value = field[1];
      this.#ensure(name.length + value.length + 16);
      const secret = ALWAYS_SENSITIVE.has(name) ||
        (name === "cookie" && value.length < SHORT_COOKIE) ||
        (sensitive !== undefined && sensitive.has(name));
      const st = staticName(name);
      const dyn = table.byName.get(name);
      if (!secret) {
        const si = st?.values.get(value);
        if (si !== undefined) {
          this.#int(0x80, 7, si);
          continue;
        }
        const seq = dyn?.values.get(value);
        if (seq !== undefined) {
          this.#int(0x80, 7, table.indexOf(seq));
          continue;
        }
      }
      const nameIndex = st ? st.index : dyn ? table.indexOf(dyn.newest) : 0;
      const indexing = !secret && value.length <= table.max / 4 &&
        name.length + value.length + 32 <= table.max;
      if (indexing) this.#int(0x40, 6, nameIndex);
      else this.#int(secret ? 0x10 : 0x00, 4, nameIndex);
      if (nameIndex === 0) this.#string(name);
      this.#string(value);
      // A copy: the caller's array may be reused after the call.
      if (indexing) table.add([name, value]);
    }
    return this.#buf.slice(0, this.#pos);
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + extra));
    bigger.set(this.#buf.subarray(0, this.#pos));
    this.#buf = bigger;
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1); `flags` fills the bits above it. */
  #int(flags: number, prefix: number, value: number): void {
    const buf = this.#buf;
    const max = (1 << prefix) - 1;
    if (value < max) {
      buf[this.#pos++] = flags | value;
      return;
    }
    buf[this.#pos++] = flags | max;
    let rest = value - max;
    while (rest >= 0x80) {
      buf[this.#pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buf[this.#pos++] = rest;
  }

  /** A string literal (RFC 7541 §5.2), Huffman coded when that is shorter. */
  #string(s: string): void {
    if (this.#huffman && s.length > 0) {
      const coded = huffmanEncodedLength(s);
      if (coded < s.length) {
        this.#int(0x80, 7, coded);
        this.#pos = huffmanEncode(s, this.#buf, this.#pos);
        return;
      }
    }
    this.#int(0x00, 7, s.length);
    const buf = this.#buf;
    let p = this.#pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.#pos = p;
  }
}

/** Decodes header blocks for one direction of one connection. */
export class HpackDecoder {
  #table: DynamicTable;
  #limit: number;
  #maxList: number;
  #src: Uint8Array = EMPTY;
  #pos = 0;
  /** Decoded length of the last string read (also when it was skipped). */
  #strLen = 0;
  #scratch = new Uint8Array(256);

  static {
    decoderTable = (d) => d.#table;
  }

  constructor(options?: DecoderOptions) {
    this.#limit = sizeOption(options?.maxTableSize, DEFAULT_TABLE_SIZE);
    this.#maxList = sizeOption(options?.maxHeaderListSize, 65536);
    this.#table = new DynamicTable(this.#limit);
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION payloads joined). Throws HpackError. After HEADER_LIST_TOO_LARGE the decoder's table is still consistent (it finishes processing the block, so the connection can answer 431 and go on); after COMPRESSION_ERROR the connection must be closed. */
  decode(block: Uint8Array): HeaderField[] {
    try {
      return this.#decode(block);
    } catch (e) {
      if (e instanceof HpackError) throw e;
      throw new HpackError("COMPRESSION_ERROR", `HPACK decoding failed: ${e}`, { cause: e });
    } finally {
      this.#src = EMPTY;
    }
  }

  #decode(block: Uint8Array): HeaderField[] {
    const table = this.#table;
    const maxList = this.#maxList;
    const end = block.length;
    this.#src = block;
    this.#pos = 0;
    const out: HeaderField[] = [];
    let listSize = 0;
    let tooLarge = false;
    let started = false;
    while (this.#pos < end) {
      const b = block[this.#pos++];
      let field: HeaderField | undefined;
      let size: number;
      if (b & 0x80) {
        field = this.#entry(this.#int(b, 7));
        size = field[0].length + field[1].length + 32;
      } else if ((b & 0xe0) === 0x20) {
        if (started) throw compressionError("dynamic table size update after a header field");
        const max = this.#int(b, 5);
        if (max > this.#limit) {
          throw compressionError(`dynamic table size update to ${max} above ${this.#limit}`);
        }
        table.setMax(max);
        continue;
      } else {
        const indexing = (b & 0x40) !== 0;
        const index = this.#int(b, indexing ? 6 : 4);
        const name = index === 0 ? this.#string(indexing) : this.#entry(index)[0];
        const nameLen = index === 0 ? this.#strLen : name!.length;
        const value = this.#string(indexing);
        size = nameLen + this.#strLen + 32;
        if (name !== undefined && value !== undefined) field = [name, value];
        if (indexing) {
          // A skipped (oversized) string can't fit in the table: adding it empties the table.
          if (field) table.add(field);
          else table.setMax(table.max, 0);
        }
      }
      started = true;
      listSize += size;
      if (tooLarge) continue;
      if (listSize > maxList || !field) {
        tooLarge = true;
        out.length = 0;
      } else out.push(field);
    }
    if (tooLarge) {
      throw new HpackError(
        "HEADER_LIST_TOO_LARGE",
        `header list of ${listSize} bytes is larger than ${maxList}`,
      );
    }
    return out;
  }

  #entry(index: number): HeaderField {
    if (index === 0) throw compressionError("indexed field with index 0");
    if (index <= STATIC_LENGTH) return STATIC_TABLE[index - 1];
    const d = index - STATIC_LENGTH - 1;
    if (d >= this.#table.count) {
      throw compressionError(`index ${index} past the table (${this.#table.count} dynamic)`);
    }
    return this.#table.get(d);
  }

  /** An integer with an N-bit prefix whose first byte, `first`, was read (RFC 7541 §5.1). */
  #int(first: number, prefix: number): number {
    const max = (1 << prefix) - 1;
    let value = first & max;
    if (value < max) return value;
    const src = this.#src;
    let p = this.#pos;
    let scale = 1;
    for (let i = 0; i < MAX_CONTINUATION; i++) {
      if (p >= src.length) throw compressionError("truncated integer");
      const b = src[p++];
      value += (b & 0x7f) * scale;
      if (value > MAX_INTEGER) throw compressionError("integer above 2^31 - 1");
      if (b < 0x80) {
        this.#pos = p;
        return value;
      }
      scale *= 128;
    }
    throw compressionError(`integer longer than ${MAX_CONTINUATION} continuation bytes`);
  }

  /**
   * A string literal (RFC 7541 §5.2). One longer than the header list limit is checked and
   * measured but not built (undefined) unless an indexed literal needs it for the table.
   */
  #string(indexing: boolean): string | undefined {
    const src = this.#src;
    if (this.#pos >= src.length) throw compressionError("truncated string literal");
    const b = src[this.#pos++];
    const len = this.#int(b, 7);
    const start = this.#pos;
    if (len > src.length - start) throw compressionError("string literal past the block's end");
    this.#pos = start + len;
    const keep = (n: number) => n <= this.#maxList || (indexing && n + 32 <= this.#table.max);
    if ((b & 0x80) === 0) {
      this.#strLen = len;
      return keep(len) ? latin1(src, start, start + len) : undefined;
    }
    if (len > this.#maxList) {
      const n = this.#huffman(start, len);
      if (!keep(n)) return undefined;
    }
    const out = this.#out(len);
    return latin1(out, 0, this.#huffman(start, len, out));
  }

  /** Room for the Huffman decoding of `len` bytes. */
  #out(len: number): Uint8Array {
    const need = Math.ceil(len * 8 / 5);
    if (need > MAX_SCRATCH) return new Uint8Array(need);
    if (this.#scratch.length < need) this.#scratch = new Uint8Array(Math.max(need, 1024));
    return this.#scratch;
  }

  /** Decodes (or, without `out`, checks and measures) a Huffman string; sets #strLen. */
  #huffman(start: number, len: number, out?: Uint8Array): number {
    const n = huffmanDecode(this.#src, start, start + len, out);
    if (n === HUFFMAN_EOS) throw compressionError("Huffman string contains EOS");
    if (n < 0) throw compressionError("Huffman padding longer than 7 bits or not all ones");
    this.#strLen = n;
    return n;
  }
}
