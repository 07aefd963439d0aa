import assert from "node:assert/strict";
import { PushQueue, type SendResult } from "./push_queue.ts";

/** A send that answers when told to. */
function answerable() {
  const sent: string[] = [];
  const answers = new Map<string, () => void>();
  const send = (item: string, bytes: number): SendResult => {
    sent.push(item);
    const { promise, resolve } = Promise.withResolvers<void>();
    answers.set(item, resolve);
    return { bytes, answered: promise };
  };
  return { sent, answers, send };
}

const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("push queue: an item due twice before its turn is sent once", async () => {
  const sent: string[] = [];
  const q = new PushQueue<string>({ send: (i) => void sent.push(i) });
  q.add("a");
  q.add("a");
  q.add("b");
  await q.idle();
  assert.deepEqual(sent, ["a", "b"]);
  q.close();
});

Deno.test("push queue: sends past the byte budget wait for answers", async () => {
  const a = answerable();
  const q = new PushQueue<string>({ send: (i) => a.send(i, 400), budgetBytes: 1000 });
  for (const i of ["p1", "p2", "p3", "p4", "p5"]) q.add(i);
  await turn();
  await turn();
  // 400 + 400 < 1000, 1200 ≥ 1000: the third goes, then the budget is spent.
  assert.deepEqual(a.sent, ["p1", "p2", "p3"]);
  assert.deepEqual(q.size, 2);
  assert.deepEqual(q.active, 1200);
  a.answers.get("p1")!();
  await turn();
  await turn();
  assert.deepEqual(a.sent, ["p1", "p2", "p3", "p4"]);
  assert.deepEqual(q.size, 1);
  for (const f of a.answers.values()) f();
  await q.idle();
  assert.deepEqual(a.sent.length, 5);
  q.close();
});

Deno.test("push queue: one send always goes, however large", async () => {
  const a = answerable();
  const q = new PushQueue<string>({ send: (i) => a.send(i, 5000), budgetBytes: 1000 });
  q.add("big");
  q.add("next");
  await turn();
  assert.deepEqual(a.sent, ["big"]);
  a.answers.get("big")!();
  await q.idle();
  assert.deepEqual(a.sent, ["big", "next"]);
  q.close();
});

Deno.test("push queue: small sends hardly spend the budget", async () => {
  const a = answerable();
  const q = new PushQueue<string>({ send: (i) => a.send(i, 800), budgetBytes: 32 * 1024 * 1024 });
  const items = Array.from({ length: 300 }, (_, i) => `p${i}`);
  for (const i of items) q.add(i);
  await q.idle();
  assert.deepEqual(a.sent.length, 300); // none answered, none held back
  q.close();
});

Deno.test("push queue: a proxy that never answers holds its share for slotMs only", async () => {
  const a = answerable();
  const q = new PushQueue<string>({ send: (i) => a.send(i, 1000), budgetBytes: 1000, slotMs: 30 });
  q.add("stuck");
  q.add("other");
  await turn();
  assert.deepEqual(a.sent, ["stuck"]);
  await q.idle(); // "stuck" never answers: its slot times out and "other" goes
  assert.deepEqual(a.sent, ["stuck", "other"]);
  assert.ok(q.active <= 1000);
  q.close(); // stops the remaining slot timer
});

Deno.test("push queue: a send that throws doesn't stop the others", async () => {
  const sent: string[] = [];
  const q = new PushQueue<string>({
    send: (i) => {
      if (i === "bad") throw new Error("boom");
      sent.push(i);
    },
  });
  q.add("bad");
  q.add("good");
  await q.idle();
  assert.deepEqual(sent, ["good"]);
  q.close();
});
