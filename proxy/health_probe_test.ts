import assert from "node:assert/strict";
import type { HealthProbe } from "../api/proxy_config.ts";
import { HealthProber, probeOnce } from "./health_probe.ts";

const base = {
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 1,
  successThreshold: 1,
  failureThreshold: 1,
};

Deno.test("probes: HTTP status, a TCP connect, an exec's exit code", async () => {
  let status = 200;
  const app = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(req.headers.get("x-probe") ?? "", { status }),
  );
  try {
    const http: HealthProbe = {
      ...base,
      httpGet: { path: "healthz", port: app.addr.port, scheme: "HTTP" },
    };
    assert.deepEqual(await probeOnce(http), { ok: true, message: "GET healthz: 200" });
    status = 302;
    assert.equal((await probeOnce(http)).ok, true, "3xx passes, as Kubernetes'");
    status = 503;
    assert.deepEqual(await probeOnce(http), { ok: false, message: "GET healthz: 503" });
    const tcp: HealthProbe = { ...base, tcpSocket: { port: app.addr.port } };
    assert.equal((await probeOnce(tcp)).ok, true);
  } finally {
    await app.shutdown();
  }
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  assert.equal((await probeOnce({ ...base, tcpSocket: { port } })).ok, false);
  assert.equal((await probeOnce({ ...base, exec: { command: ["true"] } })).ok, true);
  const failed = await probeOnce({
    ...base,
    exec: { command: ["sh", "-c", "echo no >&2; exit 4"] },
  });
  assert.deepEqual(failed, { ok: false, message: "exec: exit 4: no" });
  const missing = await probeOnce({ ...base, exec: { command: ["/nonexistent/probe"] } });
  assert.equal(missing.ok, false);
});

Deno.test("prober: reports the first result and each flip, not every attempt", async () => {
  let ok = false;
  const app = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("", { status: ok ? 200 : 500 }),
  );
  const reports: boolean[] = [];
  let wake = () => {};
  const prober = new HealthProber({
    probe: () => ({ ...base, httpGet: { path: "/", port: app.addr.port, scheme: "HTTP" } }),
    report: (healthy) => {
      reports.push(healthy);
      wake();
    },
  });
  const next = () => new Promise<void>((r) => wake = r);
  try {
    let seen = next();
    prober.start();
    await seen;
    assert.deepEqual(reports, [false], "not ready before the first pass");
    ok = true;
    seen = next();
    await seen;
    assert.deepEqual(reports, [false, true]);
    assert.equal(prober.healthy, true);
  } finally {
    prober.stop();
    await app.shutdown();
  }
});
