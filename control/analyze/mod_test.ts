/**
 * All analyzers together, on Istio's Bookinfo samples and on the brief's example.
 */
import assert from "node:assert/strict";
import { analyze, type Analyzer, ANALYZERS, messageTypes } from "./mod.ts";
import { codesOf, lineOf, linesOf, run, runAll, sample, SAMPLES, sampleTest } from "./testutil.ts";

const KUBE = "platform-kube/bookinfo.yaml";
const DR_ALL = "networking/destination-rule-all.yaml";
const errors = (ms: ReturnType<typeof run>) => ms.filter((m) => m.level === "Error");

/** The ratings subsets whose workloads are in other sample files (IST0173, as istioctl). */
const MYSQL_SUBSETS = [42, 45].map((line, i) =>
  `Error [IST0173] (DestinationRule default/ratings ${DR_ALL}:${line}) The Subset ` +
  `v2-mysql${i ? "-vm" : ""} defined in the DestinationRule does not select any pods. Which ` +
  "may lead to 503 UH (NoHealthyUpstream)."
);
const notMysql = (ms: ReturnType<typeof run>) =>
  ms.filter((m) => !(m.code === "IST0173" && /v2-mysql/.test(m.message)));

sampleTest(
  "bookinfo: routes, rules and the Kubernetes objects together: only the mysql subsets",
  () => {
    const messages = runAll([
      sample("networking/virtual-service-all-v1.yaml"),
      sample(DR_ALL),
      sample(KUBE),
    ]);
    assert.deepEqual(linesOf(messages), MYSQL_SUBSETS);
  },
);

sampleTest("bookinfo: each routing sample with its rules and services has no errors", () => {
  const samples = [
    "networking/virtual-service-all-v1.yaml",
    "networking/virtual-service-details-v2.yaml",
    "networking/virtual-service-ratings-db.yaml",
    "networking/virtual-service-ratings-mysql.yaml",
    "networking/virtual-service-ratings-mysql-vm.yaml",
    "networking/virtual-service-ratings-test-abort.yaml",
    "networking/virtual-service-ratings-test-delay.yaml",
    "networking/virtual-service-reviews-50-v3.yaml",
    "networking/virtual-service-reviews-80-20.yaml",
    "networking/virtual-service-reviews-90-10.yaml",
    "networking/virtual-service-reviews-jason-v2-v3.yaml",
    "networking/virtual-service-reviews-test-v2.yaml",
    "networking/virtual-service-reviews-v2-v3.yaml",
    "networking/virtual-service-reviews-v3.yaml",
    "networking/bookinfo-gateway.yaml",
    "networking/egress-rule-google-apis.yaml",
  ];
  for (const f of samples) {
    const messages = runAll([sample(f), sample(DR_ALL), sample(KUBE)]);
    assert.deepEqual(linesOf(errors(notMysql(messages))), [], f);
  }
  // The mTLS rules work the same; fault injection is enforced, so no IST0133 warning.
  const fault = runAll([
    sample("networking/fault-injection-details-v1.yaml"),
    sample("networking/destination-rule-all-mtls.yaml"),
    sample(KUBE),
  ]);
  assert.deepEqual(linesOf(errors(notMysql(fault))), []);
  assert.deepEqual(codesOf(notMysql(fault)), ["IST0130", "MSH0001"]);
});

sampleTest("bookinfo: routing samples alone name hosts that don't exist (as istioctl says)", () => {
  const f = "networking/virtual-service-reviews-test-v2.yaml";
  const text = sample(f).text;
  assert.deepEqual(linesOf(runAll([sample(f)])), [
    `Error [IST0101] (VirtualService default/reviews ${f}:${
      lineOf(text, "host: reviews", 1)
    }) Referenced host not found: "reviews"`,
    `Error [IST0101] (VirtualService default/reviews ${f}:${
      lineOf(text, "host: reviews", 1)
    }) Referenced host+subset in destinationrule not found: "reviews+v2"`,
    `Error [IST0101] (VirtualService default/reviews ${f}:${
      lineOf(text, "host: reviews", 2)
    }) Referenced host not found: "reviews"`,
    `Error [IST0101] (VirtualService default/reviews ${f}:${
      lineOf(text, "host: reviews", 2)
    }) Referenced host+subset in destinationrule not found: "reviews+v1"`,
  ]);
  // Istio's docs show this very line for bookinfo-gateway.yaml without a cluster.
  assert.deepEqual(linesOf(runAll([sample("networking/bookinfo-gateway.yaml")])), [
    "Error [IST0101] (VirtualService default/bookinfo networking/bookinfo-gateway.yaml:41) " +
    'Referenced host not found: "productpage"',
  ]);
  // Rules alone: their hosts are unknown, which is a warning.
  const rules = runAll([sample(DR_ALL)]);
  assert.deepEqual(codesOf(rules), ["IST0174", "IST0174", "IST0174", "IST0174"]);
  assert.deepEqual(errors(rules), []);
});

sampleTest("bookinfo: the whole networking directory with the services", () => {
  const dir = `${SAMPLES}/networking`;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
    .sort();
  const messages = runAll([...files.map((n) => sample(`networking/${n}`)), sample(KUBE)]);
  // cert-manager's resolver is not part of Bookinfo; details' later rule (fault injection)
  // has only v1, and the later details route asks for v2. Everything else is warnings.
  assert.deepEqual(errors(notMysql(messages)).map((m) => m.message), [
    'Referenced host not found: "cert-manager-resolver"',
    'Referenced host+subset in destinationrule not found: "details+v2"',
  ]);
  assert.ok(codesOf(messages).includes("MSH0001"));
});

Deno.test("the brief's example: a route to an unknown host", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews2
`;
  const svc =
    "apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec:\n  ports: [{port: 9080, name: http}]\n";
  assert.deepEqual(linesOf(run(`${yaml}---\n${svc}`, { file: "file.yaml" })), [
    'Error [IST0101] (VirtualService default/reviews file.yaml:11) Referenced host not found: "reviews2"',
  ]);
});

sampleTest("a failing analyzer is IST0001 and the others still run", () => {
  const broken: Analyzer = {
    name: "test.Broken",
    description: "always fails",
    codes: ["IST0001"],
    analyze() {
      throw new Error("boom");
    },
  };
  const { messages, analyzers } = analyze([sample("networking/bookinfo-gateway.yaml")], {
    analyzers: [broken, ...ANALYZERS],
  });
  assert.equal(analyzers[0], "test.Broken");
  assert.deepEqual(linesOf(messages, "IST0001"), [
    "Error [IST0001] Internal error: test.Broken: boom",
  ]);
  assert.equal(linesOf(messages, "IST0101").length, 1);
});

Deno.test("every code an analyzer reports is in the catalog, and documented", () => {
  const known = new Set(messageTypes().map((t) => t.code));
  for (const a of ANALYZERS) for (const c of a.codes) assert.ok(known.has(c), `${a.name}: ${c}`);
  const doc = Deno.readTextFileSync(new URL("../../docs/analyze.md", import.meta.url));
  for (const t of messageTypes()) {
    assert.ok(doc.includes(t.code) && doc.includes(t.name), `docs/analyze.md lacks ${t.code}`);
  }
});

Deno.test("documents neither mesh nor its analyzers read are named, not analyzed", () => {
  const text = [
    "apiVersion: example.com/v1",
    "kind: Widget",
    "metadata: {name: w}",
    "---",
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata: {name: c, namespace: shop}",
    "---",
    "apiVersion: v1",
    "kind: Service",
    "metadata: {name: s}",
    "spec: {ports: [{port: 80, name: http}]}",
    "---",
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata: {name: p}",
    "spec: {url: oci://example.com/p}",
  ].join("\n");
  const { notRead, messages } = analyze([{ file: "in.yaml", text }]);
  assert.deepEqual(
    notRead.map((s) => `${s.line} ${s.kind} ${s.namespace}/${s.name}`),
    ["1 Widget default/w", "5 ConfigMap shop/c"],
  );
  // The WasmPlugin has its own warning (IST0133); the Service is read by the analyzers.
  assert.ok(messages.some((m) => m.code === "IST0133" && /WasmPlugin/.test(m.message)));
});
