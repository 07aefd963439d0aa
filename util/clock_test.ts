import assert from "node:assert/strict";
import { FakeClock, sleep, timeoutSignal } from "./clock.ts";

Deno.test("FakeClock: tick fires due timers in order, synchronously", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => fired.push("a"), 10);
  const c = clock.setTimeout(() => fired.push("c"), 15);
  clock.clearTimeout(c);
  clock.tick(15);
  assert.deepEqual(fired, ["a"]);
  clock.tick(5);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock: advance follows code that awaits, then sets a timer", async () => {
  const clock = new FakeClock();
  let done = false;
  (async () => {
    await sleep(clock, 10);
    await sleep(clock, 10);
    done = true;
  })();
  await clock.advance(20);
  assert.ok(done);
  const t = timeoutSignal(clock, 5);
  await clock.advance(5);
  assert.ok(t.signal.aborted);
});
