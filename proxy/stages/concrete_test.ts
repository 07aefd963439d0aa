/**
 * The concrete stage in process: a fake upstream (FakeEndpoints) and a fake clock, so route
 * timeouts, per-try timeouts, retries with backoff, circuit breaking, outlier ejection,
 * consistent hashing and mirroring are exercised without sockets or waiting.
 */
import assert from "node:assert/strict";
import type { Cluster, Endpoint, Route } from "../../api/proxy_config.ts";
import { Balancer } from "../balancer.ts";
import { type ConcreteRequest, ConcreteStage, effectiveTimeout } from "./concrete.ts";
import { ClusterStates } from "./clusters.ts";
import { FakeClock } from "../../util/clock.ts";
import { FakeEndpoints, hang, refused, reply, reset, streaming } from "./fake_endpoints.ts";

const ep = (i: number): Endpoint => ({ address: `10.0.0.${i}`, port: 80, mtls: false, labels: {} });

function cluster(over: Partial<Cluster> = {}): Cluster {
  return {
    name: "outbound|80||svc",
    host: "svc.default.svc.cluster.local",
    port: 80,
    lb: "ROUND_ROBIN",
    endpoints: [ep(1), ep(2)],
    ...over,
  };
}

function setup(c: Cluster, up = new FakeEndpoints()) {
  const clock = new FakeClock();
  const clusters = new ClusterStates({ now: () => clock.now() });
  const lb = new Balancer(c);
  const balancers = new Map([[c.name, lb]]);
  const stage = new ConcreteStage({
    endpoints: up,
    clusters,
    clock,
    random: () => 0.5,
    balancer: (n) => balancers.get(n),
  });
  const req = (
    route: Partial<Route> = {},
    more: Partial<ConcreteRequest> = {},
  ): ConcreteRequest => ({
    lb,
    route: { source: "t", match: [], destinations: [], ...route },
    method: "GET",
    path: "/",
    headers: [["host", "svc"]],
    body: null,
    ...more,
  });
  return { clock, clusters, lb, stage, up, req, balancers };
}

/** Settles `p` while moving the fake clock on, `step` ms at a time. */
async function run<T>(clock: FakeClock, p: Promise<T>, step = 1, max = 10_000): Promise<T> {
  let done = false;
  p.then(() => done = true, () => done = true);
  for (let t = 0; !done && t < max; t += step) await clock.advance(step);
  return p;
}

Deno.test("concrete: the route timeout answers 504 UT when the upstream doesn't answer in time", async () => {
  const up = new FakeEndpoints((_r, _t, signal) => hang(signal));
  const { stage, req, clock } = setup(cluster(), up);
  let settled = false;
  const out = stage.send(req({ timeoutMs: 100 })).finally(() => settled = true);
  await clock.advance(99);
  assert.equal(settled, false, "still waiting at 99 ms");
  await clock.advance(1);
  const r = await out;
  assert.deepEqual(r.ok ? undefined : r.failure, { kind: "timeout" });
  assert.equal(up.sent.length, 1);
});

Deno.test("concrete: retries 5xx with jittered backoff on another endpoint, then answers", async () => {
  let n = 0;
  const up = new FakeEndpoints(() => ++n < 3 ? reply(503, "busy") : reply(200, "ok"));
  const { stage, req, clock } = setup(cluster(), up);
  const out = stage.send(req({ retries: { attempts: 2, retryOn: ["5xx"], backoffMs: 100 } }));
  await clock.advance(0);
  assert.equal(up.sent.length, 1);
  // Backoff 1: random 0.5 × 100 ms = 50 ms; backoff 2: 0.5 × 200 ms = 100 ms.
  await clock.advance(49);
  assert.equal(up.sent.length, 1, "no retry before the backoff");
  await clock.advance(1);
  assert.equal(up.sent.length, 2);
  assert.notEqual(up.sent[1].target.endpoint, up.sent[0].target.endpoint, "another endpoint");
  await clock.advance(100);
  const r = await out;
  assert.ok(r.ok);
  assert.equal(r.res.status, 200);
  assert.equal(up.sent.length, 3);
});

Deno.test("concrete: out of retries, the last answer stands; a backoff past the deadline isn't waited", async () => {
  const up = new FakeEndpoints(() => reply(503, "busy"));
  const { stage, req, clock } = setup(cluster(), up);
  const r = await run(
    clock,
    stage.send(req({ timeoutMs: 60, retries: { attempts: 5, retryOn: ["5xx"], backoffMs: 100 } })),
  );
  assert.ok(r.ok);
  assert.equal(r.res.status, 503);
  // The first backoff (50 ms) fits in the 60 ms route timeout, the second (100 ms) doesn't.
  assert.equal(up.sent.length, 2);
  assert.equal(clock.now() < 60, true, "answered without waiting out a backoff that can't fit");
});

Deno.test("concrete: a per-try timeout is retried; connect failures are UF, resets UC", async () => {
  let n = 0;
  const up = new FakeEndpoints((_r, _t, signal) => n++ === 0 ? hang(signal) : reply(200));
  const { stage, req, clock } = setup(cluster(), up);
  const r = await run(
    clock,
    stage.send(req({ retries: { attempts: 1, retryOn: ["reset"], perTryTimeoutMs: 20 } })),
  );
  assert.ok(r.ok && r.res.status === 200);
  assert.equal(up.sent.length, 2);

  const failing = setup(cluster(), new FakeEndpoints(() => refused()));
  const uf = await failing.stage.send(failing.req());
  assert.equal(uf.ok ? "" : uf.failure.kind, "connect_failure");
  const resetting = setup(cluster(), new FakeEndpoints(() => reset()));
  const uc = await resetting.stage.send(resetting.req());
  assert.equal(uc.ok ? "" : uc.failure.kind, "reset");
});

Deno.test("concrete: a request body is replayed on a retry (buffered up to 64 KiB)", async () => {
  let n = 0;
  const up = new FakeEndpoints(() => n++ === 0 ? refused() : reply(200));
  const { stage, req, clock } = setup(cluster(), up);
  const body = new Response("payload").body!;
  const r = await run(
    clock,
    stage.send(req({ retries: { attempts: 1, retryOn: ["connect-failure"] } }, {
      method: "POST",
      body,
      length: 7,
    })),
  );
  assert.ok(r.ok);
  assert.deepEqual(up.sent.map((s) => new TextDecoder().decode(s.body!)), ["payload", "payload"]);
});

Deno.test("concrete: the circuit breaker overflows past maxConnections + maxPendingRequests (UO)", async () => {
  const gates: (() => void)[] = [];
  const up = new FakeEndpoints(() =>
    new Promise((resolve) => gates.push(() => resolve(reply(200))))
  );
  const { stage, req, clusters } = setup(
    cluster({ limits: { maxConnections: 1, maxPendingRequests: 1 } }),
    up,
  );
  const first = stage.send(req());
  const second = stage.send(req());
  const third = await stage.send(req());
  assert.deepEqual(third.ok ? undefined : third.failure, { kind: "overflow" });
  assert.deepEqual(clusters.breakers.usage("outbound|80||svc"), { active: 1, pending: 1 });
  await new Promise((r) => setTimeout(r, 0));
  gates.shift()!();
  assert.ok((await first).ok);
  await new Promise((r) => setTimeout(r, 0));
  gates.shift()!();
  assert.ok((await second).ok);
  assert.deepEqual(clusters.breakers.usage("outbound|80||svc"), { active: 0, pending: 0 });
});

Deno.test("concrete: a streamed body holds its breaker slot until it ends, and is cut at the deadline", async () => {
  const up = new FakeEndpoints(() => streaming(200, ["a"]));
  const { stage, req, clock, clusters } = setup(cluster({ limits: { maxConnections: 5 } }), up);
  const r = await stage.send(req({ timeoutMs: 1000 }));
  assert.ok(r.ok);
  assert.equal(clusters.breakers.usage("outbound|80||svc").active, 1, "held while streaming");
  const reader = r.res.body.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "a");
  const cut = assert.rejects(reader.read(), /upstream request timeout/);
  await clock.advance(1000);
  await cut;
  assert.equal(clusters.breakers.usage("outbound|80||svc").active, 0, "released at the cut");
});

Deno.test("concrete: outlier detection ejects an endpoint after consecutive 5xx; others take over", async () => {
  const up = new FakeEndpoints((_r, t) => reply(t.endpoint.address === "10.0.0.1" ? 500 : 200));
  const c = cluster({
    outlier: {
      consecutive5xx: 2,
      consecutiveGatewayErrors: 0,
      baseEjectionMs: 30_000,
      maxEjectionPercent: 100,
    },
  });
  const { stage, req, clusters, clock } = setup(c, up);
  for (let i = 0; i < 4; i++) await stage.send(req());
  assert.equal(clusters.outliers.isEjected(c, c.endpoints[0]), true);
  const before = up.sent.length;
  for (let i = 0; i < 4; i++) await stage.send(req());
  assert.ok(
    up.sent.slice(before).every((s) => s.target.endpoint.address === "10.0.0.2"),
    "the ejected endpoint gets nothing",
  );
  await clock.advance(30_000);
  assert.equal(clusters.outliers.isEjected(c, c.endpoints[0]), false, "back after the ejection");
});

Deno.test("concrete: consistent hashing keeps a key on one endpoint; no endpoints is UH", async () => {
  const up = new FakeEndpoints();
  const c = cluster({ endpoints: [1, 2, 3, 4, 5].map(ep), hash: { header: "x-user" } });
  const { stage, req } = setup(c, up);
  for (let i = 0; i < 6; i++) await stage.send(req({}, { hashKey: "alice" }));
  assert.equal(new Set(up.sent.map((s) => s.target.endpoint.address)).size, 1);
  const empty = setup(cluster({ endpoints: [] }));
  const r = await empty.stage.send(empty.req());
  assert.deepEqual(r.ok ? undefined : r.failure, { kind: "no_healthy_upstream" });
});

Deno.test("concrete: mirrors go to the mirror cluster with -shadow on the host, unawaited", async () => {
  const up = new FakeEndpoints();
  const s = setup(cluster(), up);
  const shadow = cluster({ name: "outbound|80||shadow", endpoints: [ep(9)] });
  s.balancers.set(shadow.name, new Balancer(shadow));
  const r = await s.stage.send(s.req({ mirrors: [{ cluster: shadow.name, percent: 100 }] }, {
    headers: [["host", "svc:80"]],
  }));
  assert.ok(r.ok);
  await new Promise((r) => setTimeout(r, 0));
  const mirrored = up.sent.find((x) => x.target.endpoint.address === "10.0.0.9");
  assert.ok(mirrored);
  assert.equal(mirrored.req.headers.find(([k]) => k === "host")?.[1], "svc-shadow:80");
});

Deno.test("concrete: an endpoint outside the mesh on this proxy's own port is a loop, never sent to", async () => {
  const up = new FakeEndpoints();
  const { stage, req } = setup(
    cluster({ endpoints: [{ ...ep(1), address: "127.0.0.1", port: 15001 }] }),
    up,
  );
  const r = await stage.send(req({}, { ownPorts: [15001] }));
  assert.equal(r.ok ? "" : r.failure.kind, "loop");
  assert.equal(up.sent.length, 0);
});

Deno.test("concrete: HTTP2 clusters get protocol http2 (upgrades too: extended CONNECT); CLIENT ones the client's version", async () => {
  const side: Endpoint = { ...ep(3), sidecar: true, mtls: true, identity: "spiffe://x" };
  for (
    const [protocol, endpoint, o, want] of [
      ["HTTP2", ep(1), {}, "http2"],
      ["HTTP2", side, {}, "http2"],
      ["HTTP2", ep(1), { upgrade: true }, "http2"],
      ["CLIENT", side, { downstreamHttp2: true }, "http2"],
      ["CLIENT", side, {}, undefined],
      ["CLIENT", ep(1), { downstreamHttp2: true, upgrade: true }, "http2"],
      ["CLIENT", ep(1), { upgrade: true }, undefined],
    ] as const
  ) {
    const { stage, req, up } = setup(cluster({ protocol, endpoints: [endpoint] }));
    const r = await stage.send(req({}, o));
    assert.ok(r.ok);
    assert.equal(up.sent[0].target.protocol, want, JSON.stringify({ protocol, endpoint, o }));
  }
  const { stage, req, up } = setup(cluster());
  assert.ok((await stage.send(req())).ok);
  assert.equal(up.sent[0].target.protocol, undefined);
});

Deno.test("concrete: grpc-timeout replaces the route timeout, capped by it", async () => {
  assert.equal(effectiveTimeout(undefined, undefined), undefined);
  assert.equal(effectiveTimeout(100, undefined), 100);
  assert.equal(effectiveTimeout(undefined, 30), 30);
  assert.equal(effectiveTimeout(100, 300), 100);
  const up = new FakeEndpoints((_r, _t, signal) => hang(signal));
  const { stage, req, clock } = setup(cluster(), up);
  let settled = false;
  const out = stage.send(req({}, { grpcTimeoutMs: 40 })).finally(() => settled = true);
  await clock.advance(39);
  assert.equal(settled, false);
  await clock.advance(1);
  const r = await out;
  assert.deepEqual(r.ok ? undefined : r.failure, { kind: "timeout" });
});

Deno.test("concrete: retryOn unavailable retries a trailers-only grpc-status 14", async () => {
  let n = 0;
  const up = new FakeEndpoints(() =>
    ++n < 2 ? reply(200, "", [["grpc-status", "14"]]) : reply(200, "", [["grpc-status", "0"]])
  );
  const { stage, req, clock } = setup(cluster(), up);
  const r = await run(
    clock,
    stage.send(req({ retries: { attempts: 2, retryOn: ["unavailable"], backoffMs: 10 } })),
  );
  assert.ok(r.ok);
  assert.equal(r.res.headers.find(([k]) => k === "grpc-status")?.[1], "0");
  assert.equal(up.sent.length, 2);
});

Deno.test("concrete: a client gone away cancels the attempt upstream and isn't retried", async () => {
  const up = new FakeEndpoints((_r, _t, signal) => hang(signal));
  const { stage, req, clock } = setup(cluster(), up);
  const client = new AbortController();
  const out = stage.send(
    req({ retries: { attempts: 3, retryOn: ["reset", "5xx"] } }, { signal: client.signal }),
  );
  await clock.advance(0);
  assert.equal(up.sent.length, 1);
  assert.ok(up.sent[0].signal, "the endpoint got a signal without any timeout");
  client.abort();
  const r = await out;
  assert.deepEqual(r.ok ? undefined : r.failure, { kind: "downstream_reset" });
  assert.equal(up.sent[0].signal?.aborted, true);
  assert.equal(up.sent.length, 1, "no retry for a client that left");
});
