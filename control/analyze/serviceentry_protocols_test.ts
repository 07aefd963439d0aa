import assert from "node:assert/strict";
import { serviceEntryProtocolAnalyzer } from "./serviceentry_protocols.ts";
import { lineOf, linesOf, run } from "./testutil.ts";

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
