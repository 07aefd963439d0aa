import assert from "node:assert/strict";
import { destinationRuleTlsAnalyzer } from "./destination_rule_tls.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const CERTS =
  "clientCertificate: /etc/certs/myclientcert.pem, privateKey: /etc/certs/client_private_key.pem";
const SNI = "sni: my-nginx.mesh-external.svc.cluster.local";
const rule = (name: string, policy: string, extra = "") =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}}
spec:
  host: mydbserver.prod.svc.cluster.local
  trafficPolicy:
${policy}
${extra}`;
const top = (tls: string) => `    tls: {${tls}}`;
const port = (tls: string) =>
  `    portLevelSettings:\n    - port: {number: 443}\n      tls: {${tls}}`;
const selector = "  workloadSelector:\n    matchLabels: {app: db}\n";

Deno.test("destination rule TLS: the messages, at the mode field", () => {
  const yaml = rule("db", top(`mode: SIMPLE, ${CERTS}`) + "\n" + port(`mode: MUTUAL, ${CERTS}`));
  const only = { analyzers: [destinationRuleTlsAnalyzer] };
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Warning [IST0128] (DestinationRule default/db t.yaml:${lineOf(yaml, "tls: {mode: SIMPLE")}) ` +
    "DestinationRule default/db in namespace default has TLS mode set to SIMPLE but no " +
    "caCertificates are set to validate server identity for host: mydbserver.prod.svc.cluster.local",
    `Warning [IST0129] (DestinationRule default/db t.yaml:${lineOf(yaml, "tls: {mode: MUTUAL")}) ` +
    "DestinationRule default/db in namespace default has TLS mode set to MUTUAL but no " +
    "caCertificates are set to validate server identity for host: " +
    "mydbserver.prod.svc.cluster.local at port number:443",
  ]);
});

// Istio's testdata/destinationrule-{simple,mutual,compound}-*.yaml and -with-ca.yaml.
istioCases(destinationRuleTlsAnalyzer, [
  {
    name: "destinationrule with no cacert, simple at destinationlevel",
    yaml: rule("db-tls", top(`mode: SIMPLE, ${CERTS}`)),
    expected: ["IST0128 DestinationRule default/db-tls"],
  },
  {
    name: "destinationrule with no cacert, mutual at destinationlevel",
    yaml: rule("db-mtls", top(`mode: MUTUAL, ${CERTS}`)),
    expected: ["IST0128 DestinationRule default/db-mtls"],
  },
  {
    name: "destinationrule with no cacert, simple at portlevel",
    yaml: rule("db-tls", port(`mode: SIMPLE, ${CERTS}, ${SNI}`)),
    expected: ["IST0129 DestinationRule default/db-tls"],
  },
  {
    name: "destinationrule with credentialname, simple at destinationlevel, no workloadSelector",
    yaml: rule("db-tls", top("mode: SIMPLE, credentialName: db-credential")),
    expected: ["IST0128 DestinationRule default/db-tls"],
  },
  {
    name: "destinationrule with credentialname, simple at destinationlevel, workloadSelector",
    yaml: rule("db-tls", top("mode: SIMPLE, credentialName: db-credential"), selector),
    expected: [],
  },
  {
    name: "destinationrule with credentialname, simple at portlevel, no workloadSelector",
    yaml: rule("db-tls", port("mode: SIMPLE, credentialName: db-credential")),
    expected: ["IST0129 DestinationRule default/db-tls"],
  },
  {
    name: "destinationrule with credentialname, simple at portlevel, workloadSelector",
    yaml: rule("db-tls", port("mode: SIMPLE, credentialName: db-credential"), selector),
    expected: [],
  },
  {
    name: "destinationrule with no cacert, mutual at portlevel",
    yaml: rule("db-mtls", port(`mode: MUTUAL, ${CERTS}, ${SNI}`)),
    expected: ["IST0129 DestinationRule default/db-mtls"],
  },
  {
    name: "destinationrule with no cacert, mutual at destinationlevel and simple at port level",
    yaml: rule(
      "db-mtls",
      top(`mode: MUTUAL, ${CERTS}`) + "\n" + port(`mode: SIMPLE, ${CERTS}, ${SNI}`),
    ),
    expected: [
      "IST0128 DestinationRule default/db-mtls",
      "IST0129 DestinationRule default/db-mtls",
    ],
  },
  {
    name: "destinationrule with no cacert, simple at destinationlevel and mutual at port level",
    yaml: rule(
      "db-mtls",
      top(`mode: SIMPLE, ${CERTS}`) + "\n" + port(`mode: MUTUAL, ${CERTS}, ${SNI}`),
    ),
    expected: [
      "IST0129 DestinationRule default/db-mtls",
      "IST0128 DestinationRule default/db-mtls",
    ],
  },
  {
    name: "destinationrule with both cacerts",
    yaml: rule(
      "db-mtls",
      top(`mode: MUTUAL, ${CERTS}, caCertificates: /etc/certs/root.pem`) + "\n" +
        port(`mode: SIMPLE, ${CERTS}, caCertificates: /etc/certs/root.pem, ${SNI}`),
    ),
    expected: [],
  },
]);
