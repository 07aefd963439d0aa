import assert from "node:assert/strict";
import { DEFAULT_KEEP_LOGS, DEFAULT_MAX_LOG_BYTES, RotatingLog } from "./rotating_log.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-rotating-log-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const read = (p: string) => Deno.readTextFileSync(p);
/** Line `i`, 20 bytes with its newline. */
const line = (i: number) => `{"n":${String(i).padStart(13, "0")}}\n`;

Deno.test("RotatingLog: rotates by size into .1 … .keep, every file within the limit and whole lines", async () => {
  assert.equal(DEFAULT_MAX_LOG_BYTES, 10 * 1024 * 1024);
  assert.equal(DEFAULT_KEEP_LOGS, 3);
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const log = new RotatingLog(path, { maxBytes: 100, keep: 3 });
    for (let i = 0; i < 50; i++) await log.append(line(i));
    assert.deepEqual(names(dir), ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]);
    for (const f of names(dir)) {
      const text = read(`${dir}/${f}`);
      assert.ok(text.length <= 100, `${f} is ${text.length} bytes`);
      assert.ok(text.endsWith("\n"));
      for (const l of text.trimEnd().split("\n")) assert.match(l, /^\{"n":\d{13}\}$/);
    }
    // Oldest to newest, the kept files are the tail of what was written, in order.
    const all = [3, 2, 1].map((i) => read(`${path}.${i}`)).join("") + read(path);
    const expected = Array.from({ length: 50 }, (_, i) => line(i)).join("");
    assert.ok(expected.endsWith(all), "the kept files are the latest lines, in order");
    assert.equal(all.length, 4 * 5 * 20); // 4 files × 5 lines × 20 bytes
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    console.log(
      `rotation: 50 lines of 20 bytes at maxBytes=100 keep=3 → ${names(dir).length} files, ` +
        `${all.length / 20} newest lines kept`,
    );
  });
});

Deno.test("RotatingLog: a new writer counts the existing file; a line over the limit gets a file of its own", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    await Deno.writeTextFile(path, line(0).repeat(4)); // 80 bytes already
    const log = new RotatingLog(path, { maxBytes: 100, keep: 2 });
    await log.append(line(1)); // 100: fits exactly
    assert.deepEqual(names(dir), ["audit.log"]);
    await log.append(line(2).trimEnd()); // a newline is added; 120 > 100: rotate first
    assert.deepEqual(names(dir), ["audit.log", "audit.log.1"]);
    assert.equal(read(path), line(2));
    const big = "x".repeat(250) + "\n";
    await log.append(big);
    assert.equal(read(path), big);
    assert.equal(read(`${path}.1`), line(2));
    await log.append(line(3));
    assert.deepEqual(names(dir), ["audit.log", "audit.log.1", "audit.log.2"]);
    await log.append("y".repeat(120));
    // keep=2: the oldest (line 2) went.
    assert.deepEqual(names(dir), ["audit.log", "audit.log.1", "audit.log.2"]);
    assert.equal(read(`${path}.2`), big);
    assert.equal(read(`${path}.1`), line(3));
  });
});

Deno.test("RotatingLog: keep 0 starts over; a missing directory is created", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/ca/audit.log`;
    const log = new RotatingLog(path, { maxBytes: 40, keep: 0 });
    for (let i = 0; i < 5; i++) await log.append(line(i));
    assert.deepEqual(names(`${dir}/ca`), ["audit.log"]);
    assert.equal(read(path), line(4));
  });
});

Deno.test("RotatingLog: lines the disk refuses stay queued, are reported, and are written in order later", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/ca/audit.log`;
    const errors: { pending: number; dropped: number; message: string }[] = [];
    const recovered: { written: number; dropped: number }[] = [];
    const log = new RotatingLog(path, {
      maxBytes: 1000,
      maxPendingLines: 3,
      onError: (err, s) => errors.push({ ...s, message: (err as Error).message }),
      onRecover: (s) => recovered.push(s),
    });
    await log.append(line(0));
    // Make the log unwritable: its directory becomes a file.
    await Deno.remove(`${dir}/ca`, { recursive: true });
    await Deno.writeTextFile(`${dir}/ca`, "");
    for (let i = 1; i <= 5; i++) await log.append(line(i)); // never rejects
    assert.equal(errors.length, 5);
    assert.deepEqual(errors.map((e) => e.pending), [1, 2, 3, 3, 3]);
    assert.deepEqual(errors.map((e) => e.dropped), [0, 0, 0, 1, 2]);
    assert.equal(log.pending, 3);
    assert.equal(recovered.length, 0);
    // Writable again: the queued lines go out with the next write, oldest first (the queue
    // holds 3, so line 6 pushes out line 3).
    await Deno.remove(`${dir}/ca`);
    await log.append(line(6));
    assert.equal(read(path), [4, 5, 6].map(line).join(""));
    assert.equal(log.pending, 0);
    assert.deepEqual(recovered, [{ written: 3, dropped: 3 }]);
    assert.equal(log.dropped, 0);
  });
});
