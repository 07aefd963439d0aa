import assert from "node:assert/strict";
import { connectionNominated, hopFilter, withoutHopHeaders } from "./hop_headers.ts";

Deno.test("headers a Connection header names are hop-by-hop; close and keep-alive are options", () => {
  assert.deepEqual([...connectionNominated(["X-Foo, close", "keep-alive, x-bar"])!], [
    "x-foo",
    "x-bar",
  ]);
  assert.equal(connectionNominated(["close"]), undefined);
});

Deno.test("withoutHopHeaders drops the standard set, the nominated ones, and x-envoy-* if untrusted", () => {
  const h: [string, string][] = [
    ["connection", "x-foo"],
    ["x-foo", "1"],
    ["keep-alive", "5"],
    ["x-envoy-max-retries", "10"],
    ["x-app", "ok"],
  ];
  assert.deepEqual(withoutHopHeaders(h), [["x-envoy-max-retries", "10"], ["x-app", "ok"]]);
  assert.deepEqual(withoutHopHeaders(h, true), [["x-app", "ok"]]);
  const drop = hopFilter([], false);
  assert.ok(drop("transfer-encoding") && !drop("x-envoy-attempt-count"));
});
