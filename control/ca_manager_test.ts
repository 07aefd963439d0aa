import assert from "node:assert/strict";
import { CaManager } from "./ca_manager.ts";

Deno.test("CaManager: the audit log is rotated by size, keeping auditKeep old files", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mesh-ca-manager-" });
  try {
    const m = await CaManager.start({
      dataDir,
      trustDomain: "cluster.local",
      servingNames: ["localhost"],
      auditMaxBytes: 1000,
      auditKeep: 2,
    });
    for (let i = 0; i < 60; i++) {
      await m.audit({ event: "issued", serial: i.toString(16).padStart(32, "0") });
    }
    const dir = `${dataDir}/ca`;
    const logs = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("audit"))
      .sort();
    assert.deepEqual(logs, ["audit.log", "audit.log.1", "audit.log.2"]);
    let lines = 0;
    for (const f of logs) {
      const text = await Deno.readTextFile(`${dir}/${f}`);
      assert.ok(text.length <= 1000, `${f}: ${text.length} bytes`);
      for (const l of text.trimEnd().split("\n")) {
        const r = JSON.parse(l);
        assert.equal(r.event, "issued");
        assert.match(r.time, /^\d{4}-/);
        lines++;
      }
      assert.equal((await Deno.stat(`${dir}/${f}`)).mode! & 0o777, 0o600);
    }
    // The newest record is the last line of audit.log.
    const last = (await Deno.readTextFile(`${dir}/audit.log`)).trimEnd().split("\n").at(-1)!;
    assert.equal(JSON.parse(last).serial, (59).toString(16).padStart(32, "0"));
    assert.equal(m.auditPending, 0);
    console.log(`audit rotation: 60 records at 1000 bytes/file, keep 2 → ${lines} newest kept`);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
