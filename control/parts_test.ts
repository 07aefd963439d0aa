import assert from "node:assert/strict";
import { applyWirePart, type HeldPart, type WirePart } from "../api/push_protocol.ts";
import { PartCache } from "./parts.ts";

const asHeld = (w: WirePart, held?: HeldPart) => applyWirePart(held, w);

Deno.test("equal content gets one part object and one version; other content another", () => {
  const cache = new PartCache();
  const a = cache.make("routes", [["r1", { name: "r1", n: 1 }]]);
  const b = cache.make("routes", [["r1", { name: "r1", n: 1 }]]);
  const c = cache.make("routes", [["r1", { name: "r1", n: 2 }]]);
  assert.equal(a, b);
  assert.notEqual(a.version, c.version);
  assert.match(a.version, /^[0-9a-f]{16}$/);
  assert.equal(cache.get(a.version), a);
  // The same items under another part name are another part.
  assert.notEqual(cache.make("clusters", [["r1", { name: "r1", n: 1 }]]).version, a.version);
});

Deno.test("a delta carries only changed items; applied to the base it gives the new part", () => {
  const cache = new PartCache();
  const items = (n: number) =>
    Array.from({ length: 50 }, (_, i) => [`c${i}`, { i, n: i === 7 ? n : 0 }] as [string, unknown]);
  const v1 = cache.make("endpoints", items(1));
  const v2 = cache.make("endpoints", items(2));
  const delta = v2.wire(v1);
  const wire = JSON.parse(delta) as WirePart;
  assert.deepEqual(Object.keys(wire.set), ["c7"]);
  assert.equal(wire.base, v1.version);
  assert.equal(wire.order, undefined, "same keys: no order");
  assert.ok(delta.length < v2.wire(undefined).length / 10);
  const held = asHeld(JSON.parse(v2.wire(v1)), asHeld(JSON.parse(v1.wire(undefined))));
  assert.equal(held.version, v2.version);
  assert.deepEqual(held.items.get("c7"), { i: 7, n: 2 });
  assert.equal(v2.wire(v1), delta, "the delta text is made once");
});

Deno.test("removing and reordering items sends the new order", () => {
  const cache = new PartCache();
  const v1 = cache.make("routes", [["a", 1], ["b", 2], ["c", 3]]);
  const v2 = cache.make("routes", [["c", 3], ["a", 1]]);
  const wire = JSON.parse(v2.wire(v1)) as WirePart;
  assert.deepEqual(wire.set, {});
  assert.deepEqual(wire.order, ["c", "a"]);
  const held = asHeld(wire, asHeld(JSON.parse(v1.wire(undefined))));
  assert.deepEqual(held.keys, ["c", "a"]);
  assert.equal(held.items.has("b"), false);
});
