import assert from "node:assert/strict";
import { copyTrailers, hasTrailers, trailersOf, withTrailers } from "./trailers.ts";

Deno.test("trailers ride beside a Response, are copied to a rebuilt one, and never reject", async () => {
  const res = withTrailers(new Response("x"), Promise.resolve([["grpc-status", "0"]]));
  assert.ok(hasTrailers(res));
  assert.deepEqual(await trailersOf(res), [["grpc-status", "0"]]);
  const copy = copyTrailers(res, new Response("y", res));
  assert.deepEqual(await trailersOf(copy), [["grpc-status", "0"]]);
  assert.deepEqual(await trailersOf(new Response("z")), []);
  const failed = withTrailers(new Response("f"), Promise.reject(new Error("reset")));
  assert.deepEqual(await trailersOf(failed), []);
});
