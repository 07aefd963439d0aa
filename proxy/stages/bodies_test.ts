import assert from "node:assert/strict";
import { onEnd, RouteTimeoutError, untilDeadline } from "./bodies.ts";
import { FakeClock } from "../../util/clock.ts";

Deno.test("onEnd: called once when the body ends, or when it is cancelled", async () => {
  let ends = 0;
  const body = onEnd(new Response("abc").body!, () => ends++);
  assert.equal(await new Response(body).text(), "abc");
  assert.equal(ends, 1);
  let cancels = 0;
  const b2 = onEnd(new Response("xyz").body!, () => cancels++);
  await b2.cancel();
  assert.equal(cancels, 1);
});

Deno.test("untilDeadline: a body that ends in time passes whole; a slow one is cut off", async () => {
  const clock = new FakeClock();
  const fast = untilDeadline(new Response("abc").body!, { ms: 1_000, clock });
  assert.equal(await new Response(fast).text(), "abc");
  assert.equal(clock.pending, 0, "the timer is cleared when the body ends");
  let cancelled: unknown;
  const slow = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("first"));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = untilDeadline(slow, { ms: 30, clock }).getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
  const cut = assert.rejects(reader.read(), RouteTimeoutError);
  await clock.advance(29);
  assert.equal(clock.pending, 1, "still streaming at 29 ms");
  await clock.advance(1);
  await cut;
  assert.ok(cancelled instanceof RouteTimeoutError, "the upstream body was cancelled");
});
