import assert from "node:assert/strict";
import {
  isLocalAddress,
  isOwnListener,
  MAX_VIA_HOPS,
  newProxyId,
  viaLoop,
  withVia,
} from "./loop.ts";

Deno.test("isLocalAddress: loopback, any-address and their IPv6 and mapped forms", () => {
  for (
    const a of [
      "127.0.0.1",
      "127.9.8.7",
      "localhost",
      "LOCALHOST.",
      "0.0.0.0",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::",
      "::ffff:127.0.0.1",
      "[::ffff:7f00:1]",
      "x.localhost",
    ]
  ) {
    assert.ok(isLocalAddress(a), a);
  }
  for (const a of ["192.0.2.1", "example.com", "::2", "2001:db8::1", "128.0.0.1"]) {
    assert.ok(!isLocalAddress(a), a);
  }
});

Deno.test("isOwnListener: a local address on one of the proxy's ports", () => {
  assert.ok(isOwnListener("127.0.0.1", 15001, [15001, 15006]));
  assert.ok(isOwnListener("0.0.0.0", 15006, [15001, 15006]));
  assert.ok(!isOwnListener("127.0.0.1", 8080, [15001, 15006]));
  assert.ok(!isOwnListener("192.0.2.1", 15001, [15001]));
});

Deno.test("viaLoop: a proxy's own id, or too many hops, is a loop", () => {
  const id = newProxyId();
  assert.equal(viaLoop(null, id), undefined);
  assert.equal(viaLoop("aaaa, bbbb", id), undefined);
  assert.ok(viaLoop(withVia("aaaa", id), id));
  assert.equal(withVia(undefined, id), id);
  const long = Array.from({ length: MAX_VIA_HOPS }, (_, i) => `p${i}`).join(",");
  assert.ok(viaLoop(long, id));
});
