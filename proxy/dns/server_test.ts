import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { freePort } from "../../util/free_port.ts";
import { buildNameTable, type NameTable } from "./names.ts";
import { parseResolvConf, parseUpstream, startDnsServer } from "./server.ts";
import {
  buildQuery,
  buildResponse,
  frame,
  parseQuery,
  parseResponse,
  type Query,
  RCODE,
  type Response,
  splitFrames,
  TYPE_A,
  TYPE_AAAA,
} from "./wire.ts";

const HOST = "127.0.0.1";

const meshTable = buildNameTable({
  namespace: "default",
  hosts: [
    { hostname: "reviews.default.svc.cluster.local", addresses: ["10.0.0.7", "fd00::7"] },
    { hostname: "ratings.default.svc.cluster.local", addresses: ["10.0.0.8"] },
    {
      hostname: "big.example.com",
      addresses: Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1}`),
    },
  ],
});

function response(buf: Uint8Array): Response {
  const r = parseResponse(buf);
  if ("error" in r) throw new Error(r.error);
  return r;
}

/** A query seen by a fake upstream. */
interface Seen {
  query: Query;
  tcp: boolean;
}

/**
 * A tiny DNS server on 127.0.0.1 (UDP and TCP, one port): `answer` returns the reply to a
 * query, or undefined to stay silent.
 */
async function fakeUpstream(
  answer: (q: Query, tcp: boolean) => Uint8Array | undefined,
): Promise<{ addr: string; seen: Seen[]; next(): Promise<Seen>; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const waiters: ((s: Seen) => void)[] = [];
  const got = (query: Query, tcp: boolean) => {
    const s = { query, tcp };
    seen.push(s);
    waiters.shift()?.(s);
    return answer(query, tcp);
  };
  for (;;) {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((r) => udp.bind(0, HOST, () => r()));
    const port = udp.address().port;
    const tcp = net.createServer((sock) => {
      let buf = new Uint8Array(0);
      sock.on("error", () => {});
      sock.on("data", (d: Uint8Array) => {
        buf = new Uint8Array([...buf, ...d]);
        const { messages, rest } = splitFrames(buf);
        buf = new Uint8Array(rest);
        for (const m of messages) {
          const p = parseQuery(m);
          const reply = p.ok ? got(p.query, true) : undefined;
          if (reply) sock.write(frame(reply));
        }
      });
    });
    const ok = await new Promise<boolean>((r) => {
      tcp.once("error", () => r(false));
      tcp.listen(port, HOST, () => r(true));
    });
    if (!ok) {
      udp.close();
      continue;
    }
    udp.on("message", (m: Uint8Array, rinfo) => {
      const p = parseQuery(new Uint8Array(m));
      const reply = p.ok ? got(p.query, false) : undefined;
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    return {
      addr: `${HOST}:${port}`,
      seen,
      next: () => new Promise((r) => waiters.push(r)),
      close: () =>
        Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => tcp.close(() => r())),
        ]).then(() => {}),
    };
  }
}

/** An upstream answering every A query with `address` (and `count` of them). */
function answering(address: string, count = 1) {
  return (query: Query) =>
    buildResponse({
      query,
      answers: Array.from({ length: count }, () => ({ type: TYPE_A, ttl: 60, address })),
    });
}

/** A UDP client: `ask` sends a message and resolves with the next datagram received. */
async function udpClient(port: number) {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  const queue: Uint8Array[] = [];
  const waiters: ((m: Uint8Array) => void)[] = [];
  sock.on("message", (m: Uint8Array) => {
    const w = waiters.shift();
    if (w) w(new Uint8Array(m));
    else queue.push(new Uint8Array(m));
  });
  const recv = () =>
    queue.length
      ? Promise.resolve(queue.shift()!)
      : new Promise<Uint8Array>((r) => waiters.push(r));
  return {
    send: (m: Uint8Array) => sock.send(m, port, HOST),
    recv,
    ask(m: Uint8Array): Promise<Response> {
      sock.send(m, port, HOST);
      return recv().then(response);
    },
    close: () => sock.close(),
  };
}

/** A TCP client sending framed messages and reading framed replies. */
async function tcpClient(port: number) {
  const sock = net.connect({ host: HOST, port });
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  let buf = new Uint8Array(0);
  const queue: Uint8Array[] = [];
  const waiters: ((m: Uint8Array) => void)[] = [];
  const closed = new Promise<void>((r) => sock.on("close", () => r()));
  sock.on("error", () => {});
  sock.on("data", (d: Uint8Array) => {
    buf = new Uint8Array([...buf, ...d]);
    const { messages, rest } = splitFrames(buf);
    buf = new Uint8Array(rest);
    for (const m of messages) {
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    }
  });
  const recv = () =>
    queue.length
      ? Promise.resolve(queue.shift()!)
      : new Promise<Uint8Array>((r) => waiters.push(r));
  return {
    sock,
    closed,
    write: (bytes: Uint8Array) => sock.write(bytes),
    recv: () => recv().then(response),
    ask(m: Uint8Array): Promise<Response> {
      sock.write(frame(m));
      return recv().then(response);
    },
    close: () => sock.destroy(),
  };
}

const q = (id: number, name: string, type = TYPE_A, ednsUdpSize?: number) =>
  buildQuery({ id, name, type, ednsUdpSize });

Deno.test("dns server: table answers A, AAAA, NOERROR-empty and NXDOMAIN without forwarding", async () => {
  const up = await fakeUpstream(answering("192.0.2.99"));
  let table: NameTable = meshTable;
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => table,
    upstreams: [up.addr],
  });
  const c = await udpClient(dns.port);
  try {
    const a = await c.ask(q(1, "reviews.default.svc.cluster.local"));
    assert.equal(a.id, 1);
    assert.equal(a.rcode, RCODE.NOERROR);
    assert.ok(a.aa && a.ra && a.rd);
    assert.deepEqual(a.answers.map((r) => [r.address, r.ttl]), [["10.0.0.7", 30]]);
    const six = await c.ask(q(2, "Reviews", TYPE_AAAA));
    assert.deepEqual(six.answers.map((r) => r.address), ["fd00::7"]);
    assert.equal(six.question?.name, "Reviews");
    const empty = await c.ask(q(3, "ratings.default", TYPE_AAAA));
    assert.equal(empty.rcode, RCODE.NOERROR);
    assert.equal(empty.answers.length, 0);
    const nx = await c.ask(q(4, "reviews.default.svc.cluster.local.default.svc.cluster.local"));
    assert.equal(nx.rcode, RCODE.NXDOMAIN);
    assert.equal(nx.id, 4);
    // EDNS in, OPT out.
    const e = await c.ask(q(5, "reviews", TYPE_A, 1232));
    assert.equal(e.additional, 1);
    // A new table applies to the next query.
    table = buildNameTable({
      namespace: "default",
      hosts: [{ hostname: "reviews.default.svc.cluster.local", addresses: ["10.0.0.70"] }],
    });
    const after = await c.ask(q(6, "reviews"));
    assert.deepEqual(after.answers.map((r) => r.address), ["10.0.0.70"]);
    assert.equal(up.seen.length, 0);
    assert.deepEqual({ ...dns.stats }, { answered: 6, forwarded: 0, failed: 0 });
  } finally {
    c.close();
    await dns.close();
    await up.close();
  }
});

Deno.test("dns server: other names are forwarded with a fresh id, the client's restored", async () => {
  const up = await fakeUpstream(answering("93.184.216.34"));
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [up.addr],
  });
  const c = await udpClient(dns.port);
  try {
    const ids = [0x1111, 0x1111, 0x2222];
    const answers = [];
    for (const id of ids) answers.push(await c.ask(q(id, "www.example.org")));
    for (const [i, a] of answers.entries()) {
      assert.equal(a.id, ids[i]);
      assert.equal(a.rcode, RCODE.NOERROR);
      assert.deepEqual(a.answers.map((r) => r.address), ["93.184.216.34"]);
    }
    assert.equal(up.seen.length, 3);
    assert.ok(up.seen.every((s) => !s.tcp && s.query.question.name === "www.example.org"));
    // Not the client's ids passed through: two equal client ids went out as different ones
    // (a 1/65536 chance of a false failure).
    assert.notEqual(up.seen[0].query.id, up.seen[1].query.id);
    assert.equal(dns.stats.forwarded, 3);
  } finally {
    c.close();
    await dns.close();
    await up.close();
  }
});

Deno.test("dns server: fails over to the next upstream on timeout; SERVFAIL when all fail", async () => {
  const silent = await fakeUpstream(() => undefined);
  const good = await fakeUpstream(answering("198.51.100.1"));
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [silent.addr, good.addr],
    timeoutMs: 100,
  });
  const dead = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [silent.addr, silent.addr],
    timeoutMs: 50,
  });
  const c = await udpClient(dns.port);
  const d = await udpClient(dead.port);
  try {
    const a = await c.ask(q(7, "failover.example"));
    assert.deepEqual(a.answers.map((r) => r.address), ["198.51.100.1"]);
    assert.equal(silent.seen.length, 1);
    assert.equal(good.seen.length, 1);
    const f = await d.ask(q(8, "failover.example"));
    assert.equal(f.rcode, RCODE.SERVFAIL);
    assert.equal(f.id, 8);
    assert.equal(f.question?.name, "failover.example");
    assert.equal(silent.seen.length, 3);
    assert.deepEqual({ ...dead.stats }, { answered: 0, forwarded: 0, failed: 1 });
  } finally {
    c.close();
    d.close();
    await Promise.all([dns.close(), dead.close(), silent.close(), good.close()]);
  }
});

Deno.test("dns server: no upstream at all answers SERVFAIL; upstreams from resolv.conf, itself skipped", async () => {
  const up = await fakeUpstream(answering("203.0.113.5"));
  const port = freePort();
  const conf = await Deno.makeTempFile({ suffix: ".conf" });
  await Deno.writeTextFile(
    conf,
    `# comment\nsearch default.svc.cluster.local\nnameserver ${HOST}\noptions ndots:5\n`,
  );
  const none = await startDnsServer({ host: HOST, port: 0, table: () => meshTable, upstreams: [] });
  const self = await startDnsServer({
    host: HOST,
    port,
    table: () => meshTable,
    upstreams: [`${HOST}:${port}`, "not an address", up.addr],
  });
  const fromFile = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    resolvConf: conf,
  });
  const c = await udpClient(none.port);
  const s = await udpClient(self.port);
  try {
    assert.equal((await c.ask(q(1, "example.org"))).rcode, RCODE.SERVFAIL);
    assert.deepEqual(self.upstreams, [up.addr]);
    assert.deepEqual((await s.ask(q(2, "example.org"))).answers.map((r) => r.address), [
      "203.0.113.5",
    ]);
    assert.deepEqual(fromFile.upstreams, [HOST]);
  } finally {
    c.close();
    s.close();
    await Promise.all([none.close(), self.close(), fromFile.close(), up.close()]);
    await Deno.remove(conf);
  }
});

Deno.test("parseResolvConf and parseUpstream", () => {
  assert.deepEqual(
    parseResolvConf(
      "nameserver 10.0.0.10\n  nameserver ::1\nnameserver bogus\n#nameserver 1.1.1.1\nnameserver fe80::1%eth0\n",
    ),
    ["10.0.0.10", "::1", "fe80::1%eth0"],
  );
  assert.deepEqual(parseUpstream("10.0.0.10"), { host: "10.0.0.10", port: 53 });
  assert.deepEqual(parseUpstream("10.0.0.10:5353"), { host: "10.0.0.10", port: 5353 });
  assert.deepEqual(parseUpstream("::1"), { host: "::1", port: 53 });
  assert.deepEqual(parseUpstream("[::1]:5353"), { host: "::1", port: 5353 });
  for (const bad of ["dns.google", "1.2.3.4:0", "1.2.3.4:99999", "[::1]:x", ""]) {
    assert.equal(parseUpstream(bad), undefined, bad);
  }
});

Deno.test("dns server: TCP answers from the table and forwards over TCP, pipelined", async () => {
  const up = await fakeUpstream(answering("192.0.2.77"));
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [up.addr],
  });
  const c = await tcpClient(dns.port);
  try {
    const a = await c.ask(q(10, "ratings"));
    assert.deepEqual(a.answers.map((r) => r.address), ["10.0.0.8"]);
    const f = await c.ask(q(11, "www.example.net"));
    assert.equal(f.id, 11);
    assert.deepEqual(f.answers.map((r) => r.address), ["192.0.2.77"]);
    assert.equal(up.seen.length, 1);
    assert.equal(up.seen[0].tcp, true);
    // Two queries in one write, the second split across writes: both answered.
    const two = new Uint8Array([...frame(q(12, "reviews")), ...frame(q(13, "other.example"))]);
    c.write(two.subarray(0, two.length - 5));
    c.write(two.subarray(two.length - 5));
    const ids = [(await c.recv()).id, (await c.recv()).id].sort();
    assert.deepEqual(ids, [12, 13]);
  } finally {
    c.close();
    await dns.close();
    await up.close();
  }
});

Deno.test("dns server: UDP answers over 512 bytes (or the EDNS size) set TC; TCP has them all", async () => {
  const up = await fakeUpstream(answering("192.0.2.1", 40));
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [up.addr],
  });
  const c = await udpClient(dns.port);
  const t = await tcpClient(dns.port);
  try {
    const local = await c.ask(q(20, "big.example.com"));
    assert.ok(local.tc);
    assert.equal(local.answers.length, 0);
    assert.equal(local.question?.name, "big.example.com");
    const localEdns = await c.ask(q(21, "big.example.com", TYPE_A, 4096));
    assert.ok(!localEdns.tc);
    assert.equal(localEdns.answers.length, 40);
    const overTcp = await t.ask(q(22, "big.example.com"));
    assert.ok(!overTcp.tc);
    assert.equal(overTcp.answers.length, 40);

    const fwd = await c.ask(q(23, "many.example.org"));
    assert.ok(fwd.tc);
    assert.equal(fwd.id, 23);
    const fwdEdns = await c.ask(q(24, "many.example.org", TYPE_A, 4096));
    assert.ok(!fwdEdns.tc);
    assert.equal(fwdEdns.answers.length, 40);
    const fwdTcp = await t.ask(q(25, "many.example.org"));
    assert.equal(fwdTcp.answers.length, 40);
  } finally {
    c.close();
    t.close();
    await dns.close();
    await up.close();
  }
});

Deno.test("dns server: malformed packets get FORMERR or are dropped; the server keeps serving", async () => {
  const dns = await startDnsServer({ host: HOST, port: 0, table: () => meshTable, upstreams: [] });
  const c = await udpClient(dns.port);
  const t = await tcpClient(dns.port);
  try {
    // Dropped: too short for an id, a response, an empty datagram. The next answer is 31's.
    c.send(new Uint8Array([1, 2, 3]));
    c.send(buildResponse({ query: { id: 99 } }));
    c.send(new Uint8Array(0));
    assert.equal((await c.ask(q(31, "reviews"))).id, 31);
    // FORMERR with the id: two questions, a pointer loop.
    const two = q(32, "reviews");
    two[5] = 2;
    const formerr = await c.ask(two);
    assert.equal(formerr.id, 32);
    assert.equal(formerr.rcode, RCODE.FORMERR);
    const loop = new Uint8Array([0, 33, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    assert.equal((await c.ask(loop)).rcode, RCODE.FORMERR);
    // Garbage by the hundred (in rounds, not to overflow a socket buffer), each round followed
    // by a good query, still answered.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) {
        c.send(crypto.getRandomValues(new Uint8Array(1 + (i * 7) % 300)));
      }
      const id = 1000 + round;
      c.send(q(id, "reviews"));
      for (;;) {
        const r = parseResponse(await c.recv());
        if ("error" in r || r.id !== id || r.rcode !== RCODE.NOERROR) continue;
        assert.deepEqual(r.answers.map((a) => a.address), ["10.0.0.7"]);
        break;
      }
    }
    // Over TCP: a short frame is dropped, a bad query answered FORMERR, the connection serves on.
    t.write(frame(new Uint8Array([7])));
    t.write(frame(two));
    assert.equal((await t.recv()).rcode, RCODE.FORMERR);
    assert.equal((await t.ask(q(35, "reviews"))).id, 35);
    assert.ok(dns.stats.failed >= 5);
  } finally {
    c.close();
    t.close();
    await dns.close();
  }
});

Deno.test("dns server: bounded in-flight forwards, TCP idle and unanswered-bytes limits", async () => {
  const silent = await fakeUpstream(() => undefined);
  const dns = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [silent.addr],
    timeoutMs: 60_000,
    maxInflight: 1,
    tcpIdleMs: 50,
  });
  const patient = await startDnsServer({
    host: HOST,
    port: 0,
    table: () => meshTable,
    upstreams: [],
    tcpIdleMs: 60_000,
    tcpMaxPendingBytes: 300,
  });
  const c = await udpClient(dns.port);
  try {
    const seen = silent.next();
    c.send(q(40, "slow.example"));
    await seen; // the first is in flight
    const second = await c.ask(q(41, "slow2.example"));
    assert.equal(second.id, 41);
    assert.equal(second.rcode, RCODE.SERVFAIL);
    // Table answers aren't limited.
    assert.equal((await c.ask(q(42, "reviews"))).rcode, RCODE.NOERROR);

    // An idle TCP connection is closed.
    const idle = await tcpClient(dns.port);
    await idle.closed;
    // One sending more than 300 bytes nobody can answer is closed (long before it is idle).
    const flood = await tcpClient(patient.port);
    const small = await tcpClient(patient.port);
    flood.write(new Uint8Array([0x03, 0xe8])); // a 1000-byte message, never finished
    flood.write(new Uint8Array(400));
    await flood.closed;
    for (let id = 43; id < 53; id++) { // queries answered don't count: 10 x 41 bytes, kept open
      assert.equal((await small.ask(q(id, "reviews"))).id, id);
    }
    assert.ok(!small.sock.destroyed);
    small.close();
  } finally {
    c.close();
    await dns.close(); // abandons the query in flight without waiting its timeout
    await patient.close();
    await silent.close();
  }
});

const dig = (() => {
  try {
    return new Deno.Command("dig", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();
if (!dig) console.log("dns server dig test skipped: no dig (apt-get install -y dnsutils)");

Deno.test({
  name: "dns server: the real dig client, over UDP and TCP, mesh and forwarded names",
  ignore: !dig,
  async fn() {
    const up = await fakeUpstream(answering("192.0.2.200"));
    const dns = await startDnsServer({
      host: HOST,
      port: 0,
      table: () => meshTable,
      upstreams: [up.addr],
    });
    const run = async (...args: string[]) => {
      const out = await new Deno.Command("dig", {
        args: [`@${HOST}`, "-p", String(dns.port), "+tries=1", "+time=5", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    try {
      const full = await run("reviews.default.svc.cluster.local");
      assert.match(full, /status: NOERROR/);
      assert.match(full, /flags: qr aa rd ra/);
      assert.match(full, /reviews\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.0\.0\.7/);
      assert.equal((await run("+short", "reviews.default.svc.cluster.local")).trim(), "10.0.0.7");
      assert.equal((await run("+short", "+tcp", "reviews", "AAAA")).trim(), "fd00::7");
      assert.match(await run("x.default.svc.cluster.local.default.svc.cluster.local"), /NXDOMAIN/);
      assert.equal((await run("+short", "www.example.org")).trim(), "192.0.2.200");
      // dig retries the truncated answer over TCP by itself.
      const big = await run("+noedns", "big.example.com");
      assert.match(big, /Truncated, retrying in TCP mode/);
      assert.match(big, /ANSWER: 40/);
    } finally {
      await dns.close();
      await up.close();
    }
  },
});
