/** ClosedStreams: late frames on closed streams ignored or errors, as §5.1 says; bounded. */
import assert from "node:assert/strict";
import { ClosedStreams } from "./closed.ts";
import { H2_ERROR, type H2ConnectionError } from "./errors.ts";

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as H2ConnectionError).code;
  }
  return undefined;
};

Deno.test("ClosedStreams: ours reset ignored, the peer's reset a stream error, done a connection error", () => {
  const c = new ClosedStreams(4);
  c.add(1, "local-reset");
  c.add(3, "peer-reset");
  c.add(5, "done");
  assert.equal(c.check(1, "DATA"), undefined);
  assert.equal(c.check(1, "HEADERS"), undefined);
  assert.equal(c.check(3, "DATA")?.code, H2_ERROR.STREAM_CLOSED);
  assert.equal(code(() => c.check(5, "DATA")), H2_ERROR.STREAM_CLOSED);
  assert.equal(code(() => c.check(5, "HEADERS")), H2_ERROR.STREAM_CLOSED);
  // Never opened (skipped): HEADERS is PROTOCOL_ERROR (§5.1.1).
  assert.equal(code(() => c.check(7, "HEADERS")), H2_ERROR.PROTOCOL_ERROR);
  // A reset by us wins over a later record of the same stream.
  c.add(1, "done");
  assert.equal(c.check(1, "DATA"), undefined);
});

Deno.test("ClosedStreams: at most max remembered; forgotten streams are ignored", () => {
  const c = new ClosedStreams(2);
  for (const id of [1, 3, 5, 7]) c.add(id, "done");
  assert.equal(c.check(1, "DATA"), undefined);
  assert.equal(c.check(3, "HEADERS"), undefined);
  assert.equal(code(() => c.check(7, "DATA")), H2_ERROR.STREAM_CLOSED);
  assert(code(() => c.check(5, "DATA")) !== undefined);
});
