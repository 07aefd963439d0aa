import assert from "node:assert/strict";
import { EC_P256, generateKey, x509 } from "../../ca/pem.ts";
import { gatewaySecretAnalyzer, validCredential } from "./gateway_secrets.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const DAY = 86_400_000;
const { keys, keyPem } = await generateKey();

/** A self-signed certificate (PEM) valid from `from` to `to` (ms from now). */
async function certificate(from: number, to: number): Promise<string> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=httpbin.example.com",
    notBefore: new Date(Date.now() + from),
    notAfter: new Date(Date.now() + to),
    signingAlgorithm: EC_P256,
    keys,
  });
  return cert.toString("pem");
}
const b64 = (s: string) => btoa(s);
const VALID = b64(await certificate(-DAY, 365 * DAY));
const EXPIRED = b64(await certificate(-30 * DAY, -DAY));
const KEY = b64(keyPem);

const secret = (name: string, type: string, data: string) =>
  `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: istio-system}
type: ${type}
data: ${data}
---
`;
const gateway = (name: string, selector: string, credentialName?: string) =>
  `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}}
spec:
  selector: ${selector}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: SIMPLE${credentialName ? `, credentialName: "${credentialName}"` : ""}}
    hosts: ["httpbin.example.com"]
---
`;
const ingress = "{istio: ingressgateway}";

Deno.test("gateway secrets: a valid certificate, an expired one, keys missing", () => {
  const kube = (data: Record<string, string>) => ({
    type: "Secret" as const,
    origin: { kind: "Secret", name: "s", file: "", line: 0, lineOf: () => 0 },
    namespace: "istio-system",
    name: "s",
    secretType: "kubernetes.io/tls",
    data,
  });
  assert.ok(validCredential(kube({ "tls.crt": VALID, "tls.key": KEY })));
  assert.ok(validCredential(kube({ cert: VALID, key: KEY })));
  assert.ok(!validCredential(kube({ "tls.crt": EXPIRED, "tls.key": KEY })));
  assert.ok(!validCredential(kube({ "tls.crt": VALID })));
  assert.ok(!validCredential(kube({ "tls.crt": b64("hush hush hush\n"), "tls.key": KEY })));
});

Deno.test("gateway secrets: the messages, at the credentialName", () => {
  const yaml = gateway("gw", ingress, "nope");
  assert.deepEqual(linesOf(run(yaml, { analyzers: [gatewaySecretAnalyzer] })), [
    'Error [IST0101] (Gateway default/gw t.yaml:8) Referenced credentialName not found: "nope"',
  ]);
  const expired = secret("old", "kubernetes.io/tls", `{tls.crt: ${EXPIRED}, tls.key: ${KEY}}`) +
    gateway("gw", ingress, "old");
  assert.deepEqual(linesOf(run(expired, { analyzers: [gatewaySecretAnalyzer] })), [
    "Error [IST0161] (Gateway default/gw t.yaml:14) The credential referenced by the Gateway gw " +
    "in namespace istio-system is invalid, which can cause the traffic not to work as expected.",
  ]);
});

// Istio's testdata/gateway-secrets.yaml and gateway-secrets-validation.yaml, with certificates
// made here (valid for a year, and expired yesterday) instead of Istio's fixed ones.
istioCases(gatewaySecretAnalyzer, [
  {
    name: "gatewaySecret",
    yaml: secret("httpbin-credential", "Opaque", `{tls.crt: ${VALID}, tls.key: ${KEY}}`) +
      `apiVersion: v1
kind: Pod
metadata: {labels: {myapp: custom-gateway}, name: custom-gateway}
---
` + gateway("defaultgateway-noerrors", ingress, "httpbin-credential") +
      gateway("defaultgateway-bogusCredentialName", ingress, "httpbin-credential-bogus") +
      gateway("customgateway-wrongnamespace", "{istio: custom-gateway}", "httpbin-credential") +
      gateway("bogusgateway", "{istio: custom-gateway}", "httpbin-credential") +
      gateway("defaultgateway-nocredential", ingress),
    expected: [
      "IST0101 Gateway default/defaultgateway-bogusCredentialName",
      "IST0101 Gateway default/customgateway-wrongnamespace",
      "IST0101 Gateway default/bogusgateway",
    ],
  },
  {
    name: "gatewaySecretValidations",
    yaml:
      secret("invalid-key", "Opaque", "{cert: aHVzaCBodXNoIGh1c2gK, key: c2VjcmV0IHNlY3JldAo=}") +
      gateway("defaultgateway-invalid-keys", ingress, "invalid-key") +
      secret("missing-key", "kubernetes.io/tls", "{tls.cert: aHVzaCBodXNoIGh1c2gK}") +
      gateway("defaultgateway-missing-keys", ingress, "missing-key") +
      secret(
        "invalid-cert",
        "kubernetes.io/tls",
        "{tls.cert: aHVzaCBodXNoIGh1c2gK, tls.key: c2VjcmV0IHNlY3JldAo=}",
      ) +
      gateway("defaultgateway-invalid-cert", ingress, "invalid-cert") +
      secret("expired-secret", "kubernetes.io/tls", `{tls.crt: ${EXPIRED}, tls.key: ${KEY}}`) +
      gateway("defaultgateway-expired", ingress, "expired-secret"),
    expected: [
      "IST0161 Gateway default/defaultgateway-invalid-keys",
      "IST0161 Gateway default/defaultgateway-missing-keys",
      "IST0161 Gateway default/defaultgateway-invalid-cert",
      "IST0161 Gateway default/defaultgateway-expired",
    ],
  },
]);
