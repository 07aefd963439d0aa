/**
 * `--cert-dir`: a proxy keeps its certificate across restarts and renews with it, so a
 * restart doesn't need the bootstrap token again (here a single-use token, spent by the first
 * start: a restart without the saved certificate is refused).
 */
import assert from "node:assert/strict";
import { eventually, mesh, meshRun, TestMesh } from "./helpers.ts";

Deno.test("--cert-dir: a restarted proxy renews with its saved certificate, not the spent token", async () => {
  const m = await TestMesh.start();
  try {
    const r = await meshRun([
      "token",
      "create",
      `--data-dir=${m.dataDir}`,
      "--namespace=default",
      "--service-account=vm",
      "--ttl=1h",
      "--single-use",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const tokenFile = `${m.dir}/vm.token`;
    await Deno.writeTextFile(tokenFile, r.stdout.trim());
    const certDir = `${m.dir}/certs`;
    const start = (name: string, withCerts: boolean) => {
      const p = mesh(name, [
        "start",
        "--mode=proxy",
        `--control=https://127.0.0.1:${m.port}`,
        `--token-file=${tokenFile}`,
        "--service-account=vm",
        "--labels=app=vm",
        "--inbound-port=0",
        "--outbound-port=0",
        "--admin-port=0",
        ...(withCerts ? [`--cert-dir=${certDir}`] : []),
      ]);
      m.procs.push(p);
      return p;
    };
    const first = start("first", true);
    await first.waitFor(/proxy started/, 20_000);
    for (const f of ["key.pem", "cert-chain.pem", "roots.pem"]) {
      assert.equal((await Deno.stat(`${certDir}/${f}`)).mode! & 0o777, 0o600, f);
    }
    await first.stop();

    // Without the saved certificate, the spent token is refused.
    const without = start("without", false);
    await without.waitFor(/can't get a certificate; retrying/, 20_000);
    assert.match(without.output, /refused|spent|used/i);
    await without.stop();

    // With it, the restart renews with the certificate and serves.
    const again = start("again", true);
    await again.waitFor(/renewed the saved certificate/, 20_000);
    await again.waitFor(/proxy started/, 20_000);
    await eventually(() => /certificate issued/.test(again.output), 5_000, "issued");
  } finally {
    await m.close();
  }
});
