import assert from "node:assert/strict";
import { wholeBody, withWholeBody } from "./whole_body.ts";

Deno.test("whole body: rides beside an untouched Response, gone once the body is read", async () => {
  const bytes = new TextEncoder().encode("hello");
  const res = withWholeBody(new Response(bytes), bytes);
  assert.equal(wholeBody(res), bytes);
  assert.equal(wholeBody(new Response(bytes)), undefined);
  assert.equal(await res.text(), "hello");
  assert.equal(wholeBody(res), undefined, "a used body is no longer handed out");
});
