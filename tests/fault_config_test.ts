/**
 * Fault suite, config and process faults, with real processes on loopback: a config file made
 * invalid while requests flow, the app behind a sidecar killed, a sidecar killed -9.
 *
 * Every loop is bounded by a count; waits are on readiness or on what the mesh reports
 * (`eventually`), never fixed sleeps; nothing asserts on elapsed time (curl's own
 * `--max-time` only turns a hang into a failure). Each test prints its figure as a
 * `fault: ...` line.
 */
import assert from "node:assert/strict";
import { configDump, curl, echoServer, eventually, Proc, TestMesh } from "./helpers.ts";

const HOST = "echo-b.default.svc.cluster.local";
const CLUSTER = `outbound|8080||${HOST}`;

const SERVICES = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo-b}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo-b}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo-c}
spec:
  hosts: [echo-c.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo-c}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo-b}
spec:
  host: echo-b
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

const vsTo = (subset: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo-b
spec:
  hosts: [echo-b]
  http:
  - route:
    - destination: {host: echo-b, subset: ${subset}}
`;

/** Not YAML (an unclosed flow mapping); it names v2, so serving any of it would show. */
const INVALID_YAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo-b
spec:
  hosts: [echo-b]
  http:
  - route:
    - destination: {host: echo-b, subset: v2}
`;

/** YAML, but not a valid VirtualService: an unknown field and a negative weight (to v2). */
const INVALID_FIELDS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo-b
spec:
  hosts: [echo-b]
  http:
  - routes: []
    route:
    - destination: {host: echo-b, subset: v2}
      weight: -5
`;

/** A request from the client sidecar's outbound listener to `host`; `curl` bounds it. */
async function via(outbound: number, host = "echo-b", path = "/") {
  const r = await curl(["-x", `http://127.0.0.1:${outbound}`, `http://${host}:8080${path}`]);
  let name: string | undefined;
  try {
    name = JSON.parse(r.body).name;
  } catch { /* not the app's answer */ }
  return { status: r.status, name, body: r.body, stderr: r.stderr };
}

/** The control plane's `/debug/configz`. */
async function configz(m: TestMesh): Promise<{
  store: { rejected: { file: string; errors: number; servingLastGood: boolean }[] };
  resources: { kind: string; name: string; file: string }[];
  diagnostics: string[];
}> {
  const r = await fetch(`http://127.0.0.1:${m.adminPort}/debug/configz`);
  return await r.json();
}

/** A proxy's admin `/ready`. */
async function ready(admin: number): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${admin}/ready`).catch(() => undefined);
  await r?.body?.cancel();
  return r?.ok ?? false;
}

/** True while `proc` runs (an exit already seen settles first: the timer runs after it). */
async function alive(proc: Proc): Promise<boolean> {
  return await Promise.race([
    proc.status.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 0)),
  ]);
}

Deno.test("fault: a VirtualService made invalid under load keeps its last good version serving; a valid change applies", async () => {
  const m = await TestMesh.start({ "services.yaml": SERVICES, "vs.yaml": vsTo("v1") });
  const v1 = echoServer("b-v1");
  const v2 = echoServer("b-v2");
  try {
    const [, , a] = await Promise.all([
      m.sidecar({
        name: "b-v1",
        serviceAccount: "b",
        labels: "app=echo-b,version=v1",
        appPort: v1.port,
      }),
      m.sidecar({
        name: "b-v2",
        serviceAccount: "b",
        labels: "app=echo-b,version=v2",
        appPort: v2.port,
      }),
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
    ]);
    await eventually(
      async () => (await configDump(a.admin)).config?.clusters[CLUSTER]?.endpoints.length === 2,
      20_000,
      "the client proxy to learn both endpoints",
    );
    await eventually(async () => (await via(a.outbound)).name === "b-v1", 20_000, "routing to v1");

    const vsFile = `${m.configDir}/vs.yaml`;
    const TOTAL = 200;
    const WORKERS = 4;
    type Phase = "good" | "invalid-yaml" | "invalid-fields" | "valid-change";
    let phase: Phase = "good";
    // Each request's phase when it started and when it ended.
    const results: {
      i: number;
      phase: Phase;
      endPhase: Phase;
      status: number;
      name?: string;
      err: string;
    }[] = [];
    // Requests from `gate.at` on wait until that edit is written (only the write: they go on
    // while the control plane takes it in), so the edits land while requests are in flight.
    const gates = [50, 100, 150].map((at) => ({ at, open: Promise.withResolvers<void>() }));
    const reached = (n: number) => {
      const w = Promise.withResolvers<void>();
      const check = () => results.length >= n ? w.resolve() : setTimeout(check, 5);
      check();
      return w.promise;
    };
    let next = 0;
    const load = Promise.all(Array.from({ length: WORKERS }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        for (const g of gates) if (i >= g.at) await g.open.promise;
        const started: Phase = phase;
        const r = await via(a.outbound, "echo-b", `/load/${i}`);
        results.push({
          i,
          phase: started,
          endPhase: phase,
          status: r.status,
          name: r.name,
          err: r.stderr,
        });
      }
    }));

    const edits = (async () => {
      // 1. Not YAML: rejected, named in configz, the last good version still served.
      await reached(40);
      await Deno.writeTextFile(vsFile, INVALID_YAML);
      phase = "invalid-yaml";
      gates[0].open.resolve();
      const z1 = await eventually(
        async () => {
          const z = await configz(m);
          return z.store.rejected.some((f) => f.file === "vs.yaml") && z;
        },
        20_000,
        "configz to show vs.yaml rejected (YAML)",
      );
      const r1 = z1.store.rejected.find((f) => f.file === "vs.yaml")!;
      assert.ok(r1.errors >= 1 && r1.servingLastGood, JSON.stringify(r1));
      assert.ok(
        z1.diagnostics.some((d) => d.includes("vs.yaml:") && d.includes("error")),
        z1.diagnostics.join("\n"),
      );
      assert.ok(z1.resources.some((r) => r.kind === "VirtualService" && r.name === "echo-b"));

      // 2. YAML with invalid fields: rejected the same way, the field named.
      await reached(90);
      await Deno.writeTextFile(vsFile, INVALID_FIELDS);
      phase = "invalid-fields";
      gates[1].open.resolve();
      const z2 = await eventually(
        async () => {
          const z = await configz(m);
          return z.diagnostics.some((d) => d.includes("vs.yaml:") && /routes|weight/.test(d)) &&
            z;
        },
        20_000,
        "configz to name vs.yaml's invalid fields",
      );
      const r2 = z2.store.rejected.find((f) => f.file === "vs.yaml");
      assert.ok(r2 && r2.servingLastGood, JSON.stringify(z2.store.rejected));

      // 3. A valid change (to v2): accepted and applied.
      await reached(140);
      await Deno.writeTextFile(vsFile, vsTo("v2"));
      phase = "valid-change";
      gates[2].open.resolve();
      await eventually(
        async () => !(await configz(m)).store.rejected.some((f) => f.file === "vs.yaml"),
        20_000,
        "configz to accept vs.yaml again",
      );
    })();
    // If the edits fail, the gates never open: open them so the load ends, then report.
    await edits.catch((err) => {
      for (const g of gates) g.open.resolve();
      throw err;
    }).finally(() => load);
    await load;

    const failed = results.filter((r) => r.status !== 200);
    console.log(`fault: invalid config under load: ${failed.length}/${results.length} failed`);
    assert.equal(results.length, TOTAL);
    assert.deepEqual(failed, [], "no request fails while the config is invalid");
    // Every request answered before the valid change was written went by the last good
    // version (v1), while the file held invalid YAML and then invalid fields.
    const early = results.filter((r) => r.endPhase !== "valid-change");
    assert.deepEqual(early.filter((r) => r.name !== "b-v1"), [], "last good config kept serving");
    assert.ok(early.some((r) => r.phase === "invalid-yaml"), "requests ran on invalid YAML");
    assert.ok(early.some((r) => r.phase === "invalid-fields"), "requests ran on invalid fields");
    // The valid change is applied.
    await eventually(async () => (await via(a.outbound)).name === "b-v2", 20_000, "routing to v2");
    for (let i = 0; i < 5; i++) assert.equal((await via(a.outbound)).name, "b-v2");
    const late = results.filter((r) => r.endPhase === "valid-change");
    console.log(
      `fault: invalid config under load: ${early.length} requests during the invalid edits all ` +
        `served by v1; ${late.filter((r) => r.name === "b-v2").length}/${late.length} after the ` +
        `valid change already on v2`,
    );
  } finally {
    await m.close();
    await v1.close();
    await v2.close();
  }
});

/** The echo app as its own process, on `port` (0: any), so it can be killed. */
function echoApp(dir: string, name: string, port = 0): Proc {
  const code = `const port = Number(Deno.args[0]);
const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: ({ port }) =>
  console.log("listening on " + port) }, (req) =>
  Response.json({ name: ${JSON.stringify(name)}, url: new URL(req.url).pathname }));
`;
  const file = `${dir}/echo-app.ts`;
  Deno.writeTextFileSync(file, code);
  return new Proc(name, Deno.execPath(), ["run", "--allow-net", file, String(port)]);
}

Deno.test("fault: the app behind a sidecar killed: 503s, the sidecar lives and serves again when the app is back", async () => {
  const m = await TestMesh.start({ "services.yaml": SERVICES });
  let app = echoApp(m.dir, "b-v1");
  m.procs.push(app);
  try {
    const appPort = Number((await app.waitFor(/listening on (\d+)/))[1]);
    const [b, a] = await Promise.all([
      m.sidecar({ name: "b-v1", serviceAccount: "b", labels: "app=echo-b,version=v1", appPort }),
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
    ]);
    await eventually(async () => (await via(a.outbound)).status === 200, 20_000, "b reachable");

    const N = 20;
    app.child.kill("SIGKILL");
    await app.status;
    const down: Awaited<ReturnType<typeof via>>[] = [];
    for (let i = 0; i < N; i++) down.push(await via(a.outbound, "echo-b", `/down/${i}`));
    const hung = down.filter((r) => r.status === 0);
    const got503 = down.filter((r) => r.status === 503);
    assert.deepEqual(hung, [], "no request hangs or loses its connection");
    assert.equal(got503.length, N, JSON.stringify(down.filter((r) => r.status !== 503)));
    assert.ok(await alive(b.proc), `the sidecar is still running:\n${b.proc.output.slice(-2000)}`);
    assert.ok(await alive(a.proc), "the client sidecar is still running");
    assert.ok(await ready(b.admin), "the sidecar's admin still answers");

    // The app comes back on the same port: the same sidecar serves it again.
    app = echoApp(m.dir, "b-v1", appPort);
    m.procs.push(app);
    await app.waitFor(new RegExp(`listening on ${appPort}\\b`));
    await eventually(async () => (await via(a.outbound)).status === 200, 20_000, "b serving again");
    const up: Awaited<ReturnType<typeof via>>[] = [];
    for (let i = 0; i < N; i++) up.push(await via(a.outbound, "echo-b", `/up/${i}`));
    const upOk = up.filter((r) => r.status === 200 && r.name === "b-v1").length;
    console.log(
      `fault: app killed: ${got503.length}/${N} got 503 while it was down (${hung.length} hung), ` +
        `sidecar alive; ${upOk}/${N} ok once it was back on port ${appPort}`,
    );
    assert.equal(upOk, N, JSON.stringify(up.filter((r) => r.status !== 200)));
  } finally {
    await m.close();
  }
});

Deno.test("fault: a sidecar killed -9 and restarted: requests to it fail only while it is down", async () => {
  const m = await TestMesh.start({ "services.yaml": SERVICES });
  const appB = echoServer("b-v1");
  const appC = echoServer("c");
  try {
    const [b, , a] = await Promise.all([
      m.sidecar({
        name: "b-v1",
        serviceAccount: "b",
        labels: "app=echo-b,version=v1",
        appPort: appB.port,
      }),
      m.sidecar({ name: "c", serviceAccount: "c", labels: "app=echo-c", appPort: appC.port }),
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
    ]);
    await eventually(async () => (await via(a.outbound)).status === 200, 20_000, "b reachable");
    await eventually(async () => (await via(a.outbound, "echo-c")).status === 200, 20_000, "c");

    const N = 20;
    const before: number[] = [];
    for (let i = 0; i < N; i++) {
      before.push((await via(a.outbound, "echo-b", `/before/${i}`)).status);
    }
    assert.deepEqual(before.filter((s) => s !== 200), [], "all ok before the kill");

    b.proc.child.kill("SIGKILL");
    await b.proc.status;
    // While it is down: requests to it fail cleanly (no hang), the rest of the mesh is untouched.
    const downB: number[] = [];
    const downC: number[] = [];
    for (let i = 0; i < N; i++) {
      downB.push((await via(a.outbound, "echo-b", `/down/${i}`)).status);
      downC.push((await via(a.outbound, "echo-c", `/down/${i}`)).status);
    }
    assert.deepEqual(downB.filter((s) => s === 0), [], "no request to the dead proxy hangs");
    assert.deepEqual(downB.filter((s) => s !== 503), [], `requests to it get 503: ${downB}`);
    assert.deepEqual(downC.filter((s) => s !== 200), [], "other services keep serving");
    assert.ok(await alive(a.proc), "the client sidecar is still running");

    // Restarted (new ports, same identity and labels): it re-registers and serves again.
    const b2 = await m.sidecar({
      name: "b-v1-restarted",
      serviceAccount: "b",
      labels: "app=echo-b,version=v1",
      appPort: appB.port,
    });
    await eventually(
      async () => {
        const eps = (await configDump(a.admin)).config?.clusters[CLUSTER]?.endpoints as
          | { port: number }[]
          | undefined;
        return eps?.length === 1 && eps[0].port === b2.inbound;
      },
      30_000,
      "the client proxy to have only the restarted sidecar's endpoint",
    );
    await eventually(async () => (await via(a.outbound)).status === 200, 20_000, "b serving again");
    const after: number[] = [];
    for (let i = 0; i < N; i++) after.push((await via(a.outbound, "echo-b", `/after/${i}`)).status);
    const failedAfter = after.filter((s) => s !== 200).length;
    console.log(
      `fault: proxy killed: ${before.length - before.filter((s) => s === 200).length}/${N} ` +
        `failed before, ${downB.filter((s) => s !== 200).length}/${N} failed while down ` +
        `(all 503; other service ${downC.filter((s) => s === 200).length}/${N} ok), ` +
        `${failedAfter}/${N} failed after it re-registered`,
    );
    assert.equal(failedAfter, 0, `after re-registration: ${after}`);
  } finally {
    await m.close();
    await appB.close();
    await appC.close();
  }
});
