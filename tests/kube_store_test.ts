/**
 * The kube config store against a real kube-apiserver and etcd on 127.0.0.1 (tests/k8s_peer.ts),
 * never a mock: the store contract suite, a stored resource mesh rejects (reported, skipped),
 * writes by kubectl seen by the store, and an API server restart mid-watch (nothing lost, no
 * burst of changes). mesh's own CRDs (`mesh install crds`) are applied with kubectl first.
 *
 * Skipped with one line when the peer isn't built (`deno run -A tests/peers/k8s/build.ts`).
 */
import assert from "node:assert/strict";
import { crdsYaml } from "../api/crds.ts";
import { KubeClient } from "../control/kube/client.ts";
import { loadKubeConfig } from "../control/kube/config.ts";
import { storeContract, virtualService, within } from "../control/store/contract.ts";
import { kubeKinds, KubeStore } from "../control/store/kube.ts";
import { Informer } from "../control/kube/informer.ts";
import { eventually } from "./helpers.ts";
import { KIND_INFO } from "../api/kinds.ts";
import {
  installCrds,
  kubeBinaries,
  kubectlFile,
  type KubePeer,
  kubeTest,
  startKube,
} from "./k8s_peer.ts";
import { CRDS_MISSING, istioCrds, NETWORKING, samplesAvailable } from "./samples.ts";

const bins = await kubeBinaries();
const skip = "skip" in bins ? bins.skip : undefined;
if (skip) console.log(`kube_store_test: skipped, ${skip}`);

const NAMESPACES = ["default", "prod", "other"];
let peer: KubePeer | undefined;

/** The shared peer, started once, with mesh's CRDs and the test namespaces. */
async function kube(): Promise<KubePeer> {
  if (peer) return peer;
  const p = await startKube();
  peer = p;
  await installCrds(p);
  for (const ns of NAMESPACES.slice(1)) {
    const r = await p.kubectl(["create", "namespace", ns]);
    assert.equal(r.code, 0, r.stderr);
  }
  return p;
}

/** Resolves once `ok()` holds for the store's snapshot (bounded: 60 s, to catch a hang). */
function seen(store: KubeStore, ok: () => boolean, what: string): Promise<void> {
  let stop = () => {};
  return within(
    new Promise<void>((resolve) => {
      const check = () => ok() && resolve();
      stop = store.subscribe(check);
      check();
    }),
    60_000,
    `the store to see ${what}`,
  ).finally(() => stop());
}

/** A client of the peer, as the control plane makes one from the kubeconfig. */
async function client(p: KubePeer): Promise<KubeClient> {
  return new KubeClient(await loadKubeConfig({ kubeconfig: p.kubeconfig }));
}

/** Deletes every Istio resource in the test namespaces. */
async function empty(p: KubePeer): Promise<void> {
  const c = await client(p);
  try {
    for (const kind of kubeKinds()) {
      const { group, versions, plural } = KIND_INFO[kind];
      for (const ns of NAMESPACES) {
        await c.request("DELETE", `/apis/${group}/${versions[0]}/namespaces/${ns}/${plural}`)
          .catch(() => {}); // a kind without a CRD here (the Gateway API's)
      }
    }
  } finally {
    c.close();
  }
}

storeContract("kube", async () => {
  const p = await kube();
  await empty(p);
  const store = await KubeStore.start({ kube: await client(p) });
  return { store, cleanup: () => Promise.resolve() };
}, { ignore: skip !== undefined, sanitize: false });

kubeTest(
  "kube store: a stored resource mesh rejects is reported and skipped; kubectl's writes are seen",
  skip,
  async () => {
    const p = await kube();
    await empty(p);
    const store = await KubeStore.start({ kube: await client(p) });
    try {
      // Structurally fine for the CRD, but mesh refuses the duration "1x".
      const r = await kubectlFile(
        p,
        ["apply"],
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: default}
spec:
  hosts: [reviews]
  http: [{timeout: 1x, route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
`,
      );
      assert.equal(r.code, 0, r.stderr);
      await seen(
        store,
        () => !!store.get("DestinationRule", "prod", "reviews"),
        "kubectl's DestinationRule",
      );
      const dr = store.get("DestinationRule", "prod", "reviews");
      assert.equal(dr?.apiVersion, "networking.istio.io/v1", "read through the storage version");
      assert.equal(store.get("VirtualService", "default", "bad"), undefined);
      const diag = store.snapshot().diagnostics.find((d) =>
        d.file === "kube:VirtualService/default/bad"
      );
      assert.ok(diag, JSON.stringify(store.snapshot().diagnostics));
      assert.equal(diag.severity, "error");
      assert.match(diag.path, /timeout/);
    } finally {
      await store.close();
    }
  },
);

kubeTest(
  "kube store: an API server restart mid-watch loses nothing and changes nothing it needn't",
  skip,
  async () => {
    const p = await kube();
    await empty(p);
    const store = await KubeStore.start({ kube: await client(p) });
    try {
      await store.apply([virtualService("before")]);
      const rev = store.revision;
      await p.restartApiserver();
      // Written by someone else while the store's watch reconnects.
      const r = await kubectlFile(
        p,
        ["apply"],
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: after, namespace: default}
spec: {hosts: [after], http: [{route: [{destination: {host: after}}]}]}
`,
      );
      assert.equal(r.code, 0, r.stderr);
      await seen(
        store,
        () => !!store.get("VirtualService", "default", "after"),
        "the resource written after the restart",
      );
      assert.ok(store.get("VirtualService", "default", "before"));
      // One change (the new resource): the reconnect itself changed nothing.
      assert.equal(store.revision, rev + 1);
    } finally {
      await store.close();
    }
  },
);

kubeTest(
  "informer: a watch whose resourceVersion etcd compacted away (410 Gone) lists again, quietly",
  skip,
  async () => {
    // Without the watch cache, a watch reads etcd, whose compaction then answers 410 Gone
    // (the cache would serve the old version from memory).
    const p = await startKube({ apiserverArgs: ["--watch-cache=false"] });
    await installCrds(p, crdsYaml(["VirtualService"]));
    const c = await client(p);
    const path = "/apis/networking.istio.io/v1/virtualservices";
    // The server ends each watch after a second, so the informer re-watches from its version.
    const inf = new Informer(c, path, { name: "VirtualService", watchSeconds: () => 1 });
    const changes: string[] = [];
    inf.subscribe((batch) =>
      changes.push(...batch.map((x) => `${x.type} ${x.object.metadata.name}`))
    );
    try {
      const store = await KubeStore.start({
        kube: c,
        closeClient: false,
        kinds: ["VirtualService"],
      });
      await store.apply([virtualService("kept")]);
      await store.close();
      inf.start();
      await inf.synced;
      const seen = changes.length;
      // Other objects move etcd's revision past the informer's; then history is compacted.
      for (let i = 0; i < 3; i++) {
        const r = await p.kubectl(["create", "configmap", `bump-${i}`]);
        assert.equal(r.code, 0, r.stderr);
      }
      const rev = (await c.request<{ metadata: { resourceVersion: string } }>(
        "GET",
        "/api/v1/namespaces/default/configmaps/bump-2",
      )).metadata.resourceVersion;
      const compacted = await fetch(`http://127.0.0.1:${p.etcdPort}/v3/kv/compaction`, {
        method: "POST",
        body: JSON.stringify({ revision: rev, physical: true }),
      });
      assert.equal(compacted.status, 200, await compacted.text());
      await eventually(() => inf.lists >= 2, 30_000, "the informer to list again after 410");
      assert.deepEqual(inf.items().map((o) => o.metadata.name), ["kept"]);
      assert.equal(changes.length, seen, "the relist changed nothing: no event for subscribers");
      assert.equal(inf.error, undefined);
    } finally {
      await inf.stop();
      c.close();
      await p.stop();
    }
  },
);

kubeTest(
  "kube store: MeshConfig from Istio's mesh ConfigMap; its discoverySelectors scope namespaces",
  skip,
  async () => {
    const p = await kube();
    await empty(p);
    for (const ns of ["istio-system", "picked", "left"]) {
      await p.kubectl(["create", "namespace", ns]);
    }
    assert.equal(
      (await p.kubectl(["label", "--overwrite", "namespace", "picked", "mesh=on"])).code,
      0,
    );
    const vs = (ns: string) =>
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: ${ns}}
spec: {hosts: [r], http: [{route: [{destination: {host: r}}]}]}
`;
    const cm = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /dev/stdout
    discoverySelectors:
    - matchLabels: {mesh: "on"}
`;
    for (const text of [vs("picked"), vs("left"), cm]) {
      const r = await kubectlFile(p, ["apply"], text);
      assert.equal(r.code, 0, r.stderr);
    }
    const store = await KubeStore.start({ kube: await client(p), registry: {} });
    try {
      const mesh = store.list("MeshConfig")[0] as { spec: { accessLogFile?: string } } | undefined;
      assert.equal(mesh?.spec.accessLogFile, "/dev/stdout");
      assert.deepEqual(store.list("VirtualService").map((r) => r.metadata.namespace), ["picked"]);
      // Labelled in, the namespace's config is read.
      assert.equal((await p.kubectl(["label", "namespace", "left", "mesh=on"])).code, 0);
      await seen(store, () => store.list("VirtualService").length === 2, "the labelled namespace");
      // MeshConfig is the ConfigMap's: the store says where to change it.
      const r = await store.apply([{
        apiVersion: "config.mesh.dev/v1alpha1",
        kind: "MeshConfig",
        metadata: { name: "mesh", namespace: "istio-system" },
        spec: {},
      }]);
      assert.equal(r.ok, false);
      assert.match(
        r.diagnostics[0].message,
        /the `mesh` key of Istio's ConfigMap \(istio-system\/istio\)/,
      );
    } finally {
      await store.close();
      await p.kubectl(["delete", "configmap", "istio", "-n", "istio-system"]);
      for (const ns of ["picked", "left"]) {
        await p.kubectl(["delete", "virtualservice", "r", "-n", ns]);
      }
    }
  },
);

const istio = await istioCrds();
const istioSkip = skip ??
  (istio === undefined ? CRDS_MISSING : samplesAvailable ? undefined : "no samples");
if (!skip && !istio) console.log(`kube_store_test: Istio's CRDs ${CRDS_MISSING}`);

kubeTest(
  "kube store: Istio's own CRDs (crd-all.gen.yaml) in place of mesh's serve Istio's samples",
  istioSkip,
  async () => {
    const p = await kube();
    await empty(p);
    await installCrds(p, istio!);
    for (const f of ["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]) {
      const r = await p.kubectl(["apply", "-f", `${NETWORKING}/${f}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const store = await KubeStore.start({ kube: await client(p) });
    try {
      const names = store.list("VirtualService").map((r) => r.metadata.name).sort();
      assert.deepEqual(names, ["details", "productpage", "ratings", "reviews"]);
      assert.equal(store.list("DestinationRule").length, 4);
      const errors = store.snapshot().diagnostics.filter((d) => d.severity === "error");
      assert.deepEqual(errors, []);
      // Writes through the store go through Istio's CRDs too.
      const r = await store.apply([virtualService("extra")]);
      assert.equal(r.results[0].action, "created");
    } finally {
      await store.close();
    }
  },
);

kubeTest("kube peer: stopped", skip, async () => {
  await peer?.stop();
});
