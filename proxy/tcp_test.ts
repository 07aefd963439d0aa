import assert from "node:assert/strict";
import { pickCluster } from "./tcp.ts";

Deno.test("pickCluster: one cluster, or one of a tcp route's by weight", () => {
  assert.equal(pickCluster(undefined), undefined);
  assert.equal(pickCluster({ cluster: "a" }), "a");
  const target = {
    cluster: "ignored",
    destinations: [{ cluster: "v1", weight: 80 }, { cluster: "v2", weight: 20 }],
  };
  assert.equal(pickCluster(target, () => 0), "v1");
  assert.equal(pickCluster(target, () => 0.79), "v1");
  assert.equal(pickCluster(target, () => 0.8), "v2");
  assert.equal(pickCluster(target, () => 0.999), "v2");
});
