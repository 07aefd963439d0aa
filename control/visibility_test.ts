import assert from "node:assert/strict";
import { exportedTo } from "./visibility.ts";

Deno.test("exportedTo: ., *, ~, names, and the default", () => {
  assert.equal(exportedTo(undefined, "shop", "web"), true);
  assert.equal(exportedTo([], "shop", "web"), true);
  assert.equal(exportedTo(["."], "shop", "shop"), true);
  assert.equal(exportedTo(["."], "shop", "web"), false);
  assert.equal(exportedTo(["*"], "shop", "web"), true);
  assert.equal(exportedTo(["~"], "shop", "shop"), false);
  assert.equal(exportedTo([".", "web"], "shop", "web"), true);
  assert.equal(exportedTo(["web"], "shop", "shop"), false);
});
