/**
 * Bookinfo across hosts (issue 13): the control plane, the ingress gateway and each of the six
 * workloads on a host of its own (examples/bookinfo/hosts.ts, as `deno task demo --hosts`),
 * every workload host under `mesh iptables --redirect-dns` with a `--capture` sidecar, so the
 * unmodified apps call each other by short name with no proxy variables. The product page,
 * asked from outside the mesh through the gateway, shows reviews from the version the
 * VirtualService says (v2), and every hop crosses hosts over mTLS (the callee's sidecar saw
 * the caller's SPIFFE identity).
 *
 * Root only (network namespaces, iptables): elsewhere skipped with one line.
 */
import assert from "node:assert/strict";
import { captureUnavailable, fleetTest, Topology } from "./topology.ts";
import { BOOKINFO_HOSTS, sidecarStats, startBookinfoFleet } from "../examples/bookinfo/hosts.ts";

const skip = await captureUnavailable();
if (skip) console.log(`bookinfo_hosts_test: skipped, ${skip}`);

const REVIEWS_V2 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v2}}]}]
`;

fleetTest({
  name: "Bookinfo over eight hosts: capture, DNS, routing by the VirtualService, mTLS on every hop",
  file: import.meta.url,
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-bookinfo-hosts-" });
  const t = await Topology.create({ hosts: BOOKINFO_HOSTS });
  try {
    const fleet = await startBookinfoFleet(t, {
      dir,
      extraConfig: { "reviews-v2.yaml": REVIEWS_V2 },
    });
    await fleet.ready().catch((err) => {
      const tails = fleet.procs.map((p) => `--- ${p.name} ---\n${p.output.slice(-1500)}`);
      throw new Error(`${err.message}\n${tails.join("\n")}`);
    });
    for (let i = 0; i < 5; i++) {
      const page = await fleet.productPage();
      assert.match(page, /Reviews served by: reviews-v2/, page.slice(0, 2000));
    }
    const principal = (sa: string) =>
      `source_principal="spiffe://cluster.local/ns/default/sa/bookinfo-${sa}"`;
    const saw = async (host: string, caller: string) => {
      const stats = await sidecarStats(t.host(host));
      assert.ok(
        stats.includes(principal(caller)),
        `${host} saw no ${caller}:\n${stats.slice(0, 2000)}`,
      );
      assert.match(stats, /connection_security_policy="mutual_tls"/);
    };
    await saw("details", "productpage");
    await saw("reviews-v2", "productpage");
    await saw("ratings", "reviews");
    // Routing held: v1 and v3 got nothing from the product page.
    for (const host of ["reviews-v1", "reviews-v3"]) {
      const stats = await sidecarStats(t.host(host));
      assert.ok(!stats.includes(principal("productpage")), `${host} was called`);
    }
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
