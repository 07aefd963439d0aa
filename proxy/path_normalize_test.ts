import assert from "node:assert/strict";
import { normalizePath, removeDotSegments } from "./path_normalize.ts";

const base = (t: string) => normalizePath(t, "BASE");
const path = (t: string, mode?: Parameters<typeof normalizePath>[1]) => {
  const n = normalizePath(t, mode);
  if (n.reject !== undefined) throw new Error(`rejected ${t}: ${n.reject}`);
  return n.path;
};

Deno.test("BASE: dot segments, encoded dots and unreserved characters, absolute-form, query kept", () => {
  assert.equal(path("/./admin"), "/admin");
  assert.equal(path("/x/../admin?q=1"), "/admin?q=1");
  assert.equal(path("/%2e/admin"), "/admin");
  assert.equal(path("/%2E%2E/admin/"), "/admin/");
  assert.equal(path("/admin/../admin"), "/admin");
  assert.equal(path("/a/../../../b"), "/b", "`..` never climbs above the root");
  assert.equal(path("http://h:80/admin"), "/admin");
  assert.equal(path("/a/b/.."), "/a/");
  assert.equal(path("/%61dmin"), "/admin");
  assert.equal(path("/"), "/");
  assert.equal(path("/x?a=/../b"), "/x?a=/../b", "the query is not a path");
});

Deno.test("BASE: backslashes are slashes; escaped slashes and repeated slashes are kept", () => {
  assert.equal(path("/x\\..\\admin"), "/admin");
  assert.equal(path("/a%2Fb"), "/a%2Fb");
  assert.equal(path("/a%2fb"), "/a%2Fb", "escapes get upper-case hex digits");
  assert.equal(path("/x/..%2fadmin"), "/x/..%2Fadmin", "not a dot segment while %2F is kept");
  assert.equal(path("//admin"), "//admin");
});

Deno.test("BASE: case and `;` are kept, as Envoy keeps them", () => {
  assert.equal(path("/ADMIN"), "/ADMIN");
  assert.equal(path("/admin;x"), "/admin;x");
  assert.equal(path("/;/admin"), "/;/admin");
});

Deno.test("BASE: characters a path can't carry raw are percent-encoded; fragments dropped", () => {
  assert.equal(path("/é"), "/%C3%A9");
  assert.equal(path('/a"b<c>'), "/a%22b%3Cc%3E");
  assert.equal(path("/admin#frag"), "/admin");
  assert.equal(path("/x#/../admin"), "/x");
});

Deno.test("NUL, control characters and invalid escapes are rejected in every mode", () => {
  for (const mode of ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"] as const) {
    for (const t of ["/%00/admin", "/a%zz", "/a%4", "/a%", "/a\x01b"]) {
      assert.ok(normalizePath(t, mode).reject, `${mode} ${JSON.stringify(t)}`);
    }
  }
  assert.match(base("/%00/admin").reject!, /NUL/);
});

Deno.test("MERGE_SLASHES merges repeated slashes after BASE; escaped slashes still kept", () => {
  assert.equal(path("//admin", "MERGE_SLASHES"), "/admin");
  assert.equal(path("/a///b//", "MERGE_SLASHES"), "/a/b/");
  assert.equal(path("/a//../b", "MERGE_SLASHES"), "/a/b");
  assert.equal(path("/%2fadmin", "MERGE_SLASHES"), "/%2Fadmin");
});

Deno.test("DECODE_AND_MERGE_SLASHES decodes %2F and %5C first, then normalizes and merges", () => {
  const d = (t: string) => path(t, "DECODE_AND_MERGE_SLASHES");
  assert.equal(d("/%2fadmin"), "/admin");
  assert.equal(d("/%2Fadmin"), "/admin");
  assert.equal(d("/x/..%2fadmin"), "/admin");
  assert.equal(d("/x%5C..%5cadmin"), "/admin");
  assert.equal(d("//admin"), "/admin");
  assert.equal(d("/a%2F%2Fb"), "/a/b");
});

Deno.test("NONE forwards the path as sent (only NUL and bad escapes refused)", () => {
  assert.equal(path("/x/../admin", "NONE"), "/x/../admin");
  assert.equal(path("//a%2fb\\c", "NONE"), "//a%2fb\\c");
});

Deno.test("plain paths come back as they are (the fast path agrees with the slow one)", () => {
  for (const t of ["/", "/a/b.c", "/.well-known/x", "/a..b/c", "/api/v1?x=1&y=/../z", "/a:b@c"]) {
    assert.equal(path(t), t);
  }
  assert.equal(removeDotSegments("/a/./b/../c"), "/a/c");
});
