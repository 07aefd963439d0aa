import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { Debouncer } from "./debounce.ts";

function setup(afterMs: number, maxMs: number) {
  const clock = new FakeClock();
  const runs: number[] = [];
  const d = new Debouncer({ afterMs, maxMs, clock, fn: () => runs.push(clock.now()) });
  return { clock, runs, d };
}

Deno.test("debounce: one run after the quiet time; a burst is one run", () => {
  const { clock, runs, d } = setup(100, 10_000);
  d.trigger();
  clock.tick(50);
  d.trigger();
  clock.tick(99);
  assert.deepEqual(runs, []);
  clock.tick(1);
  assert.deepEqual(runs, [150]);
  clock.tick(1000);
  assert.deepEqual(runs, [150], "nothing more without a trigger");
});

Deno.test("debounce: a steady stream runs at the maximum wait, not never", () => {
  const { clock, runs, d } = setup(100, 1000);
  for (let i = 0; i < 50; i++) {
    d.trigger();
    clock.tick(50); // never quiet for 100 ms
  }
  assert.deepEqual(runs, [1000, 2000]);
  clock.tick(100);
  assert.deepEqual(runs, [1000, 2000, 2550]);
});

Deno.test("debounce: equal wait and maximum is a throttle; flush and close", () => {
  const { clock, runs, d } = setup(1000, 1000);
  d.trigger();
  clock.tick(400);
  d.trigger();
  clock.tick(600);
  assert.deepEqual(runs, [1000], "at most one run per interval");
  d.trigger();
  assert.ok(d.pending);
  d.flush();
  assert.deepEqual(runs, [1000, 1000]);
  d.flush();
  assert.equal(runs.length, 2, "flush without a pending run does nothing");
  d.trigger();
  d.close();
  clock.tick(5000);
  d.trigger();
  clock.tick(5000);
  assert.equal(runs.length, 2);
  assert.throws(() => new Debouncer({ afterMs: 10, maxMs: 5, fn: () => {} }), RangeError);
});
