import assert from "node:assert/strict";
import { LineSplitter } from "./ndjson.ts";

Deno.test("line splitter: lines across chunk boundaries and split UTF-8, blank lines skipped", () => {
  const text = '{"a":"é€"}\n\n{"b":2}\r\n{"c":3}\n';
  const bytes = new TextEncoder().encode(text);
  // Every way of cutting the bytes in two gives the same lines.
  for (let cut = 0; cut <= bytes.length; cut++) {
    const s = new LineSplitter();
    const out: string[] = [];
    assert.ok(s.feed(bytes.subarray(0, cut), (l) => out.push(l)));
    assert.ok(s.feed(bytes.subarray(cut), (l) => out.push(l)));
    assert.deepEqual(out, ['{"a":"é€"}', '{"b":2}', '{"c":3}'], `cut at ${cut}`);
    assert.equal(s.pending, 0);
  }
});

Deno.test("line splitter: one byte at a time, and a partial line waits for its newline", () => {
  const s = new LineSplitter();
  const out: string[] = [];
  for (const b of new TextEncoder().encode('{"x":1}\n{"y"')) {
    s.feed(new Uint8Array([b]), (l) => out.push(l));
  }
  assert.deepEqual(out, ['{"x":1}']);
  assert.equal(s.pending, 4);
  s.feed(":2}\n", (l) => out.push(l));
  assert.deepEqual(out, ['{"x":1}', '{"y":2}']);
});

Deno.test("line splitter: a line over the limit is refused, complete or not", () => {
  const s = new LineSplitter(8);
  const out: string[] = [];
  assert.equal(s.feed("123456789\n", (l) => out.push(l)), false);
  const t = new LineSplitter(8);
  assert.equal(t.feed("12345", (l) => out.push(l)), true);
  assert.equal(t.feed("6789", (l) => out.push(l)), false, "an unfinished line past the limit");
  assert.equal(out.length, 0);
  const ok: string[] = [];
  assert.equal(new LineSplitter(8).feed("12345678\n", (l) => ok.push(l)), true);
  assert.deepEqual(ok, ["12345678"]);
});
