import assert from "node:assert/strict";
import { storeContract, virtualService } from "./contract.ts";
import { MemoryStore } from "./memory.ts";
import { validateInputs } from "./common.ts";

storeContract(
  "memory",
  () => Promise.resolve({ store: new MemoryStore(), cleanup: async () => {} }),
);

Deno.test("MemoryStore: initial resources make revision 1 and are copied, not frozen in place", () => {
  const { resources } = validateInputs([virtualService("reviews")]);
  const input = structuredClone(resources[0]);
  const store = new MemoryStore([input]);
  assert.equal(store.revision, 1);
  assert.ok(store.get("VirtualService", "default", "reviews"));
  assert.ok(!Object.isFrozen(input));
  assert.deepEqual(new MemoryStore().snapshot(), { revision: 1, resources: [], diagnostics: [] });
});
