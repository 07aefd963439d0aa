/**
 * A client that goes away cancels its request on every hop, with real processes: an HTTP/1.1
 * client closes its connection to sidecar A while the app (behind sidecar B, over mesh mTLS)
 * is still working on the request, and the app sees its request aborted (the connection to it
 * closed), with no route or per-try timeout configured (Istio's default). Without that, a
 * client that gives up leaves the work and its connections behind, to pile up.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { eventually, serviceEntryYaml, TestMesh, waitForEndpoints } from "./helpers.ts";

const HOST = "slow.default.svc.cluster.local";

Deno.test("client gone: an HTTP/1.1 client's close aborts the app's request through both sidecars", async () => {
  let started = 0;
  let aborted = 0;
  const app = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    started++;
    return new Promise<Response>((resolve) => {
      req.signal.addEventListener("abort", () => {
        aborted++;
        resolve(new Response("late"));
      });
    });
  });
  const m = await TestMesh.start({ "slow.yaml": serviceEntryYaml("slow", 8080) });
  try {
    const [a] = await Promise.all([
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
      m.sidecar({ name: "b", serviceAccount: "slow", labels: "app=slow", appPort: app.addr.port }),
    ]);
    await waitForEndpoints(a.admin, `outbound|8080||${HOST}`);
    for (let i = 1; i <= 3; i++) {
      const s = net.connect({ host: "127.0.0.1", port: a.outbound });
      s.on("error", () => {});
      s.write(`GET /work HTTP/1.1\r\nhost: ${HOST}:8080\r\n\r\n`);
      await eventually(() => started >= i, 15_000, `request ${i} at the app`);
      s.destroy();
      await eventually(() => aborted >= i, 15_000, `request ${i} aborted at the app`);
    }
    assert.equal(aborted, 3);
  } finally {
    await m.close();
    await app.shutdown();
  }
});
