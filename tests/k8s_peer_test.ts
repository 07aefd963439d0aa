/**
 * The Kubernetes test peer itself (tests/k8s_peer.ts): a real kube-apiserver on
 * etcd comes up on loopback, reports its version, answers kubectl and a fetch
 * with the admin token, and keeps what it stored across an apiserver restart.
 *
 * Skipped with one line when the binaries aren't built
 * (`deno run -A tests/peers/k8s/build.ts`, ~15 min once; `.ci/run` runs it).
 * @module
 */
import assert from "node:assert/strict";
import { KUBE_VERSION, kubeBinaries, startKube } from "./k8s_peer.ts";

const bins = await kubeBinaries();
const skip = "skip" in bins ? bins.skip : undefined;
if (skip) console.log(`k8s_peer_test: skipped, ${skip}`);

Deno.test({
  name: "k8s peer: version, kubectl, a ConfigMap that survives an apiserver restart",
  ignore: skip !== undefined,
  async fn() {
    const kube = await startKube();
    const client = Deno.createHttpClient({ caCerts: [kube.caPem] });
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${kube.url}${path}`, {
        method,
        client,
        headers: {
          authorization: `Bearer ${kube.token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, json: await r.json() };
    };
    try {
      const version = await api("GET", "/version");
      assert.equal(version.status, 200);
      assert.equal(version.json.gitVersion, KUBE_VERSION);

      const ns = await kube.kubectl(["get", "ns", "-o", "name"]);
      assert.equal(ns.code, 0, ns.stderr);
      assert(ns.stdout.split("\n").includes("namespace/default"), ns.stdout);

      const cm = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "k8s-peer-test", namespace: "default" },
        data: { greeting: "hello", n: "42" },
      };
      const created = await api("POST", "/api/v1/namespaces/default/configmaps", cm);
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const path = "/api/v1/namespaces/default/configmaps/k8s-peer-test";
      const read = await api("GET", path);
      assert.equal(read.status, 200);
      assert.deepEqual(read.json.data, cm.data);

      // Without a token the apiserver refuses (anonymous has no RBAC grant on configmaps).
      const anon = await fetch(`${kube.url}${path}`, { client });
      await anon.body?.cancel();
      assert(anon.status === 401 || anon.status === 403, `anonymous read: ${anon.status}`);

      await kube.restartApiserver();
      const again = await api("GET", path);
      assert.equal(again.status, 200);
      assert.deepEqual(again.json.data, cm.data);
      assert.equal(again.json.metadata.uid, read.json.metadata.uid);
    } finally {
      client.close();
      await kube.stop();
    }
    // stop() removed the peer's temp dir.
    await Deno.stat(kube.dir).then(
      () => assert.fail(`${kube.dir} still exists after stop()`),
      (e) => assert(e instanceof Deno.errors.NotFound, String(e)),
    );
    await kube.stop(); // idempotent
  },
});
