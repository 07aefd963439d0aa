import assert from "node:assert/strict";
import { canonicalAuthority, requestAuthority, targetAuthority } from "./authority.ts";

Deno.test("canonicalAuthority: lower case, one trailing dot dropped, port kept; junk refused", () => {
  assert.equal(canonicalAuthority("Reviews.Default:9080"), "reviews.default:9080");
  assert.equal(canonicalAuthority("svc."), "svc");
  assert.equal(canonicalAuthority("SVC.:80"), "svc:80");
  assert.equal(canonicalAuthority("[::1]:15001"), "[::1]:15001");
  assert.equal(canonicalAuthority(""), "");
  for (const bad of ["a/b", "a b", "svc:99999", "svc:x", "..", "[zz]", "a?b"]) {
    assert.equal(canonicalAuthority(bad), undefined, bad);
  }
});

Deno.test("requestAuthority: absolute-form wins over Host; Host otherwise; none is empty", () => {
  assert.deepEqual(requestAuthority("http://svc/admin", "other"), { authority: "svc" });
  assert.deepEqual(requestAuthority("http://svc:80/admin", null), { authority: "svc:80" });
  assert.deepEqual(requestAuthority("http://SVC./admin", "SVC."), { authority: "svc" });
  assert.deepEqual(requestAuthority("http://localhost:15001/", null), { authority: "" });
  assert.deepEqual(requestAuthority("http://localhost:15001/", ""), { authority: "" });
  assert.deepEqual(requestAuthority("http://localhost:8080/", "localhost:8080"), {
    authority: "localhost:8080",
  });
});

Deno.test("requestAuthority: userinfo and a Host that isn't an authority are refused", () => {
  assert.ok(requestAuthority("http://u@svc/admin", "other").reject);
  assert.ok(requestAuthority("http://a/b/", "a/b").reject);
  assert.ok(requestAuthority("http://a b/", "a b").reject);
  assert.ok(requestAuthority("http://u@a/", "u@a").reject);
});

Deno.test("targetAuthority (inbound): absolute-form target first, then Host", () => {
  assert.deepEqual(targetAuthority("http://svc/admin", "other"), { authority: "svc" });
  assert.deepEqual(targetAuthority("/admin", "Svc.:8080"), { authority: "svc:8080" });
  assert.deepEqual(targetAuthority("/admin", undefined), { authority: "" });
  assert.ok(targetAuthority("/", "a/b").reject);
});
