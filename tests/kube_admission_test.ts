/**
 * The validating admission webhook and least-privilege RBAC against a real kube-apiserver
 * (tests/k8s_peer.ts): the API server calls the control plane's `/validate` (the
 * configuration `mesh install webhooks` prints), `kubectl apply` of an invalid VirtualService
 * is refused with mesh's message naming the field, and a resource stored before the webhook
 * existed is reported and skipped. Then the control plane's store runs on a ServiceAccount
 * token bound to the ClusterRole `mesh install rbac` prints: reading works, a write outside
 * the role fails with a message naming the missing permission.
 *
 * Skipped with one line when the peer isn't built.
 */
import assert from "node:assert/strict";
import { KubeClient } from "../control/kube/client.ts";
import { loadKubeConfig } from "../control/kube/config.ts";
import { virtualService } from "../control/store/contract.ts";
import { KubeStore } from "../control/store/kube.ts";
import { eventually, meshRun, TestMesh } from "./helpers.ts";
import { installCrds, kubeBinaries, kubectlFile, kubeTest, startKube } from "./k8s_peer.ts";

const bins = await kubeBinaries();
const skip = "skip" in bins ? bins.skip : undefined;
if (skip) console.log(`kube_admission_test: skipped, ${skip}`);

const INVALID = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: NAME, namespace: default}
spec:
  hosts: [reviews]
  http: [{timeout: 1x, route: [{destination: {host: reviews}}]}]
`;

kubeTest(
  "admission webhook: the API server asks mesh; kubectl apply of an invalid VirtualService is refused",
  skip,
  async () => {
    const peer = await startKube();
    let m: TestMesh | undefined;
    try {
      await installCrds(peer);
      // Stored before any webhook: the control plane must report it and skip it.
      const early = await kubectlFile(peer, ["apply"], INVALID.replace("NAME", "early"));
      assert.equal(early.code, 0, early.stderr);
      m = await TestMesh.start({}, ["--config-source=kube", `--kubeconfig=${peer.kubeconfig}`]);
      await m.control.waitFor(
        /stored resource rejected; not served until fixed resource=VirtualService\/default\/early/,
      );
      const configz = await (await fetch(`http://127.0.0.1:${m.adminPort}/debug/configz`))
        .json() as {
          resources: { name: string }[];
          diagnostics: string[];
        };
      assert.ok(!configz.resources.some((r) => r.name === "early"));
      assert.ok(
        configz.diagnostics.some((d) => d.includes("VirtualService/default/early")),
        configz.diagnostics.join("\n"),
      );

      // The webhook, as `mesh install webhooks` prints it.
      const root = await meshRun(["ca", "root", `--data-dir=${m.dataDir}`]);
      assert.equal(root.code, 0, root.stderr);
      await Deno.writeTextFile(`${peer.dir}/root.pem`, root.stdout);
      const hook = await meshRun([
        "install",
        "webhooks",
        `--ca-file=${peer.dir}/root.pem`,
        `--url=https://127.0.0.1:${m.port}/validate`,
      ]);
      assert.equal(hook.code, 0, hook.stderr);
      const installed = await kubectlFile(peer, ["apply"], hook.stdout);
      assert.equal(installed.code, 0, installed.stderr);

      // The API server may take a moment to load the new configuration: until then it admits.
      let refused = "";
      await eventually(
        async () => {
          const r = await kubectlFile(peer, ["apply"], INVALID.replace("NAME", "bad"));
          if (r.code === 0) {
            await peer.kubectl(["delete", "virtualservice", "bad", "--ignore-not-found"]);
            return false;
          }
          refused = r.stderr;
          return true;
        },
        30_000,
        "the API server to call the webhook",
      );
      assert.match(refused, /admission webhook "validation\.mesh\.dev" denied the request/);
      assert.match(refused, /VirtualService default\/bad: spec\.http\[0\]\.timeout/);
      // A valid one is admitted, with mesh's warnings shown by kubectl.
      const ok = await kubectlFile(
        peer,
        ["apply"],
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: good, namespace: default}
spec:
  hosts: [reviews]
  http: [{match: [{statPrefix: x}], route: [{destination: {host: reviews}}]}]
`,
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /Warning: .*statPrefix/);
    } finally {
      await m?.close();
      await peer.stop();
    }
  },
);

kubeTest(
  "RBAC: the store runs on the ClusterRole mesh install rbac prints; a write outside it names the permission",
  skip,
  async () => {
    const peer = await startKube();
    let store: KubeStore | undefined;
    try {
      await installCrds(peer);
      const ns = await peer.kubectl(["create", "namespace", "istio-system"]);
      assert.equal(ns.code, 0, ns.stderr);
      const rbac = await meshRun(["install", "rbac"]);
      assert.equal(rbac.code, 0, rbac.stderr);
      const applied = await kubectlFile(peer, ["apply"], rbac.stdout);
      assert.equal(applied.code, 0, applied.stderr);
      const seeded = await kubectlFile(
        peer,
        ["apply"],
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews}
`,
      );
      assert.equal(seeded.code, 0, seeded.stderr);
      const token = await peer.kubectl(["create", "token", "mesh-control", "-n", "istio-system"]);
      assert.equal(token.code, 0, token.stderr);
      const cfg = await loadKubeConfig({ kubeconfig: peer.kubeconfig });
      const kube = new KubeClient({
        ...cfg,
        token: token.stdout.trim(),
        source: "mesh-control token",
      });
      store = await KubeStore.start({ kube, registry: {} });
      // Everything the role grants is readable: no kind or registry collection is refused.
      const refusals = store.snapshot().diagnostics.filter((d) => /403/.test(d.message));
      assert.deepEqual(refusals.map((d) => d.message), []);
      assert.ok(store.get("DestinationRule", "default", "reviews"));
      // Writing isn't in the read-only role: the error says which permission is missing.
      await assert.rejects(store.apply([virtualService("reviews")]), (err: Error) => {
        assert.match(err.message, /403/);
        assert.match(
          err.message,
          /cannot create resource "virtualservices" in API group "networking\.istio\.io"/,
        );
        assert.match(err.message, /mesh install rbac/);
        return true;
      });
    } finally {
      await store?.close();
      await peer.stop();
    }
  },
);
