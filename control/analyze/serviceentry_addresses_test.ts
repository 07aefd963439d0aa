import assert from "node:assert/strict";
import { serviceEntryAddressAnalyzer } from "./serviceentry_addresses.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const entry = (name: string, ports: string, extra = "") =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: ["istio.io"]
  exportTo: ["."]
  ports: ${ports}
  location: MESH_EXTERNAL
  resolution: DNS
${extra}---
`;
const meshConfig = (metadata: string) =>
  `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: istio, namespace: istio-system}
spec:
  defaultConfig:
    proxyMetadata: ${metadata}
---
`;

Deno.test("ServiceEntry addresses: one message per TCP or unset port, at the port", () => {
  const yaml = entry("db", "[{number: 5432, name: pg}, {number: 80, name: http, protocol: HTTP}]");
  assert.deepEqual(linesOf(run(yaml, { analyzers: [serviceEntryAddressAnalyzer] })), [
    "Warning [IST0134] (ServiceEntry default/db t.yaml:7) ServiceEntry addresses are required " +
    "for this protocol.",
  ]);
});

const missing = entry("service-entry-test-01", "[{number: 443, name: https, protocol: HTTPS}]") +
  entry(
    "service-entry-test-02",
    "[{number: 443, name: https, protocol: HTTPS}]",
    "  addresses: [10.0.0.1]\n",
  ) +
  entry("service-entry-test-03", "[{number: 443, name: https}]") +
  entry("service-entry-test-04", '[{number: 443, name: https, protocol: ""}]') +
  entry("service-entry-test-05", "[{number: 443, name: https, protocol: HTTPS}]") +
  entry(
    "service-entry-test-06",
    "[{number: 443, name: https, protocol: TCP}]",
    "  addresses: [10.0.0.1]\n",
  ) +
  entry("service-entry-test-07", "[{number: 443, name: https, protocol: TCP}]");
const bare = (name: string, protocol: string, status = "") =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [dummy.testing.io]
  ports: [{name: tcp, number: 22, protocol: ${protocol}}]
${status}---
`;

// Istio's testdata/serviceentry-*address*.yaml; their MeshConfig files become mesh's MeshConfig.
istioCases(serviceEntryAddressAnalyzer, [
  {
    name: "missing Addresses and Protocol in Service Entry",
    yaml: missing,
    expected: [
      "IST0134 ServiceEntry default/service-entry-test-03",
      "IST0134 ServiceEntry default/service-entry-test-04",
      "IST0134 ServiceEntry default/service-entry-test-07",
    ],
  },
  {
    name:
      "missing Addresses and Protocol in Service Entry with ISTIO_META_DNS_AUTO_ALLOCATE enabled",
    yaml: missing +
      meshConfig('{ISTIO_META_DNS_CAPTURE: "true", ISTIO_META_DNS_AUTO_ALLOCATE: "true"}'),
    expected: [],
  },
  {
    name: "ServiceEntry Addresses Required Lowercase Protocol",
    yaml: bare("address-missing-lowercase", "tcp"),
    expected: ["IST0134 ServiceEntry default/address-missing-lowercase"],
  },
  {
    name: "ServiceEntry Addresses Required Uppercase Protocol",
    yaml: bare("address-missing-uppercase", "TCP"),
    expected: ["IST0134 ServiceEntry default/address-missing-uppercase"],
  },
  {
    name: "ServiceEntry Addresses Allocated",
    yaml: bare(
      "address-allocated",
      "TCP",
      "status:\n  addresses:\n  - {host: dummy.testing.io, value: 240.240.0.1}\n" +
        '  - {host: dummy.testing.io, value: "2001:2::1"}\n',
    ) + meshConfig('{ISTIO_META_DNS_CAPTURE: "true"}'),
    expected: [],
  },
]);
