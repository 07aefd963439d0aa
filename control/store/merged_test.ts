import assert from "node:assert/strict";
import { storeContract, virtualService } from "./contract.ts";
import { MemoryStore } from "./memory.ts";
import { MergedStore } from "./merged.ts";

storeContract("memory+memory", () =>
  Promise.resolve({
    store: new MergedStore([new MemoryStore(), new MemoryStore()]),
    cleanup: () => Promise.resolve(),
  }));

Deno.test("merged store: the union of its sources; the first source wins a key and takes writes", async () => {
  const first = new MemoryStore();
  const second = new MemoryStore();
  const merged = new MergedStore([first, second]);
  try {
    await second.apply([virtualService("ratings"), virtualService("reviews", { subset: "v2" })]);
    await first.apply([virtualService("reviews", { subset: "v1" })]);
    const names = merged.list("VirtualService").map((r) => r.metadata.name);
    assert.deepEqual(names, ["ratings", "reviews"]);
    const reviews = merged.get("VirtualService", "default", "reviews");
    assert.equal(
      reviews?.kind === "VirtualService" && reviews.spec.http?.[0].route?.[0].destination.subset,
      "v1",
    );
    const warning = merged.snapshot().diagnostics.find((d) => d.name === "reviews");
    assert.match(warning?.message ?? "", /also in the memory source, which comes first/);
    await merged.apply([virtualService("details")]);
    assert.ok(first.get("VirtualService", "default", "details"));
    assert.equal(second.get("VirtualService", "default", "details"), undefined);
    assert.equal(merged.backend, "memory+memory");
  } finally {
    await merged.close();
  }
});
