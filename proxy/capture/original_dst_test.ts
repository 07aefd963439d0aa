import assert from "node:assert/strict";
import net from "node:net";
import { netnsTest, netnsUnavailable } from "../../tests/netns.ts";
import {
  lookupStats,
  originalDestination,
  originalDstUnavailable,
  parseSockaddr,
} from "./original_dst.ts";

const sockaddr4 = (a: number[], port: number) =>
  new Uint8Array([2, 0, port >> 8, port & 255, ...a, 0, 0, 0, 0, 0, 0, 0, 0]);

Deno.test("sockaddr_in and sockaddr_in6 parse to node's address texts", () => {
  assert.deepEqual(parseSockaddr(sockaddr4([10, 96, 0, 12], 9080)), {
    address: "10.96.0.12",
    port: 9080,
  });
  const v6 = new Uint8Array(28);
  v6.set([10, 0, 0x23, 0x82]); // AF_INET6, port 9090
  v6.set([0x20, 0x01, 0x0d, 0xb8], 8);
  v6[23] = 1;
  assert.deepEqual(parseSockaddr(v6), { address: "2001:db8::1", port: 9090 });
  const mapped = new Uint8Array(28);
  mapped.set([10, 0, 0, 80]);
  mapped.set([0xff, 0xff, 10, 1, 2, 3], 18);
  assert.deepEqual(parseSockaddr(mapped), { address: "10.1.2.3", port: 80 });
  assert.equal(parseSockaddr(new Uint8Array(16)), undefined); // AF_UNSPEC
});

/** A listener whose connections report what `originalDestination` says of them. */
async function listen(port = 0, host = "0.0.0.0") {
  const seen: Array<{ address: string; port: number } | undefined> = [];
  const waiters: Array<() => void> = [];
  const server = net.createServer((s) => {
    const dst = originalDestination({
      peer: { address: s.remoteAddress!, port: s.remotePort! },
      localPort: s.localPort!,
    });
    seen.push(dst && { address: dst.address, port: dst.port });
    s.on("error", () => {});
    s.end("ok");
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    next: () => new Promise<void>((r) => waiters.push(r)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function connect(host: string, port: number): Promise<void> {
  const c = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    c.on("error", reject);
    c.on("close", () => resolve());
    c.resume();
  });
}

Deno.test("a connection made to the port itself isn't mistaken for a redirected one", async () => {
  assert.equal(originalDstUnavailable(), undefined);
  const l = await listen(0, "127.0.0.1");
  const got = l.next();
  await connect("127.0.0.1", l.port);
  await got;
  const dst = l.seen[0];
  // No conntrack entry (undefined), or the very address and port it was accepted on.
  if (dst) assert.deepEqual(dst, { address: "127.0.0.1", port: l.port });
  await l.close();
});

const why = await netnsUnavailable();
const iptables = await new Deno.Command("iptables", {
  args: ["-V"],
  stdout: "null",
  stderr: "null",
})
  .output().then((r) => r.success, () => false);
if (why || !iptables) {
  console.log(
    `skipping the REDIRECT test: ${why ?? "iptables is missing (apt-get install iptables)"}`,
  );
}

netnsTest({
  name: "a REDIRECTed connection's original destination is read back, among many open sockets",
  addresses: ["10.233.5.1"],
  ignore: why !== undefined || !iptables,
  file: import.meta.url,
}, async () => {
  const sh = async (cmd: string) => {
    const r = await new Deno.Command("sh", { args: ["-c", cmd], stderr: "piped" }).output();
    if (!r.success) throw new Error(`${cmd}: ${new TextDecoder().decode(r.stderr)}`);
  };
  // A route for the service addresses (nothing answers there: the redirect does).
  await sh("ip route add 10.96.0.0/16 dev lo");
  const l = await listen(15001);
  await sh(
    "iptables -t nat -A OUTPUT -p tcp -d 10.96.0.0/16 -j REDIRECT --to-ports 15001",
  );
  // Other sockets open in the process, so the descriptor is looked for among them.
  const extra = await listen(0, "127.0.0.1");
  const held: net.Socket[] = [];
  for (let i = 0; i < 200; i++) {
    const c = net.connect(extra.port, "127.0.0.1");
    c.on("error", () => {});
    held.push(c);
  }
  await Promise.all(held.map((c) => new Promise((r) => c.once("connect", r))));
  const targets = [["10.96.0.12", 9080], ["10.96.3.4", 80], ["10.96.0.12", 15443]] as const;
  for (const [host, port] of targets) {
    const got = l.next();
    await connect(host, port);
    await got;
  }
  assert.deepEqual(l.seen, targets.map(([address, port]) => ({ address, port })));
  // What a found lookup costs (for docs/capture.md): 100 more, one at a time.
  const before = { ...lookupStats };
  const t1 = performance.now();
  for (let i = 0; i < 100; i++) {
    const got = l.next();
    await connect("10.96.7.7", 8000 + i);
    await got;
  }
  const spent = (performance.now() - t1) / 100;
  const walked = (lookupStats.walked - before.walked) / (lookupStats.lookups - before.lookups);
  console.log(
    `found lookups: ${walked.toFixed(1)} descriptors walked on average; ` +
      `${spent.toFixed(2)} ms per connection in all (connect, accept, lookup, close)`,
  );
  assert.equal(l.seen.length, targets.length + 100);
  // What a lookup costs with this many descriptors open (for docs/capture.md).
  const probe = net.connect(15001, "10.96.0.99");
  probe.on("error", () => {});
  await new Promise((r) => probe.once("connect", r));
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    originalDestination({ peer: { address: "10.233.5.1", port: 1 }, localPort: 15001 });
  }
  const perLookup = ((performance.now() - t0) / n) * 1000;
  const fds = [...Deno.readDirSync("/proc/self/fd")].length;
  console.log(
    `original destination lookup, no match (every descriptor), ${fds} fds: ` +
      `${perLookup.toFixed(1)} µs`,
  );
  probe.destroy();
  for (const c of held) c.destroy();
  await extra.close();
  await l.close();
});
