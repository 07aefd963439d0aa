import assert from "node:assert/strict";
import { faultHits, injectFault, splitUrl } from "./outbound.ts";

Deno.test("faultHits: 0 never, 100 always, fractions by the random draw", () => {
  assert.equal(faultHits(0, () => 0), false);
  assert.equal(faultHits(100, () => 0.9999), true);
  assert.equal(faultHits(0.5, () => 0.004), true); // 0.4% < 0.5%
  assert.equal(faultHits(0.5, () => 0.006), false);
  assert.equal(faultHits(50, () => 0.49), true);
  assert.equal(faultHits(50, () => 0.5), false);
});

Deno.test("injectFault: abort answers instead of forwarding; no fault hit forwards", async () => {
  let forwarded = 0;
  const forward = () => {
    forwarded++;
    return new Response("up");
  };
  const abort = (status: number) => new Response("fault filter abort", { status });
  const r1 = await injectFault({ abort: { status: 503, percent: 100 } }, forward, abort);
  assert.equal(r1.status, 503);
  assert.equal(forwarded, 0);
  const r2 = await injectFault({ abort: { status: 503, percent: 0 } }, forward, abort);
  assert.equal(await r2.text(), "up");
  assert.equal(forwarded, 1);
});

Deno.test("injectFault: a delay waits, then aborts or forwards (Envoy's order)", async () => {
  const abort = (status: number) => new Response(null, { status });
  let t = performance.now();
  const r = await injectFault(
    { delay: { ms: 50, percent: 100 }, abort: { status: 500, percent: 100 } },
    () => new Response("up"),
    abort,
  );
  assert.equal(r.status, 500);
  assert.ok(performance.now() - t >= 45);
  t = performance.now();
  const r2 = await injectFault(
    { delay: { ms: 50, percent: 0 } },
    () => new Response("up"),
    abort,
  );
  assert.equal(r2.status, 200);
  assert.ok(performance.now() - t < 45);
});

Deno.test("splitUrl: authority and path from Request.url", () => {
  assert.deepEqual(splitUrl("http://reviews:9080/a?b=1"), {
    authority: "reviews:9080",
    path: "/a?b=1",
  });
  assert.deepEqual(splitUrl("http://reviews"), { authority: "reviews", path: "/" });
});
