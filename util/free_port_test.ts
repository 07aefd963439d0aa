import assert from "node:assert/strict";
import { ephemeralRange, freePort } from "./free_port.ts";

Deno.test("freePort: bindable, below the ephemeral range, never the same twice", () => {
  const [lo] = ephemeralRange();
  const seen = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const port = freePort();
    assert.ok(!seen.has(port), `port ${port} handed out twice`);
    seen.add(port);
    if (lo > 11_000) assert.ok(port >= 10_000 && port < lo, `port ${port} inside ${lo}..`);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }
});

Deno.test("ephemeralRange: a sane range", () => {
  const [lo, hi] = ephemeralRange();
  assert.ok(lo > 0 && hi >= lo);
});
