import assert from "node:assert/strict";
import {
  applyHeaderChanges,
  changeHeaderList,
  headerProblem,
  safeAppend,
  safeDelete,
  safeSet,
  sendableHeaderList,
  SkipLog,
  withHeaderChanges,
} from "./header_ops.ts";
import { corsFor, redirectResponse } from "./route_actions.ts";
import { trailersOf, withTrailers } from "./trailers.ts";

/** A skip log that records its warnings. */
function recording(cap?: number): { skips: SkipLog; warned: string[] } {
  const warned: string[] = [];
  return { skips: new SkipLog(cap, (name) => warned.push(name)), warned };
}

/** Whether `Headers` itself takes `name: value`. */
function headersTake(name: string, value: string): boolean {
  try {
    new Headers().set(name, value);
    return true;
  } catch {
    return false;
  }
}

Deno.test("headerProblem: refuses exactly what Headers refuses, for every character up to U+02FF", () => {
  for (let c = 0; c <= 0x2ff; c++) {
    const ch = String.fromCharCode(c);
    for (const name of [`x${ch}y`, ch]) {
      assert.equal(
        headerProblem(name, "v") === undefined,
        headersTake(name, "v"),
        `name U+${c.toString(16)}`,
      );
    }
    for (const value of [`a${ch}b`, ch, `${ch}${ch}`]) {
      assert.equal(
        headerProblem("x", value) === undefined,
        headersTake("x", value),
        `value U+${c.toString(16)}`,
      );
    }
  }
  for (const name of ["", ":authority", ":status", "bad name", "a:b", "caf\u00e9", "x\ny"]) {
    assert.ok(headerProblem(name) !== undefined, name);
    assert.equal(headersTake(name, "v"), false, name);
  }
  for (const value of ["\u65e5\u672c", "a\0b", "a\r\nx-injected: 1"]) {
    assert.ok(headerProblem("x", value) !== undefined, value);
  }
  assert.equal(headerProblem("x-ok", "caf\u00e9\t100%"), undefined);
});

Deno.test("safeSet, safeAppend, safeDelete: a refused name or value is skipped, never thrown", () => {
  const { skips, warned } = recording();
  const h = new Headers({ "x-a": "1" });
  assert.equal(safeSet(h, "bad name", "v", skips), false);
  assert.equal(safeAppend(h, ":authority", "v", skips), false);
  assert.equal(safeSet(h, "x-a", "a\nb", skips), false);
  assert.equal(safeAppend(h, "x-a", "\u65e5\u672c", skips), false);
  assert.equal(safeDelete(h, "x y", skips), false);
  assert.deepEqual([...h], [["x-a", "1"]], "nothing changed");
  assert.equal(safeSet(h, "x-b", "2", skips), true);
  assert.equal(safeAppend(h, "x-a", "3", skips), true);
  assert.equal(safeDelete(h, "x-b", skips), true);
  assert.deepEqual([...h], [["x-a", "1, 3"]]);
  assert.deepEqual(warned, ["bad name", ":authority", "x-a", "x y"], "one warning per name");
});

Deno.test("safeSet: headers that refuse every change (immutable) give a skip, not a throw", () => {
  const { skips, warned } = recording();
  const res = Response.redirect("http://a/", 302);
  assert.equal(safeSet(res.headers, "x-a", "1", skips), false);
  assert.deepEqual(warned, ["x-a"]);
});

Deno.test("SkipLog: one warning per distinct name; the names remembered are capped", () => {
  const { skips, warned } = recording(3);
  for (let i = 0; i < 5; i++) skips.skipped("a", "why");
  assert.deepEqual(warned, ["a"]);
  for (const n of ["b", "c", "d", "e"]) skips.skipped(n, "why");
  assert.equal(skips.size, 3, "bounded");
  skips.skipped("e", "why");
  assert.deepEqual(warned, ["a", "b", "c", "d", "e"], "recent names stay remembered");
  skips.skipped("a", "why");
  assert.deepEqual(warned.at(-1), "a", "the oldest is forgotten and may warn again");
});

Deno.test("applyHeaderChanges: remove, set, add with the refused ones skipped", () => {
  const { skips, warned } = recording();
  const h = new Headers({ "x-gone": "1", "x-set": "old", "x-add": "1" });
  const ok = applyHeaderChanges(h, {
    remove: ["x-gone", "bad name"],
    set: { "x-set": "new", ":status": "500", "x-nl": "a\nb" },
    add: { "x-add": "2", "x-\u00e9": "v", "x-wide": "\u65e5" },
  }, skips);
  assert.equal(ok, true);
  assert.deepEqual([...h], [["x-add", "1, 2"], ["x-set", "new"]]);
  assert.deepEqual(warned, ["bad name", ":status", "x-nl", "x-\u00e9", "x-wide"]);
});

Deno.test("withHeaderChanges: immutable headers are copied, then changed; invalid changes skipped", async () => {
  const { skips, warned } = recording();
  const res = withHeaderChanges(Response.redirect("http://a/b", 302), {
    set: { "x-a": "1", "bad name": "v" },
  }, skips);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "http://a/b");
  assert.equal(res.headers.get("x-a"), "1");
  assert.deepEqual(warned, ["bad name"]);
  const plain = new Response("body");
  assert.equal(withHeaderChanges(plain, { remove: ["x y"] }, skips), plain, "changed in place");
  assert.equal(await plain.text(), "body");
  assert.equal(withHeaderChanges(plain, undefined, skips), plain);
  // A copy keeps the trailers (gRPC status over HTTP/2).
  const immutable = withTrailers(
    Response.redirect("http://a/b", 302),
    Promise.resolve([["t", "1"]]),
  );
  const copy = withHeaderChanges(immutable, { set: { "x-b": "2" } }, skips);
  assert.notEqual(copy, immutable);
  assert.deepEqual(await trailersOf(copy), [["t", "1"]]);
});

Deno.test("changeHeaderList: invalid changes skipped (no header injection), the authority as Istio's", () => {
  const { skips, warned } = recording();
  const list: [string, string][] = [["host", "svc"], ["x-keep", "1"], ["x-set", "old"]];
  const out = changeHeaderList(list, {
    remove: ["host", "bad name"],
    set: { "x-set": "a\r\nx-injected: 1", "x-wide": "\u65e5\u672c", "bad name": "v" },
    add: { ":authority": "other:9080", "x-add": "2", ":path": "/x" },
  }, skips);
  assert.deepEqual(out, [
    ["x-keep", "1"],
    ["x-set", "old"],
    ["x-wide", "\u65e5\u672c"],
    ["host", "other:9080"],
    ["x-add", "2"],
  ]);
  assert.deepEqual(warned, ["host", "bad name", "x-set", ":path"]);
  assert.deepEqual(list, [["host", "svc"], ["x-keep", "1"], ["x-set", "old"]], "not mutated");
  // `set` of host or :authority, in any case, replaces the one host.
  assert.deepEqual(
    changeHeaderList([["host", "svc"]], { set: { ":Authority": "a" }, add: { HOST: "b" } }, skips),
    [["host", "b"]],
  );
  assert.deepEqual(
    changeHeaderList([["host", "svc"], ["x", "1"]], { set: { X: "2" } }, skips),
    [["host", "svc"], ["x", "2"]],
    "names are lowercased",
  );
});

Deno.test("sendableHeaderList: pairs that can't be written are left out; the same array when all can", () => {
  const { skips, warned } = recording();
  const fine: [string, string][] = [["host", "svc"], ["x-a", "caf\u00e9 \u65e5"]];
  assert.equal(sendableHeaderList(fine, skips), fine);
  assert.deepEqual(
    sendableHeaderList(
      [["host", "a\r\nx: 1"], ["x-a", "1"], ["bad name", "v"], ["x-b", "2"]],
      skips,
    ),
    [["x-a", "1"], ["x-b", "2"]],
  );
  assert.deepEqual(warned, ["host", "bad name"]);
});

Deno.test("corsFor and redirectResponse: config values Headers refuses are skipped", () => {
  const cors = {
    allowOrigins: [{ exact: "https://a" }],
    allowMethods: ["GET", "P\nOST"],
    allowHeaders: ["x-\u65e5"],
    unmatchedPreflights: "FORWARD" as const,
  };
  const req = new Request("http://svc/", {
    method: "OPTIONS",
    headers: { origin: "https://a", "access-control-request-method": "GET" },
  });
  const res = corsFor(cors, req, "https://a");
  assert.ok(res instanceof Response);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://a");
  assert.equal(res.headers.get("access-control-allow-methods"), null);
  assert.equal(res.headers.get("access-control-allow-headers"), null);
  const rd = redirectResponse(301, "http://a/x\r\nset-cookie: s=1");
  assert.equal(rd.status, 301);
  assert.equal(rd.headers.get("location"), null);
  assert.equal(redirectResponse(302, "http://a/b").headers.get("location"), "http://a/b");
});
