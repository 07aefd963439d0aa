/**
 * mesh on a real kube-apiserver + etcd (tests/k8s_peer.ts), end to end: kubectl applies mesh's
 * CRDs, Istio's `platform-kube/bookinfo.yaml` and Bookinfo's networking samples, unchanged; the
 * test plays kubelet and the EndpointSlice controller (neither runs): it creates the reviews
 * Pods with `spec.nodeName`, patches their status Ready with a podIP, and writes the
 * EndpointSlice. The control plane runs with `--config-source=kube`; mesh proxies started as
 * processes for those pods route as the config says, a VirtualService changed with kubectl
 * reroutes, a pod taken out of the EndpointSlice gets no more traffic, the proxies keep serving
 * while the API server restarts, and mesh apply, get and delete work through the control plane
 * to the API server.
 *
 * The API server refuses loopback addresses in EndpointSlices, so everything runs in a network
 * namespace the test makes, with the pod IPs (10.233.0.x) on its `lo` (tests/netns.ts).
 *
 * Needs the peer (skipped with one line naming the build command) and Istio's samples
 * (skipped with one line where they're missing).
 */
import assert from "node:assert/strict";
import { eventually, meshRun, TestMesh } from "./helpers.ts";
import { installCrds, kubeBinaries, startKube } from "./k8s_peer.ts";
import { BOOKINFO, NETWORKING, SAMPLES_MISSING, samplesAvailable } from "./samples.ts";
import { netnsTest, netnsUnavailable } from "./netns.ts";

const bins = await kubeBinaries();
const noNetns = await netnsUnavailable();
const skip = "skip" in bins ? bins.skip : !samplesAvailable ? SAMPLES_MISSING : noNetns;
if (skip) console.log(`kube_e2e_test: skipped, ${skip}`);

/** An app that answers with its name. */
function app(name: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ name }),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}

// Pod IPs: the API server refuses loopback ones in EndpointSlices, so the test runs in a
// network namespace of its own with these on its `lo` (tests/netns.ts).
const REVIEWS = [
  { version: "v1", ip: "10.233.0.21" },
  { version: "v2", ip: "10.233.0.22" },
  { version: "v3", ip: "10.233.0.23" },
];

/** The reviews EndpointSlice with the pods of `versions`. */
function reviewsSlice(versions: string[]): string {
  const eps = REVIEWS.filter((r) => versions.includes(r.version)).map((r) => ({
    addresses: [r.ip],
    conditions: { ready: true },
    targetRef: { kind: "Pod", name: `reviews-${r.version}`, namespace: "default" },
  }));
  return JSON.stringify({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "reviews-test",
      namespace: "default",
      labels: {
        "kubernetes.io/service-name": "reviews",
        "endpointslice.kubernetes.io/managed-by": "mesh-test",
      },
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: 9080, protocol: "TCP" }],
    endpoints: eps,
  });
}

netnsTest({
  name:
    "Bookinfo on a real API server: kubectl config, test-made pods and slices, mesh proxies route",
  ignore: skip !== undefined,
  addresses: REVIEWS.map((r) => r.ip),
  file: import.meta.url,
}, async () => {
  {
    const peer = await startKube();
    const apps = REVIEWS.map((r) => app(`reviews-${r.version}`));
    let m: TestMesh | undefined;
    try {
      const kubectl = async (args: string[], stdin?: string) => {
        let file: string | undefined;
        if (stdin !== undefined) {
          file = await Deno.makeTempFile({ dir: peer.dir, suffix: ".json" });
          await Deno.writeTextFile(file, stdin);
        }
        const r = await peer.kubectl(file ? [...args, "-f", file] : args);
        assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      await installCrds(peer);
      // Istio's files, unchanged.
      await kubectl(["apply", "-f", `${BOOKINFO}/platform-kube/bookinfo.yaml`]);
      await kubectl(["apply", "-f", `${NETWORKING}/destination-rule-all.yaml`]);
      await kubectl(["apply", "-f", `${NETWORKING}/virtual-service-all-v1.yaml`]);
      // What kubelet would do: the pods exist on a node and turn Ready with their IPs.
      for (const r of REVIEWS) {
        await kubectl(
          ["apply"],
          JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
              name: `reviews-${r.version}`,
              namespace: "default",
              labels: { app: "reviews", version: r.version },
            },
            spec: {
              serviceAccountName: "bookinfo-reviews",
              nodeName: "node-1",
              containers: [{
                name: "reviews",
                image: `docker.io/istio/examples-bookinfo-reviews-${r.version}`,
              }],
            },
          }),
        );
        await kubectl([
          "patch",
          "pod",
          `reviews-${r.version}`,
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({
            status: {
              phase: "Running",
              podIP: r.ip,
              podIPs: [{ ip: r.ip }],
              conditions: [{ type: "Ready", status: "True" }],
            },
          }),
        ]);
      }
      await kubectl(["apply"], reviewsSlice(["v1", "v2", "v3"]));

      m = await TestMesh.start({}, ["--config-source=kube", `--kubeconfig=${peer.kubeconfig}`]);
      const mesh = m;
      const pods = await Promise.all(REVIEWS.map((r, i) =>
        mesh.sidecar({
          name: `reviews-${r.version}`,
          serviceAccount: "bookinfo-reviews",
          labels: `app=reviews,version=${r.version}`,
          appPort: apps[i].port,
          extra: [`--address=${r.ip}`],
        })
      ));
      const client = await m.sidecar({
        name: "productpage",
        serviceAccount: "bookinfo-productpage",
        labels: "app=productpage,version=v1",
      });
      /** Names answering `n` requests to reviews through the productpage sidecar. */
      const ask = async (n: number): Promise<string[]> => {
        const out: string[] = [];
        for (let i = 0; i < n; i++) {
          const r = await new Deno.Command("curl", {
            args: [
              "-s",
              "--max-time",
              "10",
              "-x",
              `http://127.0.0.1:${client.outbound}`,
              "http://reviews:9080/",
            ],
            stdout: "piped",
          }).output();
          const text = new TextDecoder().decode(r.stdout);
          try {
            out.push((JSON.parse(text) as { name: string }).name);
          } catch {
            out.push(`! ${text.slice(0, 80)}`);
          }
        }
        return out;
      };
      // virtual-service-all-v1: every request to v1, over mTLS to the pod's sidecar.
      await eventually(async () => (await ask(1))[0] === "reviews-v1", 30_000, "routing to v1");
      assert.deepEqual(new Set(await ask(20)), new Set(["reviews-v1"]));
      // Over mesh mTLS to the pod's sidecar, which counts it as the destination.
      const stats = await (await fetch(`http://127.0.0.1:${pods[0].admin}/stats/prometheus`))
        .text();
      assert.match(
        stats,
        /istio_requests_total\{[^}]*reporter="destination"[^}]*connection_security_policy="mutual_tls"/,
      );

      // A VirtualService changed with kubectl reroutes.
      await kubectl(["apply", "-f", `${NETWORKING}/virtual-service-reviews-v3.yaml`]);
      await eventually(async () => (await ask(1))[0] === "reviews-v3", 30_000, "rerouting to v3");
      assert.deepEqual(new Set(await ask(20)), new Set(["reviews-v3"]));

      // Without a VirtualService, all three; then v2 leaves the EndpointSlice: no more traffic.
      await kubectl(["delete", "virtualservice", "reviews"]);
      await eventually(
        async () => new Set(await ask(30)).size === 3,
        30_000,
        "traffic to all three versions",
      );
      await kubectl(["apply"], reviewsSlice(["v1", "v3"]));
      await eventually(
        async () => !(await ask(10)).includes("reviews-v2"),
        30_000,
        "v2 to get no traffic once it left the EndpointSlice",
      );
      const after = new Set(await ask(30));
      assert.ok(!after.has("reviews-v2"), [...after].join(","));
      assert.deepEqual(after, new Set(["reviews-v1", "reviews-v3"]));

      // The API server restarts: the proxies keep serving meanwhile, the watches resume.
      const during = ask(10);
      await peer.restartApiserver();
      const served = await during;
      assert.ok(served.every((n) => n === "reviews-v1" || n === "reviews-v3"), served.join(","));

      // mesh apply, get and delete go through the control plane to the API server.
      const admin = await meshRun(["token", "create", "--admin", `--data-dir=${m.dataDir}`]);
      assert.equal(admin.code, 0, admin.stderr);
      const tokenFile = `${m.dir}/admin.token`;
      await Deno.writeTextFile(tokenFile, admin.stdout.trim());
      const server = [`--server=http://127.0.0.1:${m.adminPort}`, `--token-file=${tokenFile}`];
      const applied = await meshRun([
        "apply",
        "-f",
        `${NETWORKING}/virtual-service-reviews-v3.yaml`,
        ...server,
      ]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /virtualservice\.networking\.istio\.io\/reviews created/i);
      assert.equal(
        await kubectl([
          "get",
          "vs",
          "reviews",
          "-o",
          "jsonpath={.spec.http[0].route[0].destination.subset}",
        ]),
        "v3",
      );
      await eventually(
        async () => (await ask(1))[0] === "reviews-v3",
        30_000,
        "mesh apply's route",
      );
      const got = await meshRun(["get", "vs", ...server]);
      assert.match(got.stdout, /reviews/);
      const deleted = await meshRun(["delete", "vs", "reviews", ...server]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const gone = await peer.kubectl(["get", "vs", "reviews"]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /NotFound|not found/);
    } finally {
      await m?.close();
      await Promise.all(apps.map((a) => a.close()));
      await peer.stop();
    }
  }
});
