/**
 * Faults of the control plane with real processes on loopback: killed
 * (`kill -9`, no goodbye) or stopped (SIGTERM) under load, then restarted on
 * the same port and data dir. Proxies must keep serving with their last
 * config (no failed request), stay alive, find the control plane again, and
 * no push from the restarted control plane may take a live endpoint away.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { configDump, echoServer, eventually, serviceEntryYaml, TestMesh } from "./helpers.ts";
import type { Proc } from "./helpers.ts";

const SERVICE = serviceEntryYaml("echo");
const CLUSTER = "outbound|8080||echo.default.svc.cluster.local";

interface Sync {
  node: string;
  identity: string;
  sent?: string;
  acked?: string;
}

async function syncz(m: TestMesh): Promise<Sync[]> {
  const r = await fetch(`http://127.0.0.1:${m.adminPort}/debug/syncz`);
  return await r.json();
}

/** Sequential requests through a proxy's outbound port to `echo`, counted. */
function load(outbound: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const result = { sent: 0, failed: 0, errors: [] as string[] };
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      result.sent++;
      const fail = (why: string) => {
        result.failed++;
        if (result.errors.length < 10) result.errors.push(`request ${i}: ${why}`);
        resolve();
      };
      const req = http.request(
        {
          host: "127.0.0.1",
          port: outbound,
          path: `/r${i}`,
          headers: { host: "echo:8080" },
          agent,
        },
        (res) => {
          res.resume();
          res.on("end", () => res.statusCode === 200 ? resolve() : fail(`${res.statusCode}`));
          res.on("error", (err) => fail(err.message));
        },
      );
      req.on("error", (err) => fail(err.message));
      req.setTimeout(5000, () => req.destroy(new Error("timeout after 5 s")));
      req.end();
    });
  return {
    result,
    /** Sends `n` more requests, one after another. */
    async run(n: number) {
      for (let i = 0; i < n; i++) await one(result.sent);
    },
    close: () => agent.destroy(),
  };
}

const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

/** Attempts the proxy logged for its latest push stream open. */
function lastAttempts(p: Proc): number {
  const all = [...p.output.matchAll(/push stream open .*attempts=(\d+)/g)];
  return Number(all.at(-1)?.[1] ?? 0);
}

/** Watches whether a process exited. */
function watchExit(p: Proc) {
  const w = { exited: false, code: undefined as number | undefined };
  p.status.then((s) => {
    w.exited = true;
    w.code = s.code;
  });
  return w;
}

/** The client proxy's endpoints of `echo` (addresses), from its config dump. */
async function endpointsOf(admin: number): Promise<string[]> {
  const d = await configDump(admin);
  return (d.config?.clusters[CLUSTER]?.endpoints ?? []).map((e) => JSON.stringify(e));
}

async function controlFault(signal: "SIGKILL" | "SIGTERM") {
  const label = signal === "SIGKILL" ? "kill -9" : "SIGTERM";
  const m = await TestMesh.start({ "s.yaml": SERVICE });
  const app = echoServer("echo");
  const traffic: ReturnType<typeof load>[] = [];
  try {
    const [b, a, gw] = await Promise.all([
      m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort: app.port }),
      m.sidecar({ name: "a", serviceAccount: "client", labels: "app=client" }),
      m.gateway(),
    ]);
    const proxies = [a, b, gw];
    const exits = proxies.map((p) => watchExit(p.proc));
    const nodes = await eventually(
      async () => {
        const s = await syncz(m);
        return s.length === 3 && s.every((e) => e.acked) && s.map((e) => e.node).sort();
      },
      20_000,
      "three proxies synced",
    );
    await eventually(async () => (await endpointsOf(a.admin)).length === 1, 10_000, "endpoint");
    const endpoint = (await endpointsOf(a.admin))[0];
    const l = load(a.outbound);
    traffic.push(l);

    // 1. Warm: the control plane is up.
    await l.run(100);
    // 2. The control plane goes away; every proxy notices and keeps serving.
    const lost = proxies.map((p) => count(p.proc.output, /push stream lost/));
    if (signal === "SIGKILL") {
      await savedWorkloads(m, 1); // saved at most once a second: on disk before the kill
      m.control.child.kill("SIGKILL");
      await m.control.status;
    } else {
      await m.control.stop();
    }
    await eventually(
      () => proxies.every((p, i) => count(p.proc.output, /push stream lost/) > lost[i]),
      20_000,
      "every proxy to notice the control plane is gone",
    );
    await l.run(100);
    // 3. It comes back on the same port and data dir; traffic goes on while proxies reconnect.
    const restarting = m.startControl();
    await l.run(50);
    await restarting;
    const endpointSeen: boolean[] = [];
    await eventually(
      async () => {
        // Throughout the reconnect, the client proxy keeps the server's endpoint.
        endpointSeen.push((await endpointsOf(a.admin)).includes(endpoint));
        const s = await syncz(m);
        return s.length === 3 && s.every((e) => e.acked && e.acked === e.sent) &&
          JSON.stringify(s.map((e) => e.node).sort()) === JSON.stringify(nodes);
      },
      20_000,
      "the same three proxies to reconnect to the restarted control plane and ack its config",
    );
    await l.run(50);
    // The config the client proxy runs now came from the restarted control plane.
    const client = (await syncz(m)).find((e) => e.identity === "default/client");
    assert.equal((await configDump(a.admin)).version, client?.acked);
    assert.deepEqual(await endpointsOf(a.admin), [endpoint]);
    assert.ok(
      endpointSeen.every(Boolean),
      `endpoint missing in ${endpointSeen.filter((x) => !x).length} dumps`,
    );

    const attempts = Math.max(...proxies.map((p) => lastAttempts(p.proc)));
    console.log(
      `fault: ${label} control: ${l.result.failed}/${l.result.sent} failed, ` +
        `reconnected in ${attempts} attempts (most of any proxy), ` +
        `endpoint kept in ${endpointSeen.length}/${endpointSeen.length} dumps`,
    );
    assert.equal(l.result.sent, 300);
    assert.equal(l.result.failed, 0, l.result.errors.join("; "));
    for (const [i, e] of exits.entries()) {
      assert.ok(
        !e.exited,
        `${proxies[i].proc.name} exited (${e.code}):\n${proxies[i].proc.output}`,
      );
    }
    for (const p of proxies) {
      assert.doesNotMatch(p.proc.output, /Uncaught|HTTP\/2 sockets/);
    }
    assert.ok(attempts >= 1);
  } finally {
    for (const t of traffic) t.close();
    await m.close();
    await app.close();
  }
}

/** Waits until the control plane's data dir holds `n` registered workloads (saved coalesced). */
async function savedWorkloads(m: TestMesh, n: number): Promise<void> {
  await eventually(
    async () => {
      const saved = await Deno.readTextFile(`${m.dataDir}/workloads.json`).catch(() => "[]");
      return (JSON.parse(saved) as unknown[]).length === n;
    },
    10_000,
    `${n} registered workload(s) saved`,
  );
}

Deno.test("control plane kill -9 under load: no failed request, proxies live on and reconnect", async () => {
  await controlFault("SIGKILL");
});

Deno.test("control plane SIGTERM under load: no failed request, proxies live on and reconnect", async () => {
  await controlFault("SIGTERM");
});

Deno.test("a restarted control plane keeps a restored workload's endpoint until its proxy is back", async () => {
  const m = await TestMesh.start({ "s.yaml": SERVICE });
  const app = echoServer("echo");
  let stopped: Proc | undefined;
  try {
    const [b, a] = await Promise.all([
      m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort: app.port }),
      m.sidecar({ name: "a", serviceAccount: "client", labels: "app=client" }),
    ]);
    await eventually(async () => (await endpointsOf(a.admin)).length === 1, 10_000, "endpoint");
    const endpoint = (await endpointsOf(a.admin))[0];
    const seen: boolean[] = [];
    const check = async () => {
      seen.push((await endpointsOf(a.admin)).includes(endpoint));
      return seen.at(-1);
    };
    await savedWorkloads(m, 1);
    m.control.child.kill("SIGKILL");
    await m.control.status;
    // The server's proxy can't reconnect (stopped), so only its restored entry can keep it.
    b.proc.child.kill("SIGSTOP");
    stopped = b.proc;
    await m.startControl();
    await m.control.waitFor(/restored registered workloads .*workloads=1/);
    const aSync = await eventually(
      async () => {
        await check();
        const s = await syncz(m);
        return s.length === 1 && !!s[0].acked && s[0].acked === s[0].sent ? s[0] : undefined;
      },
      20_000,
      "the client proxy to reconnect and ack the restarted control plane's config",
    );
    assert.equal((await configDump(a.admin)).version, aSync.acked);
    assert.ok(await check(), "the config from the restarted control plane keeps b's endpoint");
    const whileAway = seen.length;
    b.proc.child.kill("SIGCONT");
    stopped = undefined;
    await eventually(
      async () => {
        await check();
        const s = await syncz(m);
        return s.length === 2 && s.every((e) => e.acked && e.acked === e.sent);
      },
      20_000,
      "b to reconnect",
    );
    // Back and registered once: the restored entry gave way to the live one.
    assert.deepEqual(await endpointsOf(a.admin), [endpoint]);
    const l = load(a.outbound);
    await l.run(20);
    l.close();
    console.log(
      `fault: restored endpoint kept in ${seen.filter(Boolean).length}/${seen.length} dumps ` +
        `(${whileAway} while its proxy was stopped), ${l.result.failed}/${l.result.sent} failed after`,
    );
    assert.ok(seen.every(Boolean), "b's endpoint vanished from the client proxy at some point");
    assert.equal(l.result.failed, 0, l.result.errors.join("; "));
    assert.doesNotMatch(m.control.output, /dropped workloads that did not reconnect/);
  } finally {
    stopped?.child.kill("SIGCONT");
    await m.close();
    await app.close();
  }
});
