import assert from "node:assert/strict";
import {
  applyWirePart,
  assembleConfig,
  BaseMismatch,
  type HeldPart,
  PART_NAMES,
  splitItems,
} from "./push_protocol.ts";
import type { ProxyConfig } from "./proxy_config.ts";

const config: ProxyConfig = {
  version: "3",
  trustDomain: "cluster.local",
  roots: "PEM",
  outboundTrafficPolicy: "REGISTRY_ONLY",
  virtualHosts: [
    { name: "b:80", domains: ["b"], routes: [] },
    { name: "a:80", domains: ["a", "*"], routes: [] },
  ],
  listeners: [],
  clusters: {
    "outbound|80||a": {
      name: "outbound|80||a",
      host: "a",
      port: 80,
      lb: "ROUND_ROBIN",
      endpoints: [{ address: "10.0.0.1", port: 80, mtls: true, labels: {} }],
    },
  },
  authz: [],
  inboundMtls: "PERMISSIVE",
};

function held(items: Array<[string, unknown]>, version: string): HeldPart {
  return { version, keys: items.map(([k]) => k), items: new Map(items) };
}

Deno.test("a config split into parts and assembled again is the same config, routes in order", () => {
  const parts = splitItems(config);
  const heldParts = Object.fromEntries(
    PART_NAMES.map((p) => [p, held(parts[p], `v-${p}`)]),
  );
  assert.deepEqual(assembleConfig("3", heldParts), config);
  assert.deepEqual(parts.routes.map(([k]) => k), ["b:80", "a:80"]);
  assert.deepEqual(parts.endpoints, [[
    "outbound|80||a",
    config.clusters["outbound|80||a"].endpoints,
  ]]);
  assert.ok(
    !("endpoints" in (parts.clusters[0][1] as object)),
    "clusters travel without endpoints",
  );
});

Deno.test("a delta sets changed items, keeps the order without `order`, removes keys not in a new order", () => {
  const base = held([["a", 1], ["b", 2], ["c", 3]], "v1");
  const kept = applyWirePart(base, { version: "v2", base: "v1", set: { b: 20 } });
  assert.deepEqual(kept.keys, ["a", "b", "c"]);
  assert.equal(kept.items.get("b"), 20);
  assert.equal(base.items.get("b"), 2, "the held part is not changed in place");
  const cut = applyWirePart(kept, { version: "v3", base: "v2", set: { d: 4 }, order: ["d", "a"] });
  assert.deepEqual(cut.keys, ["d", "a"]);
  assert.deepEqual([...cut.items.keys()].sort(), ["a", "d"]);
  const whole = applyWirePart(cut, { version: "v4", set: { x: 1 }, order: ["x"] });
  assert.deepEqual([...whole.items], [["x", 1]]);
});

Deno.test("a delta from a version not held, or listing a key it lacks, is refused", () => {
  const base = held([["a", 1]], "v1");
  assert.throws(() => applyWirePart(base, { version: "v2", base: "v0", set: {} }), BaseMismatch);
  assert.throws(
    () => applyWirePart(undefined, { version: "v2", base: "v1", set: {} }),
    BaseMismatch,
  );
  assert.throws(
    () => applyWirePart(base, { version: "v2", base: "v1", set: {}, order: ["a", "zz"] }),
    /lists "zz"/,
  );
});

Deno.test("an item under the wrong part is refused when assembling", () => {
  assert.throws(
    () => assembleConfig("1", { secrets: held([["authz", []]], "v") }),
    /secrets has an unknown item "authz"/,
  );
});
