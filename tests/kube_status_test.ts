/**
 * `--write-status` against a real kube-apiserver and etcd (tests/k8s_peer.ts): the control
 * plane runs as a process with `--config-source=kube`, and the status it writes is read back
 * with kubectl. A VirtualService routing to a host no Service or ServiceEntry has gets Istio's
 * IST0101 (the analyzer), one mesh rejects (`timeout: 1x`, fine for the CRD) gets IST0106
 * and `Reconciled: False`; fixing them with kubectl clears the messages.
 *
 * Skipped with one line when the peer isn't built (`deno run -A tests/peers/k8s/build.ts`).
 */
import assert from "node:assert/strict";
import { installCrds, kubeBinaries, kubectlFile, kubeTest, startKube } from "./k8s_peer.ts";
import { eventually, TestMesh } from "./helpers.ts";

const bins = await kubeBinaries();
const skip = "skip" in bins ? bins.skip : undefined;
if (skip) console.log(`kube_status_test: skipped, ${skip}`);

interface Status {
  validationMessages?: { type: { code: string; name: string }; level: string }[];
  conditions?: { type: string; status: string; message?: string }[];
  observedGeneration?: string;
}

const vs = (name: string, body: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}]
${body}
`;

kubeTest(
  "kube status: --write-status writes validation messages and clears them when fixed",
  skip,
  async () => {
    const peer = await startKube();
    let m: TestMesh | undefined;
    try {
      const apply = async (_what: string, text: string) => {
        const r = await kubectlFile(peer, ["apply", "--server-side", "--force-conflicts"], text);
        assert.equal(r.code, 0, r.stderr);
      };
      await installCrds(peer);
      // A Service for the host the fixed routes go to (the registry makes its ServiceEntry).
      await apply(
        "svc",
        `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 9080}]}
`,
      );
      await apply(
        "vs",
        vs("lost", "  http: [{route: [{destination: {host: nowhere}}]}]") + "---\n" +
          vs("bad", "  http: [{timeout: 1x, route: [{destination: {host: reviews}}]}]"),
      );

      m = await TestMesh.start({}, [
        "--config-source=kube",
        `--kubeconfig=${peer.kubeconfig}`,
        "--write-status",
      ]);
      const control = m.control;
      const status = async (name: string): Promise<Status> => {
        const r = await peer.kubectl(["get", "vs", name, "-n", "default", "-o", "json"]);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout).status ?? {}) as Status;
      };
      const waitFor = (name: string, ok: (s: Status) => boolean, what: string) =>
        eventually(
          async () => {
            const s = await status(name);
            return ok(s) ? s : undefined;
          },
          60_000,
          `${name}: ${what}`,
        ).catch((err) => {
          throw new Error(`${err.message}\n--- control plane ---\n${control.output.slice(-4000)}`);
        });
      const codes = (s: Status) => (s.validationMessages ?? []).map((v) => v.type.code);

      const lost = await waitFor("lost", (s) => codes(s).includes("IST0101"), "IST0101");
      assert.deepEqual(lost.validationMessages?.[0].type, {
        code: "IST0101",
        name: "ReferencedResourceNotFound",
      });
      assert.equal(lost.validationMessages?.[0].level, "ERROR");
      assert.equal(lost.observedGeneration, "1");
      assert.equal(lost.conditions?.find((c) => c.type === "Reconciled")?.status, "False");

      const bad = await waitFor("bad", (s) => codes(s).includes("IST0106"), "IST0106");
      assert.equal(bad.validationMessages?.[0].type.name, "SchemaValidationError");
      const cond = bad.conditions?.find((c) => c.type === "Reconciled");
      assert.equal(cond?.status, "False");
      assert.match(cond?.message ?? "", /timeout/);

      // Fixed with kubectl: the messages go, Reconciled turns True at the new generation.
      await apply(
        "fixed",
        vs("lost", "  http: [{route: [{destination: {host: reviews}}]}]") + "---\n" +
          vs("bad", "  http: [{timeout: 1s, route: [{destination: {host: reviews}}]}]"),
      );
      for (const name of ["lost", "bad"]) {
        const s = await waitFor(
          name,
          (s) =>
            !s.validationMessages?.length && s.observedGeneration === "2" &&
            s.conditions?.find((c) => c.type === "Reconciled")?.status === "True",
          "messages cleared",
        );
        assert.equal(s.validationMessages, undefined);
      }
    } finally {
      await m?.close();
      await peer.stop();
    }
  },
);
