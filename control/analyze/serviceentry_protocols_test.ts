import assert from "node:assert/strict";
import { serviceEntryProtocolAnalyzer } from "./serviceentry_protocols.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [serviceEntryProtocolAnalyzer] };

const se = (name: string, protocol: string | undefined, extra = "", ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: [api.example.com]
  ports:
  - number: 443
    name: p
${protocol ? `    protocol: ${protocol}\n` : ""}  resolution: DNS
${extra}---
`;

Deno.test("serviceentry protocols: one host and port, two protocols: IST0177 on each", () => {
  // Istio's own example.
  const yaml = se("api-http", "HTTP") + se("api-tls", "TLS");
  const msg = (name: string) =>
    `Warning [IST0177] (ServiceEntry default/${name} t.yaml:${
      lineOf(yaml, `name: ${name}`)
    }) Multiple ServiceEntries (default/api-http, default/api-tls) define the same host ` +
    '"api.example.com" and port 443 with conflicting protocols (HTTP, TLS).';
  assert.deepEqual(linesOf(run(yaml, only), "IST0177"), [msg("api-http"), msg("api-tls")]);
});

Deno.test("serviceentry protocols: same protocol (any case), other ports: no conflict", () => {
  assert.deepEqual(linesOf(run(se("a", "HTTP") + se("b", "http"), only), "IST0177"), []);
  const otherPort = se("a", "HTTP") + se("b", "TLS").replace("number: 443", "number: 8443");
  assert.deepEqual(linesOf(run(otherPort, only), "IST0177"), []);
  // No protocol is its own value.
  const unset = linesOf(run(se("a", "HTTP") + se("b", undefined), only), "IST0177");
  assert.equal(unset.length, 2);
  assert.match(unset[0], /conflicting protocols \(HTTP, UNSET\)\.$/);
});

Deno.test("serviceentry protocols: exportTo keeps entries apart unless both are visible", () => {
  const local = (name: string, protocol: string, ns: string) =>
    se(name, protocol, '  exportTo: ["."]\n', ns);
  assert.deepEqual(
    linesOf(run(local("a", "HTTP", "team-1") + local("b", "TLS", "team-2"), only), "IST0177"),
    [],
  );
  // Exported everywhere, it meets the local one in team-2.
  const both = se("a", "HTTP", "", "team-1") + local("b", "TLS", "team-2");
  assert.equal(linesOf(run(both, only), "IST0177").length, 2);
});

const entry = (name: string, ns: string, host: string, port: string, exportTo = "") =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  ports: [${port}]
  resolution: DNS
  location: MESH_EXTERNAL
${exportTo}---
`;

// Istio's testdata/serviceentry-conflicting-protocol.yaml, -no-conflict-protocol.yaml and
// -conflicting-exportto.yaml.
istioCases(serviceEntryProtocolAnalyzer, [
  {
    name: "ServiceEntry conflicting protocols on same host and port",
    yaml: entry(
      "se-https",
      "default",
      "example.com",
      "{name: https-13835, number: 13835, protocol: HTTPS}",
    ) +
      entry(
        "se-http",
        "default",
        "example.com",
        "{name: http-13835, number: 13835, protocol: HTTP}",
      ) +
      entry(
        "se-no-conflict",
        "default",
        "other.com",
        "{name: https-443, number: 443, protocol: HTTPS}",
      ),
    expected: [
      "IST0177 ServiceEntry default/se-http",
      "IST0177 ServiceEntry default/se-https",
    ],
  },
  {
    name: "ServiceEntry no conflict same protocol",
    yaml: entry(
      "se-https-only",
      "default",
      "example.com",
      "{name: https-443, number: 443, protocol: HTTPS}",
    ) +
      entry(
        "se-https-only-2",
        "default",
        "example.com",
        "{name: https-443-2, number: 443, protocol: HTTPS}",
      ),
    expected: [],
  },
  {
    name: "ServiceEntry no conflict non-overlapping exportTo scopes",
    yaml: entry(
      "se-ns1",
      "ns1",
      "example.com",
      "{name: http-8080, number: 8080, protocol: HTTP}",
      '  exportTo: ["."]\n',
    ) +
      entry(
        "se-ns2",
        "ns2",
        "example.com",
        "{name: https-8080, number: 8080, protocol: HTTPS}",
        '  exportTo: ["."]\n',
      ),
    expected: [],
  },
]);
