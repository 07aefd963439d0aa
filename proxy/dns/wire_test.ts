import assert from "node:assert/strict";
import {
  buildQuery,
  buildResponse,
  encodeName,
  formatIpv6,
  frame,
  ipv6Bytes,
  parseQuery,
  parseResponse,
  RCODE,
  readId,
  readName,
  type Response,
  splitFrames,
  truncate,
  TYPE_A,
  TYPE_AAAA,
  withId,
} from "./wire.ts";

function response(buf: Uint8Array): Response {
  const r = parseResponse(buf);
  if ("error" in r) throw new Error(r.error);
  return r;
}

/** A header: id, flags, qd, an, ns, ar. */
function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

Deno.test("parseQuery: a query's id, flags, question (case kept) and EDNS size", () => {
  const q = parseQuery(buildQuery({ id: 0xbeef, name: "Reviews.Default.", type: TYPE_AAAA }));
  assert.ok(q.ok);
  assert.equal(q.query.id, 0xbeef);
  assert.equal(q.query.rd, true);
  assert.equal(q.query.question.name, "Reviews.Default");
  assert.equal(q.query.question.type, TYPE_AAAA);
  assert.equal(q.query.question.class, 1);
  assert.equal(q.query.edns, undefined);
  const e = parseQuery(
    buildQuery({ id: 1, name: "a.b", type: TYPE_A, rd: false, ednsUdpSize: 4096 }),
  );
  assert.ok(e.ok);
  assert.equal(e.query.rd, false);
  assert.deepEqual(e.query.edns, { udpSize: 4096, version: 0 });
  // An EDNS size below 512 counts as 512.
  const small = parseQuery(buildQuery({ id: 1, name: "a.b", type: TYPE_A, ednsUdpSize: 100 }));
  assert.ok(small.ok);
  assert.equal(small.query.edns?.udpSize, 512);
});

Deno.test("readName: compression pointers are followed when reading", () => {
  // "example.com" at 12, then "www" + pointer to 12 at 25.
  const buf = new Uint8Array([
    ...header(1, 0, 1),
    7,
    ...new TextEncoder().encode("example"),
    3,
    ...new TextEncoder().encode("com"),
    0,
    3,
    ...new TextEncoder().encode("www"),
    0xc0,
    12,
  ]);
  const n = readName(buf, 25);
  assert.ok(!("error" in n));
  assert.equal(n.name, "www.example.com");
  assert.equal(n.end, 31);
  assert.deepEqual(n.wire, encodeName("www.example.com"));
  // Odd bytes are escaped; the root is ".".
  const odd = readName(new Uint8Array([3, 0x61, 0x2e, 0x20, 0]), 0);
  assert.ok(!("error" in odd));
  assert.equal(odd.name, "a\\.\\032");
  const root = readName(new Uint8Array([0]), 0);
  assert.ok(!("error" in root) && root.name === ".");
});

Deno.test("parseQuery: hostile input is an error value, FORMERR when the id can be read", () => {
  const cases: [string, number[], RegExp][] = [
    ["pointer to itself", [...header(7, 0x100, 1), 0xc0, 12, 0, 1, 0, 1], /loop/],
    ["pointer forward", [...header(7, 0x100, 1), 0xc0, 20, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0], /loop/],
    [
      "label then pointer back into itself",
      [...header(7, 0, 1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1],
      /loop/,
    ],
    ["label type 0x40 (len > 63)", [...header(7, 0, 1), 0x40, 0x61, 0, 0, 1, 0, 1], /63/],
    ["label type 0x80", [...header(7, 0, 1), 0x80, 0, 0, 1, 0, 1], /63/],
    ["truncated label", [...header(7, 0, 1), 5, 0x61, 0x62], /truncated/],
    ["truncated type/class", [...header(7, 0, 1), 1, 0x61, 0, 0, 1], /truncated/],
    ["no question", header(7, 0, 0), /question count 0/],
    ["two questions", [...header(7, 0, 2), 0, 0, 1, 0, 1, 0, 0, 1, 0, 1], /question count 2/],
  ];
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(63, ...new Array(63).fill(0x61));
  cases.push(["name over 255", [...header(7, 0, 1), ...long, 0, 0, 1, 0, 1], /255/]);
  for (const [what, bytes, why] of cases) {
    const r = parseQuery(new Uint8Array(bytes));
    assert.ok(!r.ok, what);
    assert.match(r.error, why, what);
    assert.ok(r.reply, what);
    const res = response(r.reply);
    assert.equal(res.id, 7, what);
    assert.equal(res.rcode, RCODE.FORMERR, what);
    assert.equal(res.ra, true, what);
  }
  // A header's worth: nothing to answer to.
  const short = parseQuery(new Uint8Array([1, 2, 3]));
  assert.ok(!short.ok && !short.reply);
  // A response is never answered (no reflection loops).
  const resp = parseQuery(buildResponse({ query: { id: 3 } }));
  assert.ok(!resp.ok && !resp.reply);
  // Another opcode: NOTIMP, question echoed.
  const notify = buildQuery({ id: 9, name: "a.b", type: TYPE_A });
  notify[2] |= 4 << 3;
  const n = parseQuery(notify);
  assert.ok(!n.ok && n.reply);
  assert.equal(response(n.reply).rcode, RCODE.NOTIMP);
  assert.equal(response(n.reply).question?.name, "a.b");
  // Random garbage never throws.
  for (let i = 0; i < 2000; i++) {
    const junk = crypto.getRandomValues(new Uint8Array(1 + (i % 80)));
    if (i % 2) junk[2] &= 0x7f; // mostly queries
    parseQuery(junk);
    parseResponse(junk);
    truncate(junk, 20);
  }
});

Deno.test("buildResponse: A and AAAA answers with TTL, echoing id, question, RD; RA set", () => {
  const q = parseQuery(buildQuery({ id: 42, name: "Reviews.default", type: TYPE_A }));
  assert.ok(q.ok);
  const r = response(buildResponse({
    query: q.query,
    answers: [{ type: TYPE_A, ttl: 30, address: "10.1.2.3" }, {
      type: TYPE_A,
      ttl: 30,
      address: "10.1.2.4",
    }],
    authoritative: true,
  }));
  assert.equal(r.id, 42);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.ok(r.aa && r.rd && r.ra && !r.tc);
  assert.equal(r.question?.name, "Reviews.default"); // byte for byte (0x20 case)
  assert.deepEqual(r.answers.map((a) => [a.name, a.type, a.ttl, a.address]), [
    ["Reviews.default", TYPE_A, 30, "10.1.2.3"],
    ["Reviews.default", TYPE_A, 30, "10.1.2.4"],
  ]);
  const six = response(buildResponse({
    query: { id: 1, question: { name: "x.y", type: TYPE_AAAA, class: 1 } },
    answers: [{ type: TYPE_AAAA, ttl: 5, address: "fd00::1" }],
  }));
  assert.equal(six.answers[0].address, "fd00::1");
  assert.equal(six.rd, false);
});

Deno.test("buildResponse: NXDOMAIN, NOERROR-empty, SERVFAIL, REFUSED; OPT echoed with EDNS", () => {
  const q = parseQuery(buildQuery({ id: 5, name: "a.b", type: TYPE_A, ednsUdpSize: 1232 }));
  assert.ok(q.ok);
  for (const rcode of [RCODE.NXDOMAIN, RCODE.NOERROR, RCODE.SERVFAIL, RCODE.REFUSED]) {
    const r = response(buildResponse({ query: q.query, rcode }));
    assert.equal(r.rcode, rcode);
    assert.equal(r.id, 5);
    assert.equal(r.answers.length, 0);
    assert.equal(r.question?.name, "a.b");
    assert.equal(r.additional, 1); // the OPT record
  }
});

Deno.test("IPv6 text and bytes", () => {
  assert.equal(formatIpv6(ipv6Bytes("2001:db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6(ipv6Bytes("::")!), "::");
  assert.equal(formatIpv6(ipv6Bytes("::ffff:10.0.0.1")!), "::ffff:a00:1");
  assert.equal(formatIpv6(ipv6Bytes("1:2:3:4:5:6:7:8")!), "1:2:3:4:5:6:7:8");
  assert.equal(formatIpv6(ipv6Bytes("fe80::")!), "fe80::");
  for (
    const bad of ["1::2::3", "1:2:3", "12345::", "g::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8"]
  ) {
    assert.equal(ipv6Bytes(bad), undefined, bad);
  }
});

Deno.test("id helpers, truncation and TCP framing", () => {
  const q = buildQuery({ id: 0x1234, name: "a.b", type: TYPE_A });
  assert.equal(readId(q), 0x1234);
  const patched = withId(q, 0xabcd);
  assert.equal(readId(patched), 0xabcd);
  assert.equal(readId(q), 0x1234); // a copy
  assert.equal(readId(new Uint8Array(1)), undefined);

  const parsed = parseQuery(q);
  assert.ok(parsed.ok);
  const answers = Array.from({ length: 40 }, (_, i) => ({
    type: TYPE_A,
    ttl: 30,
    address: `10.0.0.${i}`,
  }));
  const big = buildResponse({ query: parsed.query, answers });
  assert.ok(big.length > 512);
  assert.equal(truncate(big, 65535), big);
  const cut = response(truncate(big, 512));
  assert.ok(cut.tc);
  assert.equal(cut.id, 0x1234);
  assert.equal(cut.answers.length, 0);
  assert.equal(cut.question?.name, "a.b");

  const two = new Uint8Array([...frame(q), ...frame(big)]);
  const { messages, rest } = splitFrames(two.subarray(0, two.length - 3));
  assert.equal(messages.length, 1);
  assert.deepEqual(messages[0], q);
  assert.equal(rest.length, big.length - 1);
  const all = splitFrames(two);
  assert.deepEqual(all.messages, [q, big]);
  assert.equal(all.rest.length, 0);
  assert.throws(() => frame(new Uint8Array(70000)), RangeError);
});

Deno.test("encodeName refuses what can't be a name", () => {
  assert.deepEqual(encodeName("."), new Uint8Array([0]));
  assert.deepEqual(encodeName("a."), new Uint8Array([1, 0x61, 0]));
  assert.throws(() => encodeName("a..b"), RangeError);
  assert.throws(() => encodeName("x".repeat(64)), RangeError);
  assert.throws(() => encodeName(Array(5).fill("x".repeat(63)).join(".")), RangeError);
});
