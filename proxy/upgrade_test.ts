import assert from "node:assert/strict";
import { switchingHeaders, upgradeOf } from "./upgrade.ts";

Deno.test("upgradeOf: websocket is carried, h2c ignored, other types refused", () => {
  assert.deepEqual(upgradeOf([["connection", "Upgrade"], ["upgrade", "WebSocket"]]), {
    type: "websocket",
  });
  assert.deepEqual(
    upgradeOf([["connection", "keep-alive, Upgrade"], ["upgrade", "websocket"]]),
    { type: "websocket" },
  );
  // Upgrade without Connection: upgrade is no upgrade request.
  assert.equal(upgradeOf([["upgrade", "websocket"]]), undefined);
  assert.equal(upgradeOf([["connection", "upgrade"]]), undefined);
  assert.equal(
    upgradeOf([["connection", "Upgrade, HTTP2-Settings"], ["upgrade", "h2c"]]),
    undefined,
  );
  assert.deepEqual(upgradeOf([["connection", "upgrade"], ["upgrade", "foo/2"]]), {
    refused: "foo",
  });
  assert.equal(upgradeOf([["host", "x"]]), undefined);
});

Deno.test("switchingHeaders: hop-by-hop dropped, the upgrade's own added once", () => {
  assert.deepEqual(
    switchingHeaders([
      ["connection", "Upgrade, x-hop"],
      ["upgrade", "websocket"],
      ["x-hop", "1"],
      ["sec-websocket-accept", "abc"],
      ["content-length", "0"],
    ], "websocket"),
    [["sec-websocket-accept", "abc"], ["connection", "upgrade"], ["upgrade", "websocket"]],
  );
});
