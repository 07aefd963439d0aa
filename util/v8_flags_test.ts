import assert from "node:assert/strict";
import { denoRunArgs, V8_FLAGS } from "./v8_flags.ts";

Deno.test("denoRunArgs passes mesh's V8 flags before the entry point", () => {
  assert.deepEqual(denoRunArgs("main.ts"), ["run", "-A", `--v8-flags=${V8_FLAGS}`, "main.ts"]);
});

Deno.test("deno task mesh runs with the same V8 flags", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  assert.match(config.tasks.mesh, new RegExp(`--v8-flags=${V8_FLAGS}( |$)`));
});
