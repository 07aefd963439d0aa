/**
 * Sidecar egress hosts as Istio scopes them: which services a workload's catch-all egress
 * listener admits, with `ns/host`, `./host`, `*\/host` imports and `~` exclusions (`~ns/host`,
 * `~/host` in every namespace, `~/*` for nothing).
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../api/diagnostic.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { parseResources } from "../api/resources.ts";
import { sidecarScope } from "./sidecars.ts";
import { buildSnapshot } from "./snapshot.ts";

const NODE: NodeInfo = {
  id: "sidecar~127.0.0.10~app.shop",
  mode: "sidecar",
  namespace: "shop",
  serviceAccount: "app",
  labels: { app: "app" },
  address: "127.0.0.10",
};

const SERVICES = [
  { host: "cart.shop.svc.cluster.local", namespace: "shop" },
  { host: "pay.shop.svc.cluster.local", namespace: "shop" },
  { host: "ledger.bank.svc.cluster.local", namespace: "bank" },
  { host: "api.example.com", namespace: "external" },
  { host: "api.example.com", namespace: "shop" },
];

/** The services (namespace/host) a Sidecar in `shop` with these catch-all hosts admits. */
function admitted(hosts: string[]): string[] {
  const text = [
    "apiVersion: networking.istio.io/v1",
    "kind: Sidecar",
    "metadata: {name: default, namespace: shop}",
    "spec:",
    "  egress:",
    `  - hosts: ${JSON.stringify(hosts)}`,
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "sidecar.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  const snapshot = buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  });
  const scope = sidecarScope(snapshot, NODE)!;
  return SERVICES.filter(scope).map((s) => `${s.namespace}/${s.host.split(".")[0]}`);
}

const ALL = ["shop/cart", "shop/pay", "bank/ledger", "external/api", "shop/api"];

const CASES: { hosts: string[]; want: string[] }[] = [
  { hosts: ["*/*"], want: ALL },
  { hosts: ["./*"], want: ["shop/cart", "shop/pay", "shop/api"] },
  { hosts: ["~/*"], want: [] },
  { hosts: ["*/*", "~/*"], want: [] },
  { hosts: ["*/*", "~bank/*"], want: ["shop/cart", "shop/pay", "external/api", "shop/api"] },
  { hosts: ["*/*", "~/api.example.com"], want: ["shop/cart", "shop/pay", "bank/ledger"] },
  {
    hosts: ["*/*", "~shop/api.example.com"],
    want: ["shop/cart", "shop/pay", "bank/ledger", "external/api"],
  },
  {
    hosts: ["*/*", "~./*.shop.svc.cluster.local"],
    want: ["bank/ledger", "external/api", "shop/api"],
  },
  { hosts: ["./*", "~./pay.shop.svc.cluster.local"], want: ["shop/cart", "shop/api"] },
  { hosts: ["bank/*", "~shop/*"], want: ["bank/ledger"] },
];

Deno.test("Sidecar egress hosts: imports and ~ exclusions", () => {
  for (const c of CASES) assert.deepEqual(admitted(c.hosts), c.want, c.hosts.join(", "));
});
