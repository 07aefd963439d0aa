/**
 * The DNS message codec (RFC 1035) the sidecar's DNS proxy needs: reading a query (header, its
 * one question, name compression, the EDNS OPT record), building the answers the proxy gives
 * itself (A and AAAA records, NOERROR-empty, NXDOMAIN, SERVFAIL, FORMERR, NOTIMP, REFUSED), and
 * the raw-message helpers forwarding needs (the id, truncation, TCP's 2-byte length framing).
 *
 * Reading never throws: hostile input (a truncated packet, a compression pointer loop, a label
 * longer than 63 bytes, a name longer than 255, a question count other than 1) gives an error
 * value, with the FORMERR reply to send when the message's id can be read.
 *
 * @example
 * ```ts
 * const parsed = parseQuery(packet);
 * if (!parsed.ok) {
 *   if (parsed.reply) send(parsed.reply); // FORMERR / NOTIMP echoing the id
 * } else {
 *   send(buildResponse({
 *     query: parsed.query,
 *     answers: [{ type: TYPE_A, ttl: 30, address: "10.0.0.7" }],
 *   }));
 * }
 * ```
 * @module
 */

/** QTYPE A: an IPv4 address. */
export const TYPE_A = 1;
/** QTYPE AAAA: an IPv6 address. */
export const TYPE_AAAA = 28;
/** TYPE OPT: the EDNS(0) pseudo-record (RFC 6891). */
export const TYPE_OPT = 41;
/** QCLASS IN: the Internet. */
export const CLASS_IN = 1;

/** Response codes. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** The largest DNS message over UDP without EDNS. */
export const UDP_MAX_PLAIN = 512;
/** The UDP payload size the proxy advertises in its own OPT records. */
export const EDNS_UDP_SIZE = 1232;
/** The length of the fixed header. */
export const HEADER_LEN = 12;

const MAX_NAME_WIRE = 255;
const MAX_POINTER_HOPS = 64;

/** One question: the name as read (presentation form, no trailing dot, original case). */
export interface Question {
  /** The name, labels joined by dots, `\.`, `\\` and `\DDD` escapes for odd bytes; root is ".". */
  name: string;
  /** QTYPE. */
  type: number;
  /** QCLASS. */
  class: number;
  /** The name in uncompressed wire form, to echo it byte for byte (case included). */
  wire?: Uint8Array;
}

/** The EDNS(0) settings of a query's OPT record. */
export interface Edns {
  /** The requestor's UDP payload size (at least 512). */
  udpSize: number;
  /** The EDNS version. */
  version: number;
}

/** A parsed query. */
export interface Query {
  id: number;
  opcode: number;
  /** Recursion desired. */
  rd: boolean;
  /** Checking disabled (echoed). */
  cd: boolean;
  question: Question;
  /** Present when the query carried an OPT record. */
  edns?: Edns;
}

/** What {@link parseQuery} returns: the query, or why not with the reply due, if any. */
export type ParseResult =
  | { ok: true; query: Query }
  | {
    ok: false;
    /** Why the message isn't a query mesh answers, for logs. */
    error: string;
    /** The FORMERR (or NOTIMP) reply when the id could be read; absent: drop the message. */
    reply?: Uint8Array;
  };

/** One answer record. */
export interface Answer {
  /** {@link TYPE_A} or {@link TYPE_AAAA}. */
  type: number;
  /** Seconds. */
  ttl: number;
  /** The address, dotted IPv4 for A, IPv6 text for AAAA. */
  address: string;
}

/** Options of {@link buildResponse}. */
export interface ResponseOptions {
  /** The query answered: its id, RD and CD bits, question and EDNS are echoed. */
  query: {
    id: number;
    rd?: boolean;
    cd?: boolean;
    opcode?: number;
    question?: Question;
    edns?: Edns;
  };
  /** The response code; NOERROR when omitted. */
  rcode?: number;
  /** The answer records (A/AAAA), owned by the question's name. */
  answers?: readonly Answer[];
  /** Sets AA: the proxy is the authority for the names in its table. */
  authoritative?: boolean;
}

/** Options of {@link buildQuery}. */
export interface QueryOptions {
  id: number;
  name: string;
  type: number;
  /** QCLASS, IN when omitted. */
  class?: number;
  /** Recursion desired, true when omitted. */
  rd?: boolean;
  /** Adds an OPT record advertising this UDP payload size. */
  ednsUdpSize?: number;
}

/** A name read off the wire, or why not. */
type NameRead = { name: string; wire: Uint8Array; end: number } | { error: string };

/** Reads a (possibly compressed) name at `offset` of `buf`. */
export function readName(buf: Uint8Array, offset: number): NameRead {
  const wire: number[] = [];
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  let limit = offset; // every pointer must point before the name it came from
  let hops = 0;
  for (;;) {
    if (pos >= buf.length) return { error: "truncated name" };
    const len = buf[pos];
    if (len === 0) {
      wire.push(0);
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return { error: "truncated compression pointer" };
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (target >= limit) return { error: "compression pointer loop" };
      if (++hops > MAX_POINTER_HOPS) return { error: "too many compression pointers" };
      if (end < 0) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return { error: "label longer than 63 bytes" };
    if (pos + 1 + len > buf.length) return { error: "truncated label" };
    if (wire.length + 1 + len + 1 > MAX_NAME_WIRE) return { error: "name longer than 255 bytes" };
    const label = buf.subarray(pos + 1, pos + 1 + len);
    wire.push(len, ...label);
    labels.push(presentLabel(label));
    pos += 1 + len;
  }
  return { name: labels.length ? labels.join(".") : ".", wire: new Uint8Array(wire), end };
}

function presentLabel(label: Uint8Array): string {
  let s = "";
  for (const b of label) {
    if (b === 0x2e || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\" + String(b).padStart(3, "0");
  }
  return s;
}

/**
 * The wire form of a plain host name (`a.b.c`, a trailing dot optional, "." or "" the root).
 * Throws a RangeError for an empty label, a label over 63 bytes, a name over 255 or a byte
 * outside ASCII: it encodes names mesh chose, never names read off the wire.
 */
export function encodeName(name: string): Uint8Array {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  const out: number[] = [];
  if (n !== "") {
    for (const label of n.split(".")) {
      if (label.length === 0 || label.length > 63) throw new RangeError(`bad label in ${name}`);
      out.push(label.length);
      for (let i = 0; i < label.length; i++) {
        const c = label.charCodeAt(i);
        if (c > 0x7e) throw new RangeError(`non-ASCII name ${name}`);
        out.push(c);
      }
    }
  }
  out.push(0);
  if (out.length > MAX_NAME_WIRE) throw new RangeError(`name longer than 255 bytes: ${name}`);
  return new Uint8Array(out);
}

const u16 = (b: Uint8Array, p: number) => (b[p] << 8) | b[p + 1];

/** Whether the message at `buf` has the QR (response) bit set. */
export function isResponse(buf: Uint8Array): boolean {
  return buf.length >= HEADER_LEN && (buf[2] & 0x80) !== 0;
}

/** The response code of a message (the low 4 bits of the header's flags). */
export function rcodeOf(buf: Uint8Array): number | undefined {
  return buf.length >= HEADER_LEN ? buf[3] & 0x0f : undefined;
}

/**
 * Parses a query: the header, exactly one question and, in the additional section, an OPT
 * record if any. Never throws.
 */
export function parseQuery(buf: Uint8Array): ParseResult {
  if (buf.length < HEADER_LEN) return { ok: false, error: "shorter than a DNS header" };
  const id = u16(buf, 0);
  const flags = u16(buf, 2);
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const opcode = (flags >> 11) & 0x0f;
  if (flags & 0x8000) return { ok: false, error: "a response, not a query" };
  const formerr = (error: string): ParseResult => ({
    ok: false,
    error,
    reply: buildResponse({ query: { id, rd, cd, opcode }, rcode: RCODE.FORMERR }),
  });
  const qdcount = u16(buf, 4);
  if (qdcount !== 1) return formerr(`question count ${qdcount}, want 1`);
  const name = readName(buf, HEADER_LEN);
  if ("error" in name) return formerr(name.error);
  if (name.end + 4 > buf.length) return formerr("truncated question");
  const question: Question = {
    name: name.name,
    type: u16(buf, name.end),
    class: u16(buf, name.end + 2),
    wire: name.wire,
  };
  if (opcode !== 0) {
    return {
      ok: false,
      error: `opcode ${opcode} not implemented`,
      reply: buildResponse({ query: { id, rd, cd, opcode, question }, rcode: RCODE.NOTIMP }),
    };
  }
  const query: Query = { id, opcode, rd, cd, question };
  const edns = readEdns(buf, name.end + 4);
  if (edns) query.edns = edns;
  return { ok: true, query };
}

/** The OPT record among the records after the question, if the sections read cleanly. */
function readEdns(buf: Uint8Array, from: number): Edns | undefined {
  const an = u16(buf, 6), ns = u16(buf, 8), ar = u16(buf, 10);
  let p = from;
  for (let i = 0; i < an + ns + ar; i++) {
    const owner = readName(buf, p);
    if ("error" in owner || owner.end + 10 > buf.length) return undefined;
    const type = u16(buf, owner.end);
    const cls = u16(buf, owner.end + 2);
    const ttlHigh = buf[owner.end + 5];
    const rdlen = u16(buf, owner.end + 8);
    p = owner.end + 10 + rdlen;
    if (p > buf.length) return undefined;
    if (i >= an + ns && type === TYPE_OPT) {
      return { udpSize: Math.max(UDP_MAX_PLAIN, cls), version: ttlHigh };
    }
  }
  return undefined;
}

/**
 * Builds a response: the query's id, RD, CD and opcode, QR and RA set, its question echoed,
 * the answers, and an OPT record when the query had one.
 */
export function buildResponse(opts: ResponseOptions): Uint8Array {
  const { query } = opts;
  const rcode = opts.rcode ?? RCODE.NOERROR;
  const answers = opts.answers ?? [];
  const qname = query.question ? query.question.wire ?? encodeName(query.question.name) : undefined;
  const rdatas = answers.map((a) => addressBytes(a));
  let size = HEADER_LEN;
  if (qname) size += qname.length + 4;
  for (const r of rdatas) size += 12 + r.length;
  if (query.edns) size += 11;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, query.id & 0xffff);
  let flags = 0x8000 | ((query.opcode ?? 0) & 0x0f) << 11 | 0x0080 | (rcode & 0x0f);
  if (opts.authoritative) flags |= 0x0400;
  if (query.rd) flags |= 0x0100;
  if (query.cd) flags |= 0x0010;
  dv.setUint16(2, flags);
  dv.setUint16(4, qname ? 1 : 0);
  dv.setUint16(6, rdatas.length);
  dv.setUint16(10, query.edns ? 1 : 0);
  let p = HEADER_LEN;
  if (qname && query.question) {
    out.set(qname, p);
    p += qname.length;
    dv.setUint16(p, query.question.type);
    dv.setUint16(p + 2, query.question.class);
    p += 4;
  }
  answers.forEach((a, i) => {
    dv.setUint16(p, 0xc000 | HEADER_LEN); // the question's name
    dv.setUint16(p + 2, a.type);
    dv.setUint16(p + 4, CLASS_IN);
    dv.setUint32(p + 6, Math.max(0, Math.min(a.ttl, 0x7fffffff)) >>> 0);
    dv.setUint16(p + 10, rdatas[i].length);
    out.set(rdatas[i], p + 12);
    p += 12 + rdatas[i].length;
  });
  if (query.edns) {
    out[p] = 0; // root owner
    dv.setUint16(p + 1, TYPE_OPT);
    dv.setUint16(p + 3, EDNS_UDP_SIZE);
    // extended rcode, version, flags: 0; rdlength 0
  }
  return out;
}

function addressBytes(a: Answer): Uint8Array {
  const b = a.type === TYPE_A ? ipv4Bytes(a.address) : ipv6Bytes(a.address);
  if (!b) throw new RangeError(`not an address for type ${a.type}: ${a.address}`);
  return b;
}

/** The 4 bytes of a dotted IPv4 address, or undefined. */
export function ipv4Bytes(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return undefined;
    out[i] = Number(parts[i]);
  }
  return out;
}

/** The 16 bytes of an IPv6 address (`::` and a trailing dotted IPv4 allowed), or undefined. */
export function ipv6Bytes(s: string): Uint8Array | undefined {
  const text = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = ipv4Bytes(part);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The text of 16 IPv6 address bytes, the longest run of zero groups as `::` (RFC 5952). */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return hex(g.slice(0, best)) + "::" + hex(g.slice(best + bestLen));
}

/** Builds a query (for tests, probes and clients). Throws for a name {@link encodeName} refuses. */
export function buildQuery(opts: QueryOptions): Uint8Array {
  const name = encodeName(opts.name);
  const edns = opts.ednsUdpSize !== undefined;
  const out = new Uint8Array(HEADER_LEN + name.length + 4 + (edns ? 11 : 0));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, opts.id & 0xffff);
  dv.setUint16(2, opts.rd === false ? 0 : 0x0100);
  dv.setUint16(4, 1);
  dv.setUint16(10, edns ? 1 : 0);
  out.set(name, HEADER_LEN);
  let p = HEADER_LEN + name.length;
  dv.setUint16(p, opts.type);
  dv.setUint16(p + 2, opts.class ?? CLASS_IN);
  p += 4;
  if (edns) {
    dv.setUint16(p + 1, TYPE_OPT);
    dv.setUint16(p + 3, opts.ednsUdpSize!);
  }
  return out;
}

/** A resource record read from a response. */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** The address for A/AAAA records, else undefined. */
  address?: string;
  /** The raw RDATA. */
  data: Uint8Array;
}

/** A response read back: its header bits, question and answer records. */
export interface Response {
  id: number;
  rcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  rd: boolean;
  ra: boolean;
  question?: Question;
  answers: ResourceRecord[];
  /** The number of records in the additional section. */
  additional: number;
}

/** Reads a response (for tests and diagnostics): an error string when it can't. Never throws. */
export function parseResponse(buf: Uint8Array): Response | { error: string } {
  if (buf.length < HEADER_LEN) return { error: "shorter than a DNS header" };
  const flags = u16(buf, 2);
  if (!(flags & 0x8000)) return { error: "not a response" };
  const res: Response = {
    id: u16(buf, 0),
    rcode: flags & 0x0f,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    answers: [],
    additional: u16(buf, 10),
  };
  let p = HEADER_LEN;
  const qd = u16(buf, 4);
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, p);
    if ("error" in n) return n;
    if (n.end + 4 > buf.length) return { error: "truncated question" };
    if (i === 0) {
      res.question = {
        name: n.name,
        type: u16(buf, n.end),
        class: u16(buf, n.end + 2),
        wire: n.wire,
      };
    }
    p = n.end + 4;
  }
  const an = u16(buf, 6);
  for (let i = 0; i < an; i++) {
    const n = readName(buf, p);
    if ("error" in n) return n;
    if (n.end + 10 > buf.length) return { error: "truncated record" };
    const type = u16(buf, n.end);
    const rdlen = u16(buf, n.end + 8);
    const start = n.end + 10;
    if (start + rdlen > buf.length) return { error: "truncated record data" };
    const data = buf.slice(start, start + rdlen);
    const rec: ResourceRecord = {
      name: n.name,
      type,
      class: u16(buf, n.end + 2),
      ttl: new DataView(buf.buffer, buf.byteOffset).getUint32(n.end + 4),
      data,
    };
    if (type === TYPE_A && rdlen === 4) rec.address = data.join(".");
    if (type === TYPE_AAAA && rdlen === 16) rec.address = formatIpv6(data);
    res.answers.push(rec);
    p = start + rdlen;
  }
  return res;
}

/** The id of a raw message, or undefined when it is shorter than a header. */
export function readId(buf: Uint8Array): number | undefined {
  return buf.length >= 2 ? u16(buf, 0) : undefined;
}

/** A copy of a raw message with its id set to `id` (the message itself is not changed). */
export function withId(buf: Uint8Array, id: number): Uint8Array {
  const out = buf.slice();
  if (out.length >= 2) {
    out[0] = (id >> 8) & 0xff;
    out[1] = id & 0xff;
  }
  return out;
}

/**
 * The message as is when it fits `maxSize` bytes; else its header and question with TC set and
 * no records, so that the client retries over TCP.
 */
export function truncate(buf: Uint8Array, maxSize: number): Uint8Array {
  if (buf.length <= maxSize || buf.length < HEADER_LEN) return buf;
  let end = HEADER_LEN;
  if (u16(buf, 4) === 1) {
    const n = readName(buf, HEADER_LEN);
    if (!("error" in n) && n.end + 4 <= buf.length) end = n.end + 4;
  }
  const out = buf.slice(0, end);
  out[2] |= 0x02; // TC
  out[4] = 0;
  out[5] = end > HEADER_LEN ? 1 : 0;
  out.fill(0, 6, HEADER_LEN);
  return out;
}

/** The longest message TCP framing carries. */
export const TCP_MAX_MESSAGE = 0xffff;

/** A message with TCP's 2-byte length prefix (RFC 1035 4.2.2). Throws over 65535 bytes. */
export function frame(msg: Uint8Array): Uint8Array {
  if (msg.length > TCP_MAX_MESSAGE) throw new RangeError(`message of ${msg.length} bytes`);
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/** The whole length-prefixed messages at the start of `buf`, and the bytes left after them. */
export function splitFrames(buf: Uint8Array): { messages: Uint8Array[]; rest: Uint8Array } {
  const messages: Uint8Array[] = [];
  let p = 0;
  while (p + 2 <= buf.length) {
    const len = u16(buf, p);
    if (p + 2 + len > buf.length) break;
    messages.push(buf.slice(p + 2, p + 2 + len));
    p += 2 + len;
  }
  return { messages, rest: buf.subarray(p) };
}
