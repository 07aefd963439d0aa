import assert from "node:assert/strict";
import { type AccessEntry, AccessLog, formatJson, formatText } from "./access_log.ts";

const entry: AccessEntry = {
  start: Date.UTC(2026, 10, 22, 12, 0, 0),
  method: "GET",
  path: "/reviews/0",
  status: 503,
  flags: "UO",
  durationMs: 12.4,
  userAgent: "curl/8",
  requestId: "abc",
  authority: "reviews:9080",
  upstreamHost: "127.0.0.1:15006",
  upstreamCluster: "outbound|9080|v1|reviews.default.svc.cluster.local",
  routeName: "reviews.0",
};

Deno.test("text lines follow Envoy's default format; unknown fields are dashes", () => {
  assert.equal(
    formatText(entry),
    '[2026-11-22T12:00:00.000Z] "GET /reviews/0 HTTP/1.1" 503 UO - - "-" 0 0 12 - "-" ' +
      '"curl/8" "abc" "reviews:9080" "127.0.0.1:15006" ' +
      "outbound|9080|v1|reviews.default.svc.cluster.local - - - - reviews.0",
  );
});

Deno.test("JSON lines use Istio's keys", () => {
  const j = JSON.parse(formatJson(entry));
  assert.equal(j.response_code, 503);
  assert.equal(j.response_flags, "UO");
  assert.equal(j.upstream_cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
  assert.equal(j.duration, 12);
  assert.equal(j.x_forwarded_for, null);
});

Deno.test("a file path is appended to; off until configured; an unwritable path says so once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new AccessLog();
    assert.equal(log.enabled, false);
    log.write(entry); // off: nothing happens
    log.configure({ path: `${dir}/access.log`, encoding: "JSON" });
    log.write(entry);
    log.write(entry);
    const lines = (await Deno.readTextFile(`${dir}/access.log`)).trim().split("\n");
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[0]).method, "GET");
    log.configure({ path: `${dir}/missing/dir/access.log`, encoding: "TEXT" });
    const errors: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errors.push(m);
    try {
      log.write(entry);
      log.write(entry);
    } finally {
      console.error = orig;
    }
    assert.equal(errors.length, 1);
    assert.match(errors[0], /can't write to .*missing\/dir\/access\.log/);
    log.configure(undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
