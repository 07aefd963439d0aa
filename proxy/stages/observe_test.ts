import assert from "node:assert/strict";
import type { AccessEntry, AccessLog } from "../access_log.ts";
import { Stats } from "../stats.ts";
import type { Span, SpanEnd } from "../tracing.ts";
import { FakeClock } from "../../util/clock.ts";
import { Exchange, observe } from "./observe.ts";

function sinks() {
  const log: AccessEntry[] = [];
  const clock = new FakeClock();
  const stats = new Stats({ namespace: "default", workload: "w", principal: "" });
  const accessLog = {
    enabled: true,
    write: (e: AccessEntry) => log.push(e),
  } as unknown as AccessLog;
  return { log, clock, stats, accessLog };
}

Deno.test("observe: one step counts, logs and ends the span", async () => {
  const s = sinks();
  const ended: SpanEnd[] = [];
  const span = { end: (e: SpanEnd) => ended.push(e) } as unknown as Span;
  const start = s.clock.now();
  await s.clock.advance(42);
  observe(s, {
    reporter: "destination",
    labels: { service: "reviews", peer: "spiffe://cluster.local/ns/default/sa/p", mtls: true },
    status: 403,
    flags: "RBAC",
    start,
    method: "GET",
    path: "/a",
    authority: "reviews",
    header: (n) => ({ "x-request-id": "r1", "user-agent": "ua" } as Record<string, string>)[n],
    upstreamCluster: "inbound|9080||",
    span: { span, name: "reviews:9080/*", url: "http://reviews/a", peerAddress: "10.0.0.2" },
  });
  assert.equal(s.stats.total(), 1);
  assert.match(s.stats.prometheus(), /response_code="403"/);
  assert.equal(s.log[0].durationMs, 42);
  assert.equal(s.log[0].flags, "RBAC");
  assert.equal(s.log[0].requestId, "r1");
  assert.deepEqual(
    { status: ended[0].status, flags: ended[0].responseFlags, peer: ended[0].peerAddress },
    { status: 403, flags: "RBAC", peer: "10.0.0.2" },
  );
});

Deno.test("Exchange: path and authority from the request; observed once; DI joins the flags", () => {
  const s = sinks();
  const ex = new Exchange(
    s,
    new Request("http://reviews:9080/a?b=1", { headers: { host: "reviews:9080" } }),
  );
  assert.equal(ex.path, "/a?b=1");
  assert.equal(ex.authority, "reviews:9080");
  ex.delayed = true;
  ex.cluster = "outbound|9080||reviews";
  const res = ex.fail({ kind: "timeout" });
  assert.equal(res.status, 504);
  ex.finish(200);
  assert.equal(s.log.length, 1, "only the first ending counts");
  assert.equal(s.log[0].flags, "UT,DI");
  assert.equal(s.log[0].upstreamCluster, "outbound|9080||reviews");
  assert.equal(new Exchange(s, new Request("http://reviews")).path, "/");
});
