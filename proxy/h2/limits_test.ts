/** The defences: rapid reset, floods of PING, SETTINGS, empty frames and CONTINUATION, and control frames owed. */
import assert from "node:assert/strict";
import { FakeClock } from "../../util/clock.ts";
import { H2_ERROR } from "./errors.ts";
import { RateCounter } from "./limits.ts";
import type { H2Stream } from "./stream.ts";
import { get, h2Listen, h2Pair, RawPeer } from "./testing.ts";

Deno.test("limits: the rate counter counts in fixed windows", () => {
  const clock = new FakeClock();
  const c = new RateCounter({ clock, windowMs: 1000, max: 2 });
  assert.deepEqual([c.hit(), c.hit(), c.hit()], [false, false, true]);
  clock.tick(1000);
  assert.deepEqual([c.hit(), c.hit(), c.hit()], [false, false, true]);
});

Deno.test("limits: a rapid-reset attack of 10,000 streams ends in GOAWAY ENHANCE_YOUR_CALM, bounded", async () => {
  let opened = 0;
  let maxActive = 0;
  const p = await h2Pair({
    onStream: (s: H2Stream) => {
      opened++;
      maxActive = Math.max(maxActive, p.servers[0].activeStreams);
      s.closed.then(() => {}); // the handler would start work here
    },
    server: { limits: { maxResets: 500 } },
  });
  const heap0 = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 10_000; i++) p.client.request(get(`/${i}`), { endStream: true }).reset();
  const reason = await p.client.closed;
  assert.equal(reason.code, H2_ERROR.ENHANCE_YOUR_CALM);
  assert.equal(reason.by, "peer");
  const server = await p.server;
  const sr = await server.closed;
  assert.equal(sr.code, H2_ERROR.ENHANCE_YOUR_CALM);
  assert.match(String(sr.error), /rapid reset/);
  // The server saw a bounded number of streams, and held few at a time.
  assert.ok(opened <= 501 + 100, `opened ${opened}`);
  assert.ok(maxActive <= 100, `active ${maxActive}`);
  assert.equal(server.activeStreams, 0);
  const grew = Deno.memoryUsage().heapUsed - heap0;
  assert.ok(grew < 64 * 1024 * 1024, `heap grew ${grew}`);
  await p.close();
});

async function flood(
  limits: Record<string, number>,
  attack: (peer: RawPeer) => void,
): Promise<{ code: number; debug: string }> {
  const l = await h2Listen({ server: { limits }, onStream: () => {} });
  const peer = new RawPeer(l.port).start();
  attack(peer);
  const g = await peer.goaway();
  await peer.close();
  await l.close();
  return { code: g.code, debug: new TextDecoder().decode(g.debug) };
}

Deno.test("limits: PING, SETTINGS, empty DATA, PRIORITY and CONTINUATION floods are ENHANCE_YOUR_CALM", async () => {
  const E = H2_ERROR.ENHANCE_YOUR_CALM;
  const ping = await flood({ maxPings: 100 }, (p) => {
    for (let i = 0; i < 200; i++) p.send({ type: "PING", ack: false, data: new Uint8Array(8) });
  });
  assert.deepEqual([ping.code, /PING/.test(ping.debug)], [E, true]);
  const settings = await flood({ maxSettings: 20 }, (p) => {
    for (let i = 0; i < 50; i++) p.send({ type: "SETTINGS", ack: false, settings: [] });
  });
  assert.deepEqual([settings.code, /SETTINGS/.test(settings.debug)], [E, true]);
  const empty = await flood({ maxEmptyFrames: 100 }, (p) => {
    p.headers(1, get("/", "POST"), false);
    for (let i = 0; i < 200; i++) {
      p.send({ type: "DATA", streamId: 1, endStream: false, data: new Uint8Array(0) });
    }
  });
  assert.deepEqual([empty.code, /empty DATA/.test(empty.debug)], [E, true]);
  const prio = await flood({ maxEmptyFrames: 100 }, (p) => {
    for (let i = 0; i < 200; i++) {
      p.send({
        type: "PRIORITY",
        streamId: 2 * i + 1,
        priority: { exclusive: false, dependency: 0, weight: 16 },
      });
    }
  });
  assert.equal(prio.code, E);
  const cont = await flood({ maxContinuations: 10 }, (p) => {
    p.send({
      type: "HEADERS",
      streamId: 1,
      endStream: true,
      endHeaders: false,
      block: new Uint8Array(0),
    });
    for (let i = 0; i < 50; i++) {
      p.send({ type: "CONTINUATION", streamId: 1, endHeaders: false, block: new Uint8Array(0) });
    }
  });
  assert.equal(cont.code, E);
  const resets = await flood({ maxResets: 50 }, (p) => {
    // Requests we must refuse (malformed): counted like resets.
    for (let i = 0; i < 100; i++) p.headers(2 * i + 1, [...get("/"), ["connection", "close"]]);
  });
  assert.equal(resets.code, E);
});

Deno.test("limits: a peer that doesn't read can't make us queue control frames without bound", async () => {
  const l = await h2Listen({
    server: { limits: { maxPings: 1e9, maxOutboundControl: 200 } },
    onStream: () => {},
  });
  const server = l.first;
  const peer = new RawPeer(l.port).start();
  await peer.waitFor((f) => f.type === "SETTINGS" && f.ack);
  peer.socket.pause(); // reads nothing more
  const ping = new Uint8Array(17);
  ping.set([0, 0, 8, 6, 0, 0, 0, 0, 0]);
  const burst = new Uint8Array(17 * 10_000);
  for (let i = 0; i < 10_000; i++) burst.set(ping, i * 17);
  // Enough PINGs that the ACKs overflow the socket buffers; bounded at 60 bursts (10 MB of ACKs).
  let reason;
  for (let i = 0; i < 60 && !reason; i++) {
    peer.write(burst);
    reason = await Promise.race([
      (await server).closed,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 0)),
    ]);
  }
  reason ??= await (await server).closed;
  assert.equal(reason.code, H2_ERROR.ENHANCE_YOUR_CALM);
  assert.match(String(reason.error), /control frames/);
  await peer.close();
  await l.close();
});

Deno.test("limits: PINGs that follow our DATA (gRPC's bandwidth probes) aren't a flood", async () => {
  const l = await h2Listen({
    server: { limits: { maxPings: 10 } },
    onStream: async (s) => {
      s.respond([[":status", "200"]]);
      for await (const chunk of s.body) await s.write(chunk); // echo, ping-pong style
      await s.end();
    },
  });
  const peer = new RawPeer(l.port).start();
  peer.headers(1, get("/", "POST"), false);
  const echoes = () => peer.frames.filter((f) => f.type === "DATA" && f.streamId === 1).length;
  // 50 round trips, each echo answered with a PING (as gRPC's BDP estimator does), against a
  // limit of 10 PINGs: none is a flood, since our DATA came before each.
  for (let i = 0; i < 50; i++) {
    peer.send({ type: "DATA", streamId: 1, endStream: false, data: new Uint8Array([i]) });
    await peer.waitFor(() => echoes() > i || peer.frames.some((f) => f.type === "GOAWAY"));
    assert.ok(!peer.frames.some((f) => f.type === "GOAWAY"), `GOAWAY after ${i} round trips`);
    peer.send({ type: "PING", ack: false, data: new Uint8Array(8) });
  }
  // Idle PINGs over the limit are still a flood.
  for (let i = 0; i < 20; i++) peer.send({ type: "PING", ack: false, data: new Uint8Array(8) });
  const g = await peer.goaway();
  assert.equal(g.code, H2_ERROR.ENHANCE_YOUR_CALM);
  await peer.close();
  await l.close();
});
