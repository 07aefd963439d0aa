import assert from "node:assert/strict";
import { UsedTokens, UsedTokensSaveError } from "./used_tokens.ts";

const later = () => new Date(Date.now() + 3600_000);

Deno.test("a spent token stays spent, also after a reload", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-used-" });
  try {
    const u = await UsedTokens.load(`${dir}/used.json`);
    assert.equal(await u.spend("a", later()), true);
    assert.equal(await u.spend("a", later()), false);
    const again = await UsedTokens.load(`${dir}/used.json`);
    assert.equal(await again.spend("a", later()), false);
    assert.equal(await again.spend("b", later()), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token whose spending can't be written is not burned, and later saves still work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-used-" });
  try {
    // The list's directory is missing: every write fails, as on a full or read-only disk.
    const u = await UsedTokens.load(`${dir}/gone/used.json`);
    const err = await u.spend("a", later()).then(() => undefined, (e) => e);
    assert.ok(err instanceof UsedTokensSaveError, String(err));
    assert.match(err.message, /can't write .*gone\/used\.json/);
    // Not burned: the same token can be spent once the disk is back.
    await Deno.mkdir(`${dir}/gone`);
    assert.equal(await u.spend("a", later()), true);
    assert.equal(await u.spend("a", later()), false);
    const reloaded = await UsedTokens.load(`${dir}/gone/used.json`);
    assert.equal(await reloaded.spend("a", later()), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expired ids are forgotten", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-used-" });
  try {
    const u = await UsedTokens.load(`${dir}/used.json`);
    const past = new Date(Date.now() - 1000);
    assert.equal(u.claim("old", past), true);
    assert.equal(u.claim("old", later()), true, "an expired entry no longer blocks");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
