import assert from "node:assert/strict";
import { Backoff, sleep } from "./backoff.ts";

Deno.test("backoff doubles from the base and never exceeds the cap", () => {
  const top = new Backoff(250, 2000, () => 1);
  assert.deepEqual(
    Array.from({ length: 8 }, () => top.next()),
    [250, 500, 1000, 2000, 2000, 2000, 2000, 2000],
  );
  const bottom = new Backoff(250, 2000, () => 0);
  assert.deepEqual(
    Array.from({ length: 5 }, () => bottom.next()),
    [125, 250, 500, 1000, 1000],
  );
});

Deno.test("backoff jitter stays within [step/2, step], never below base/2 (no spin)", () => {
  const b = new Backoff(250, 3000);
  for (let i = 0; i < 1000; i++) {
    const step = Math.min(3000, 250 * 2 ** Math.min(b.attempts, 30));
    const d = b.next();
    assert.ok(d >= step / 2 && d <= step, `attempt ${i}: ${d} outside [${step / 2}, ${step}]`);
    assert.ok(d >= 125);
  }
  assert.ok(Number.isFinite(b.next()), "the exponent must not overflow after many attempts");
});

Deno.test("backoff reset starts over, and a cap below the base is raised to it", () => {
  const b = new Backoff(100, 1000, () => 1);
  b.next();
  b.next();
  assert.equal(b.attempts, 2);
  b.reset();
  assert.equal(b.next(), 100);
  assert.equal(new Backoff(500, 10, () => 1).next(), 500);
  assert.throws(() => new Backoff(0), RangeError);
});

Deno.test("sleep resolves false when aborted, true when it ran out", async () => {
  const ac = new AbortController();
  const p = sleep(60_000, ac.signal);
  ac.abort();
  assert.equal(await p, false);
  assert.equal(await sleep(1), true);
  assert.equal(await sleep(10, ac.signal), false);
});
