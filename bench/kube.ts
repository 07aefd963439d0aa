/**
 * Kubernetes benchmark (issue 11), against a real kube-apiserver + etcd (tests/k8s_peer.ts):
 *
 * 1. creates N Services (port `http` 9080, selector `app=svc-<i>`) and one EndpointSlice each
 *    with `endpointsPer` ready endpoints (10.234.x.y: the API server refuses loopback addresses
 *    in EndpointSlices; nothing connects to them), by concurrent POSTs;
 * 2. starts the control plane (`--config-source=kube`) and one sidecar, and measures the time
 *    from spawning the control plane to the proxy's first acknowledged config holding every
 *    Service (`/debug/syncz` acked = sent, and the proxy's `/config_dump` at that version with
 *    the last Service's cluster and its endpoints), then the control plane's RSS;
 * 3. changes one address of one EndpointSlice (merge patch) and measures the time until the
 *    proxy has acknowledged a config with the new address, `changes` times.
 *
 * Memory per Service is the control plane's RSS over that of a control plane (with one
 * sidecar) on the same API server before any Service existed, divided by N.
 *
 *   deno run -A bench/kube.ts [--services=N] [--endpoints=N]
 * @module
 */
import { configDump, TestMesh } from "../tests/helpers.ts";
import { installCrds, kubeBinaries, type KubePeer, startKube } from "../tests/k8s_peer.ts";
import { rssMb } from "./procfs.ts";

/** Every wait of the section is bounded by this. */
const WAIT_MS = 120_000;
/** Requests in flight while creating objects. */
const IN_FLIGHT = 16;
const NS = "default";
const PORT = 9080;

/** What {@linkcode runKubeBench} measured, or why it could not. */
export type KubeResult =
  | { supported: false; reason: string }
  | {
    supported: true;
    services: number;
    endpoints_per_service: number;
    endpoints: number;
    /** Seconds to create the Services and EndpointSlices (concurrent POSTs). */
    create_s: number;
    /** Control plane spawned → the proxy acknowledged a config holding every Service. */
    first_push_s: number;
    /** Sidecar spawned → that acknowledgement (part of first_push_s). */
    first_push_from_proxy_start_s: number;
    /** The first acknowledged config version. */
    first_version: string;
    /** Control-plane RSS (MB) just after the first push, and after the endpoint changes. */
    control_rss_mb: number;
    control_rss_mb_end: number;
    /** Control-plane RSS (MB) with one proxy and no Services (same API server, before any). */
    control_rss_mb_empty: number;
    /** (control_rss_mb − control_rss_mb_empty) per Service, KB. */
    control_kb_per_service: number;
    /** control_rss_mb per Service, KB (baseline included). */
    control_kb_per_service_total: number;
    /** The empty control plane's first push (s), for comparison. */
    first_push_empty_s: number;
    /** EndpointSlice patch sent → proxy acknowledged a config with the new address, ms. */
    endpoint_change_ms: number[];
    endpoint_change_median_ms: number;
    endpoint_change_max_ms: number;
  };

type Log = (msg: string) => void;

const r1 = (x: number, d = 1) => Number(x.toFixed(d));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The address of endpoint `j` of Service `i` (10.234.0.1 upwards; .0 and .255 skipped). */
export function endpointAddress(i: number, j: number, per: number): string {
  const n = i * per + j;
  return `10.234.${Math.floor(n / 254)}.${(n % 254) + 1}`;
}

function serviceObject(i: number) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${i}`, namespace: NS },
    spec: {
      selector: { app: `svc-${i}` },
      ports: [{ name: "http", port: PORT, targetPort: PORT, protocol: "TCP" }],
    },
  };
}

function sliceEndpoints(addresses: string[]) {
  return addresses.map((a) => ({ addresses: [a], conditions: { ready: true } }));
}

function sliceObject(i: number, per: number) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `svc-${i}-bench`,
      namespace: NS,
      labels: {
        "kubernetes.io/service-name": `svc-${i}`,
        "endpointslice.kubernetes.io/managed-by": "mesh-bench",
      },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: PORT, protocol: "TCP" }],
    endpoints: sliceEndpoints(Array.from({ length: per }, (_, j) => endpointAddress(i, j, per))),
  };
}

const clusterName = (i: number) => `outbound|${PORT}||svc-${i}.${NS}.svc.cluster.local`;

/** A small client for the peer's API: bearer token, the peer's CA. */
class Api {
  readonly client: Deno.HttpClient;
  constructor(readonly peer: KubePeer) {
    this.client = Deno.createHttpClient({ caCerts: [peer.caPem] });
  }
  async send(method: string, path: string, body: unknown, type = "application/json") {
    const r = await fetch(`${this.peer.url}${path}`, {
      method,
      client: this.client,
      headers: { authorization: `Bearer ${this.peer.token}`, "content-type": type },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
    return text;
  }
  close() {
    this.client.close();
  }
}

/** Runs `jobs` with at most `n` in flight; rejects on the first failure. */
async function pool(count: number, n: number, job: (i: number) => Promise<unknown>) {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < count && failed === undefined) {
      const i = next++;
      try {
        await job(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, count) }, worker));
  if (failed !== undefined) throw failed;
}

interface Sync {
  sent?: string;
  acked?: string;
}

async function syncz(adminPort: number): Promise<Sync | undefined> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/debug/syncz`);
  const list = await r.json() as Sync[];
  return list[0];
}

/**
 * Polls the control plane's syncz (every `intervalMs`) until its one proxy has acknowledged a
 * version other than `after` that equals the sent one and passes `check` (read from the proxy);
 * resolves with the time (performance.now()) of the syncz read that saw it and the version.
 */
async function waitForAck(
  o: {
    controlAdmin: number;
    after?: string;
    intervalMs: number;
    what: string;
    check: (version: string) => Promise<boolean>;
  },
): Promise<{ at: number; version: string }> {
  const deadline = performance.now() + WAIT_MS;
  let tried = "";
  let last = "";
  while (performance.now() < deadline) {
    const at = performance.now();
    try {
      const s = await syncz(o.controlAdmin);
      last = JSON.stringify(s ?? null);
      if (s?.acked && s.acked === s.sent && s.acked !== o.after && s.acked !== tried) {
        tried = s.acked;
        if (await o.check(s.acked)) return { at, version: s.acked };
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
  throw new Error(`no ${o.what} within ${WAIT_MS / 1000} s (last syncz: ${last})`);
}

type Dump = Awaited<ReturnType<typeof configDump>>;

function addressesOf(dump: Dump, cluster: string): string[] {
  const eps = (dump.config?.clusters?.[cluster]?.endpoints ?? []) as { address?: string }[];
  return eps.map((e) => e.address ?? "");
}

/** Control plane + one sidecar; resolves once the proxy acked a config passing `check`. */
async function startMesh(peer: KubePeer, check: (d: Dump) => boolean) {
  const t0 = performance.now();
  const m = await TestMesh.start({}, ["--config-source=kube", `--kubeconfig=${peer.kubeconfig}`]);
  try {
    const tProxy = performance.now();
    const proxy = await m.sidecar({
      name: "kube-bench-proxy",
      serviceAccount: "bench-client",
      labels: "app=bench-client",
      waitReady: false,
    });
    const ack = await waitForAck({
      controlAdmin: m.adminPort,
      intervalMs: 20,
      what: "first acknowledged config with every Service",
      check: async (v) => {
        const d = await configDump(proxy.admin);
        return d.version === v && check(d);
      },
    });
    return {
      m,
      proxyAdmin: proxy.admin,
      firstPushS: (ack.at - t0) / 1000,
      fromProxyS: (ack.at - tProxy) / 1000,
      version: ack.version,
    };
  } catch (err) {
    await m.close();
    throw err;
  }
}

/** The section: see the module doc. Never throws; returns `supported: false` with the reason. */
export async function runKubeBench(
  o: { services: number; endpointsPer: number; changes?: number; log: Log },
): Promise<KubeResult> {
  const bins = await kubeBinaries();
  if ("skip" in bins) return { supported: false, reason: bins.skip };
  const n = o.services;
  const per = o.endpointsPer;
  const changes = o.changes ?? 5;
  let peer: KubePeer | undefined;
  let api: Api | undefined;
  const meshes: TestMesh[] = [];
  try {
    o.log(`kube: starting kube-apiserver + etcd`);
    peer = await startKube();
    api = new Api(peer);
    await installCrds(peer);

    // Baseline: a control plane and a proxy with no Services.
    o.log(`kube: baseline control plane (no Services)`);
    const empty = await startMesh(peer, () => true);
    meshes.push(empty.m);
    const rssEmpty = rssMb(empty.m.control.child.pid);
    await empty.m.close();

    o.log(`kube: creating ${n} Services and EndpointSlices (${n * per} endpoints)`);
    const tc = performance.now();
    const a = api;
    await pool(
      n,
      IN_FLIGHT,
      (i) => a.send("POST", `/api/v1/namespaces/${NS}/services`, serviceObject(i)),
    );
    await pool(
      n,
      IN_FLIGHT,
      (i) =>
        a.send(
          "POST",
          `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
          sliceObject(i, per),
        ),
    );
    const createS = (performance.now() - tc) / 1000;

    o.log(`kube: control plane + proxy, time to first push`);
    const last = clusterName(n - 1);
    const full = await startMesh(
      peer,
      (d) =>
        Object.keys(d.config?.clusters ?? {}).length >= n && addressesOf(d, last).length === per,
    );
    meshes.push(full.m);
    const pid = full.m.control.child.pid;
    const rss = rssMb(pid);

    o.log(`kube: ${changes} EndpointSlice changes`);
    const times: number[] = [];
    let version = full.version;
    for (let k = 0; k < changes; k++) {
      const i = Math.floor((k * n) / changes + n / (2 * changes)) % n;
      const addresses = Array.from({ length: per }, (_, j) => endpointAddress(i, j, per));
      const fresh = `10.235.${k}.${1 + (Math.floor(Math.random() * 200))}`;
      addresses[0] = fresh;
      const t0 = performance.now();
      await api.send(
        "PATCH",
        `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/svc-${i}-bench`,
        { endpoints: sliceEndpoints(addresses) },
        "application/merge-patch+json",
      );
      const ack = await waitForAck({
        controlAdmin: full.m.adminPort,
        after: version,
        intervalMs: 10,
        what: `acknowledged config with ${fresh} in ${clusterName(i)}`,
        check: async (v) => {
          const d = await configDump(full.proxyAdmin);
          return d.version === v && addressesOf(d, clusterName(i)).includes(fresh);
        },
      });
      version = ack.version;
      times.push(r1(ack.at - t0));
    }
    const rssEnd = rssMb(pid);
    return {
      supported: true,
      services: n,
      endpoints_per_service: per,
      endpoints: n * per,
      create_s: r1(createS, 2),
      first_push_s: r1(full.firstPushS, 2),
      first_push_from_proxy_start_s: r1(full.fromProxyS, 2),
      first_version: full.version,
      control_rss_mb: r1(rss),
      control_rss_mb_end: r1(rssEnd),
      control_rss_mb_empty: r1(rssEmpty),
      control_kb_per_service: r1(((rss - rssEmpty) * 1024) / n),
      control_kb_per_service_total: r1((rss * 1024) / n),
      first_push_empty_s: r1(empty.firstPushS, 2),
      endpoint_change_ms: times,
      endpoint_change_median_ms: r1(median(times)),
      endpoint_change_max_ms: r1(Math.max(...times)),
    };
  } catch (err) {
    const msg = (err as Error).message;
    o.log(`kube: failed: ${msg.split("\n").slice(0, 10).join("\n")}`);
    return { supported: false, reason: `failed: ${msg.split("\n")[0]}` };
  } finally {
    await Promise.allSettled(meshes.map((m) => m.close()));
    api?.close();
    await peer?.stop();
  }
}

if (import.meta.main) {
  const arg = (name: string, dflt: number) =>
    Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const r = await runKubeBench({
    services: arg("services", 1000),
    endpointsPer: arg("endpoints", 5),
    log: (m) => console.error(m),
  });
  console.log(JSON.stringify(r, null, 2));
}
