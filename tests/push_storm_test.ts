/**
 * A connect storm while the config changes (issue 12): a few hundred push streams (real TLS,
 * real certificates, mesh's HTTP/2 client, the proxy's own parts code answering) connect to
 * one control plane while VirtualServices and endpoints change underneath; every proxy ends
 * on the latest version of every part.
 */
import assert from "node:assert/strict";
import { startControl } from "../control/control.ts";
import { MemoryStore } from "../control/store/memory.ts";
import type { ResourceInput } from "../control/store/types.ts";
import { createCsr } from "../ca/csr.ts";
import { openPushStream, type PushStream } from "../proxy/push_stream.ts";
import { PartsState } from "../proxy/parts_state.ts";
import type { PartsPushMessage } from "../api/push_protocol.ts";
import { eventually, meshRun } from "./helpers.ts";

const CLIENTS = 300;
const IDENTITIES = 10;
const IN_FLIGHT = 50;

const service = (i: number, address: string): ResourceInput[] => [{
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name: `svc-${i}`, namespace: "default" },
  spec: {
    hosts: [`svc-${i}.default.svc.cluster.local`],
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
    endpoints: [{ address }],
  },
}, {
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: `svc-${i}`, namespace: "default" },
  spec: {
    hosts: [`svc-${i}.default.svc.cluster.local`],
    http: [{
      timeout: `${1 + i}s`,
      route: [{ destination: { host: `svc-${i}.default.svc.cluster.local` } }],
    }],
  },
}];

Deno.test({
  name:
    "a connect storm of 300 proxies while config changes leaves every proxy on the latest version",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "mesh-storm-" });
    const store = new MemoryStore();
    await store.apply(Array.from({ length: 5 }, (_, i) => service(i, `10.9.0.${i + 1}`)).flat());
    const control = await startControl({
      store,
      dataDir,
      listen: "127.0.0.1:0",
      adminPort: 0,
      debounce: { afterMs: 20, maxMs: 500 },
    });
    const streams: PushStream[] = [];
    try {
      const roots = control.ca.trustBundlePem;
      const ids = await Promise.all(Array.from({ length: IDENTITIES }, async (_, k) => {
        const { keyPem, csrPem } = await createCsr(`spiffe://cluster.local/ns/default/sa/sa-${k}`);
        const signed = await control.ca.signCsr(csrPem, {
          namespace: "default",
          serviceAccount: `sa-${k}`,
        });
        return { key: keyPem, cert: signed.certChainPem };
      }));
      const states = Array.from({ length: CLIENTS }, () => new PartsState());
      let changes = 0;
      const change = async () => {
        const n = ++changes;
        // A route edit, and an endpoint moving.
        await store.apply(
          [...service(n % 5, `10.9.${n}.1`)].map((r) =>
            r.kind === "VirtualService"
              ? {
                ...r,
                spec: {
                  ...(r.spec as object),
                  http: [{
                    timeout: `${100 + n}s`,
                    route: [{ destination: { host: `svc-${n % 5}.default.svc.cluster.local` } }],
                  }],
                },
              }
              : r
          ),
        );
      };
      const open = (i: number) =>
        new Promise<void>((resolve) => {
          const k = i % IDENTITIES;
          const s: PushStream = openPushStream({
            host: "127.0.0.1",
            port: control.port,
            authority: "control",
            tls: { ca: roots, ...ids[k] },
            first: JSON.stringify({
              type: "hello",
              protocol: 2,
              have: {},
              node: {
                id: `sidecar~10.2.0.${i}~sim-${i}.default`,
                mode: "sidecar",
                namespace: "default",
                serviceAccount: `sa-${k}`,
                labels: { app: `app-${k}` },
                address: `10.2.${i >> 8}.${i & 255}`,
              },
            }) + "\n",
            onOpen: () => resolve(),
            onLine: (line) => {
              const m = JSON.parse(line) as PartsPushMessage;
              if (m.type !== "push") return;
              const r = states[i].apply(m, { install: () => undefined });
              s.send(JSON.stringify(r.reply) + "\n");
            },
          });
          streams.push(s);
          s.done.then(() => resolve());
        });
      // Connect with bounded concurrency, changing config every 60 connects.
      let next = 0;
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < CLIENTS) {
          const i = next++;
          await open(i);
          if (i % 60 === 59) await change();
        }
      }));
      await change();
      const admin = `http://127.0.0.1:${control.adminPort}`;
      type Sync = { node: string; parts: Record<string, { state: string; version?: string }> };
      const synced = await eventually(
        async () => {
          const list = await (await fetch(`${admin}/debug/syncz`)).json() as Sync[];
          const ok = list.length === CLIENTS &&
            list.every((e) => Object.values(e.parts).every((p) => p.state === "SYNCED"));
          return ok && list;
        },
        60_000,
        "every proxy SYNCED on every part",
      );
      // What each client holds is what the control plane says it should have.
      const byNode = new Map(synced.map((e) => [e.node, e]));
      for (let i = 0; i < CLIENTS; i++) {
        const e = byNode.get(`sidecar~10.2.0.${i}~sim-${i}.default`)!;
        for (const [part, v] of Object.entries(states[i].have())) {
          assert.equal(v, e.parts[part].version, `client ${i} ${part}`);
        }
      }
      // mesh proxy-status says the same, as istioctl proxy-status would.
      const ps = await meshRun(["proxy-status", "--server", admin]);
      assert.equal(ps.code, 0, ps.stderr);
      const rows = ps.stdout.trim().split("\n");
      assert.match(rows[0], /^NAME\s+CDS\s+LDS\s+EDS\s+RDS\s+SDS\s+POLICIES\s+ISTIOD\s+VERSION$/);
      assert.equal(rows.length, CLIENTS + 1);
      assert.ok(
        rows.slice(1).every((r) => /^\S+(\s+SYNCED){6}\s+mesh-\S+\s+\d+$/.test(r)),
        rows[1],
      );
      const one = await meshRun(["proxy-status", "--server", admin, "sim-7.default"]);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, /^routes\s+RDS\s+SYNCED\s+[0-9a-f]{16}\s+[0-9a-f]{16}$/m);
      const none = await meshRun(["proxy-status", "--server", admin, "no-such-proxy"]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no connected proxy matches "no-such-proxy"/);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      assert.match(metrics, new RegExp(`^pilot_xds ${CLIENTS}$`, "m"));
      assert.match(metrics, /^pilot_xds_pushes\{type="eds"\} \d+$/m);
      assert.match(metrics, /^pilot_proxy_convergence_time_count \d+$/m);
    } finally {
      for (const s of streams) s.close("test over");
      await Promise.all(streams.map((s) => s.done));
      await control.close();
      await store.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
