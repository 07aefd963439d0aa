/**
 * Gateway (networking.istio.io) validation, rule by rule as Istio decides it: ValidateGateway,
 * validateServer, validateServerPort, validateServerBind and validateTLSOptions in
 * pkg/config/validation, the host rules of agent.ValidateNamespaceSlashWildcardHostname, and
 * the CRD's schema (required fields, enums, maxItems, x-kubernetes-validations). Every case of
 * Istio's TestValidateGateway, TestValidateServer, TestValidateServerPort and
 * TestValidateTlsOptions tables is here (in our own YAML), plus one case per rule they miss.
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../diagnostic.ts";
import { parseResources } from "../resources.ts";
import { istioTreeSamples, TREE_MISSING } from "../../tests/samples.ts";
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "Gateway" };

/** One server: `port` and `hosts` as flow YAML, then more lines of the server. */
function server(port: string, hosts: string, ...more: string[]): string {
  return ["servers:", `- port: ${port}`, `  hosts: ${hosts}`, ...more.map((l) => `  ${l}`)]
    .join("\n");
}
const HTTP = "{number: 80, name: http, protocol: HTTP}";
const HTTPS = "{number: 443, name: https, protocol: HTTPS}";
const TLS = "{number: 443, name: tls, protocol: TLS}";
/** An HTTP server on port 80 with these hosts. */
const http = (hosts: string, ...more: string[]) => server(HTTP, hosts, ...more);
/** An HTTPS server on port 443 for *.example.com with this `tls` (flow YAML). */
const https = (tls: string) => server(HTTPS, '["*.example.com"]', `tls: ${tls}`);
/** A TLS server on port 443 for *.example.com with this `tls`. */
const tlsServer = (tls: string) => server(TLS, '["*.example.com"]', `tls: ${tls}`);

const CERT = "serverCertificate: c.pem, privateKey: k.pem";
const TWO_CERTS = "tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key}, " +
  "{serverCertificate: b.pem, privateKey: b.key}]";
const THREE_CERTS = "tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key}, " +
  "{serverCertificate: b.pem, privateKey: b.key}, {serverCertificate: c.pem, privateKey: c.key}]";

// deno-fmt-ignore
const ISTIO_GATEWAY: Case[] = [
  // --- TestValidateGateway
  { name: "no servers", yaml: "selector: {istio: ingressgateway}", want: "error" },
  { name: "happy domain", yaml: server("{name: name1, number: 7, protocol: http}", "[foo.bar.com]"), want: "valid" },
  {
    name: "happy multiple servers",
    yaml: `
servers:
- {port: {name: name1, number: 7, protocol: http}, hosts: [foo.bar.com]}
- {port: {name: name2, number: 8, protocol: http}, hosts: [foo.bar.com]}`,
    want: "valid",
  },
  { name: "~ namespace (only for the Gateway API's own gateways)", yaml: http('["~/foo.bar.com"]'), want: "error", message: 'namespace "~"' },
  { name: "port 66000", yaml: server("{name: name1, number: 66000, protocol: http}", "[foo.bar.com]"), want: "error" },
  {
    name: "duplicate port names",
    yaml: `
servers:
- {port: {name: foo, number: 80, protocol: http}, hosts: [foo.bar.com]}
- {port: {name: foo, number: 8080, protocol: http}, hosts: [scooby.doo.com]}`,
    want: "error",
    message: 'duplicate port name "foo"',
  },
  { name: "wildcard in a middle label, port without a name", yaml: server("{number: 7, protocol: http, name: ''}", '["foo.*.bar.com"]'), want: "error", message: "wildcard" },
  { name: "httpsRedirect on HTTP", yaml: http("[bar.com]", "tls: {httpsRedirect: true}"), want: "valid" },
  { name: "httpsRedirect on HTTPS", yaml: server("{name: https, number: 80, protocol: https}", "[bar.com]", "tls: {httpsRedirect: true}"), want: "warning", message: "httpsRedirect only applies to HTTP servers" },
  { name: "partial wildcard", yaml: server(TLS, '["*bar.com"]', "tls: {mode: ISTIO_MUTUAL}"), want: "error", message: "a wildcard must be the whole first label" },
  // --- TestValidateServer
  { name: "empty server", yaml: "servers: [{}]", want: "error", message: 'missing required field "port"' },
  { name: "server happy", yaml: server("{number: 7, name: http, protocol: http}", "[foo.bar.com]"), want: "valid" },
  { name: "IP host", yaml: http('["1.1.1.1"]'), want: "valid" },
  { name: "ns/name host", yaml: http("[ns1/foo.bar.com]"), want: "valid" },
  { name: "*/name host", yaml: http('["*/foo.bar.com"]'), want: "valid" },
  { name: "./name host", yaml: http("[./foo.bar.com]"), want: "valid" },
  { name: "wildcard in a middle label after a namespace", yaml: http('["ns1/foo.*.bar.com"]'), want: "error", message: "wildcard" },
  { name: "wildcard in a middle label", yaml: http('["foo.*.bar.com"]'), want: "error", message: "wildcard" },
  { name: "short name host", yaml: http("[foo]"), want: "error", message: "short names are not allowed in a Gateway" },
  { name: "TLS mode without certificates on an HTTP port", yaml: server("{number: 1, name: http, protocol: http}", "[foo.bar.com]", "tls: {mode: SIMPLE}"), want: "error" },
  { name: "HTTPS without tls", yaml: server("{number: 10000, name: https, protocol: https}", "[foo.bar.com]"), want: "error", message: "a HTTPS server needs tls settings" },
  { name: "SIMPLE with certificates on an HTTP port", yaml: http("[foo.bar.com]", `tls: {mode: SIMPLE, ${CERT}}`), want: "error", message: "can't have TLS settings" },
  { name: "bind to an IP", yaml: http("[foo.bar.com]", "bind: 127.0.0.1"), want: "valid" },
  { name: "unix bind with a port number", yaml: http("[foo.bar.com]", "bind: unix://@foobar"), want: "error", message: "needs port number 0" },
  { name: "unix bind with port 0", yaml: server("{number: 0, name: http, protocol: http}", "[foo.bar.com]", "bind: unix://@foobar"), want: "valid" },
  { name: "bind to a name", yaml: server("{number: 0, name: http, protocol: http}", "[foo.bar.com]", "bind: foo.bar"), want: "error", message: 'invalid bind "foo.bar"' },
  // --- TestValidateServerPort
  { name: "empty port", yaml: server("{}", "[foo.bar.com]"), want: "error" },
  { name: "port name that isn't a DNS label", yaml: server("{protocol: http, number: 1, name: Henry}", "[foo.bar.com]"), want: "valid" },
  { name: "unknown protocol", yaml: server("{protocol: kafka, number: 1, name: Henry}", "[foo.bar.com]"), want: "error", message: "must be one of" },
  { name: "port number 2^30", yaml: server("{protocol: http, number: 1073741824, name: http}", "[foo.bar.com]"), want: "error" },
  { name: "port 0 without a bind", yaml: server("{protocol: http, number: 0, name: Henry}", "[foo.bar.com]"), want: "error", message: "from 1 to 65535" },
  { name: "port 0 with a uds:// bind", yaml: server("{protocol: http, number: 0, name: Henry}", "[foo.bar.com]", "bind: uds:///tmp"), want: "error" },
];

// deno-fmt-ignore
const ISTIO_TLS: Case[] = [
  // --- TestValidateTlsOptions (each on an HTTPS server unless the mode needs TLS)
  { name: "empty tls", yaml: https("{}"), want: "valid" },
  { name: "SIMPLE with files", yaml: https(`{mode: SIMPLE, ${CERT}}`), want: "valid" },
  { name: "SIMPLE with files and a client bundle", yaml: https(`{mode: SIMPLE, ${CERT}, caCertificates: ca.pem}`), want: "valid" },
  { name: "SIMPLE with a credentialName", yaml: https("{mode: SIMPLE, credentialName: sds-name}"), want: "valid" },
  { name: "SIMPLE with a credentialName and files", yaml: https(`{mode: SIMPLE, ${CERT}, credentialName: sds-name}`), want: "error", message: "only one of" },
  { name: "SIMPLE without serverCertificate", yaml: https("{mode: SIMPLE, privateKey: k.pem}"), want: "error", message: "needs serverCertificate" },
  { name: "SIMPLE without privateKey", yaml: https("{mode: SIMPLE, serverCertificate: c.pem}"), want: "error", message: "needs privateKey" },
  { name: "SIMPLE with three tlsCertificates (the CRD allows two)", yaml: https(`{mode: SIMPLE, ${THREE_CERTS}}`), want: "error", message: "at most 2 tlsCertificates" },
  { name: "SIMPLE with files and tlsCertificates", yaml: https(`{mode: SIMPLE, ${CERT}, ${TWO_CERTS}}`), want: "error", message: "only one of" },
  { name: "SIMPLE tlsCertificates, one without a certificate", yaml: https("{mode: SIMPLE, tlsCertificates: [{privateKey: a.key}, {serverCertificate: b.pem, privateKey: b.key}]}"), want: "error", message: "needs serverCertificate" },
  { name: "SIMPLE tlsCertificates, one without a key", yaml: https("{mode: SIMPLE, tlsCertificates: [{serverCertificate: a.pem}, {serverCertificate: b.pem, privateKey: b.key}]}"), want: "error", message: "needs privateKey" },
  { name: "SIMPLE credentialName and a key", yaml: https("{mode: SIMPLE, privateKey: k.pem, credentialName: sds-name}"), want: "valid" },
  { name: "SIMPLE credentialName and a certificate", yaml: https("{mode: SIMPLE, serverCertificate: c.pem, credentialName: sds-name}"), want: "valid" },
  { name: "MUTUAL with files", yaml: https(`{mode: MUTUAL, ${CERT}, caCertificates: ca.pem}`), want: "valid" },
  { name: "MUTUAL with a credentialName and a client bundle", yaml: https("{mode: MUTUAL, caCertificates: ca.pem, credentialName: sds-name}"), want: "valid" },
  { name: "MUTUAL with a credentialName and files", yaml: https(`{mode: MUTUAL, ${CERT}, caCertificates: ca.pem, credentialName: sds-name}`), want: "error", message: "only one of" },
  { name: "MUTUAL with a credentialName and tlsCertificates", yaml: https("{mode: MUTUAL, caCertificates: ca.pem, credentialName: sds-name, tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key}]}"), want: "error", message: "only one of" },
  { name: "MUTUAL without serverCertificate", yaml: https("{mode: MUTUAL, privateKey: k.pem, caCertificates: ca.pem}"), want: "error", message: "mode MUTUAL needs serverCertificate" },
  { name: "credentialNames and files", yaml: https(`{mode: MUTUAL, ${CERT}, credentialNames: [server-certs]}`), want: "error", message: "only one of" },
  { name: "credentialNames and tlsCertificates", yaml: https("{mode: MUTUAL, credentialNames: [server-certs], tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key, caCertificates: ca2.pem}]}"), want: "error", message: "only one of" },
  { name: "MUTUAL with only tlsCertificates", yaml: https("{mode: MUTUAL, caCertificates: ca.pem, tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key}]}"), want: "valid" },
  { name: "MUTUAL credentialName, a key and a bundle", yaml: https("{mode: MUTUAL, privateKey: k.pem, caCertificates: ca.pem, credentialName: sds-name}"), want: "valid" },
  { name: "MUTUAL without a client bundle", yaml: https(`{mode: MUTUAL, ${CERT}}`), want: "error", message: "mode MUTUAL needs caCertificates" },
  { name: "MUTUAL without anything: certificate", yaml: https("{mode: MUTUAL}"), want: "error", message: "needs serverCertificate" },
  { name: "MUTUAL without anything: key", yaml: https("{mode: MUTUAL}"), want: "error", message: "needs privateKey" },
  { name: "MUTUAL without anything: bundle", yaml: https("{mode: MUTUAL}"), want: "error", message: "needs caCertificates" },
  { name: "MUTUAL with three tlsCertificates (the CRD allows two)", yaml: https(`{mode: MUTUAL, caCertificates: ca.pem, ${THREE_CERTS}}`), want: "error", message: "at most 2 tlsCertificates" },
  { name: "MUTUAL with files and tlsCertificates", yaml: https(`{mode: MUTUAL, ${CERT}, caCertificates: ca.pem, ${TWO_CERTS}}`), want: "error", message: "only one of" },
  { name: "MUTUAL tlsCertificates, one without a certificate", yaml: https("{mode: MUTUAL, caCertificates: ca.pem, tlsCertificates: [{privateKey: a.key}, {serverCertificate: b.pem, privateKey: b.key}]}"), want: "error", message: "needs serverCertificate" },
  { name: "MUTUAL tlsCertificates, one without a key", yaml: https("{mode: MUTUAL, caCertificates: ca.pem, tlsCertificates: [{serverCertificate: a.pem}, {serverCertificate: b.pem, privateKey: b.key}]}"), want: "error", message: "needs privateKey" },
  { name: "MUTUAL tlsCertificates without a bundle", yaml: https(`{mode: MUTUAL, ${TWO_CERTS}}`), want: "error", message: "needs caCertificates" },
  { name: "OPTIONAL_MUTUAL without anything: certificate", yaml: https("{mode: OPTIONAL_MUTUAL}"), want: "error", message: "needs serverCertificate" },
  { name: "OPTIONAL_MUTUAL without anything: key", yaml: https("{mode: OPTIONAL_MUTUAL}"), want: "error", message: "needs privateKey" },
  { name: "OPTIONAL_MUTUAL without anything: bundle", yaml: https("{mode: OPTIONAL_MUTUAL}"), want: "error", message: "needs caCertificates" },
  { name: "PASSTHROUGH with a credentialName", yaml: tlsServer("{mode: PASSTHROUGH, credentialName: sds-name}"), want: "warning", message: "doesn't use certificates" },
  { name: "PASSTHROUGH with a CRL", yaml: tlsServer("{mode: PASSTHROUGH, caCrl: crl.pem}"), want: "warning", message: "doesn't use certificates" },
  { name: "ISTIO_MUTUAL without files", yaml: tlsServer("{mode: ISTIO_MUTUAL}"), want: "valid" },
  { name: "ISTIO_MUTUAL with a certificate", yaml: tlsServer("{mode: ISTIO_MUTUAL, serverCertificate: c.pem}"), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "ISTIO_MUTUAL with files and a bundle", yaml: tlsServer(`{mode: ISTIO_MUTUAL, ${CERT}, caCertificates: ca.pem}`), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "ISTIO_MUTUAL with a key", yaml: tlsServer("{mode: ISTIO_MUTUAL, privateKey: k.pem}"), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "ISTIO_MUTUAL with a credentialName", yaml: tlsServer("{mode: ISTIO_MUTUAL, credentialName: some-cred}"), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "unknown cipher suite", yaml: https("{mode: SIMPLE, credentialName: sds-name, cipherSuites: [not-a-cipher-suite]}"), want: "warning", message: 'unknown cipher suite "not-a-cipher-suite"' },
  { name: "known cipher suite", yaml: https("{mode: SIMPLE, credentialName: sds-name, cipherSuites: [ECDHE-ECDSA-AES128-SHA]}"), want: "valid" },
  { name: "cipher suite operator", yaml: https("{mode: SIMPLE, credentialName: sds-name, cipherSuites: [-ECDHE-ECDSA-AES128-SHA]}"), want: "valid" },
  { name: "duplicate cipher suite", yaml: https("{mode: SIMPLE, credentialName: sds-name, cipherSuites: [ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-AES128-SHA]}"), want: "warning", message: 'duplicate cipher suite "ECDHE-ECDSA-AES128-SHA"' },
  { name: "unknown cipher suite and no key", yaml: https("{mode: SIMPLE, cipherSuites: [not-a-cipher-suite]}"), want: "error", message: "needs privateKey" },
  { name: "CRL with SIMPLE", yaml: https(`{mode: SIMPLE, ${CERT}, caCrl: crl.pem}`), want: "error", message: "caCrl needs mode MUTUAL" },
  { name: "CRL with SIMPLE and a credentialName", yaml: https("{mode: SIMPLE, caCrl: crl.pem, credentialName: credential}"), want: "valid" },
  { name: "MUTUAL without a key", yaml: https("{mode: MUTUAL, serverCertificate: c.pem, caCertificates: ca.pem}"), want: "error", message: "mode MUTUAL needs privateKey" },
  { name: "MUTUAL with credentialNames", yaml: https("{mode: MUTUAL, credentialNames: [credential1, credential2]}"), want: "valid" },
];

// deno-fmt-ignore
const RULES: Case[] = [
  // --- the Gateway and its servers
  { name: "Gateway name with a dot", yaml: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge.gw}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]`, want: "error", message: "Gateway names are DNS labels" },
  { name: "empty servers list", yaml: "servers: []", want: "error", message: "at least one server" },
  { name: "server without hosts", yaml: "servers: [{port: {number: 80, name: http, protocol: HTTP}}]", want: "error", message: 'missing required field "hosts"' },
  { name: "server with an empty hosts list", yaml: http("[]"), want: "error", message: "at least one host" },
  { name: "selector labels are not checked", yaml: 'selector: {"not a key": "not a value"}\n' + http('["*"]'), want: "valid" },
  { name: "duplicate server names (not checked)", yaml: `
servers:
- {name: web, port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}
- {name: web, port: {number: 81, name: http-alt, protocol: HTTP}, hosts: [b.example.com]}`, want: "valid" },
  { name: "the same host twice on a port (not checked)", yaml: `
servers:
- {port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}
- {port: {number: 80, name: http2, protocol: HTTP}, hosts: [a.example.com]}`, want: "valid" },
  { name: "unknown server field", yaml: http('["*"]', "tcpKeepalive: {}"), want: "error" },
  // --- hosts
  { name: "host *", yaml: http('["*"]'), want: "valid" },
  { name: "host */*", yaml: http('["*/*"]'), want: "valid" },
  { name: "host *.com", yaml: http('["*.com"]'), want: "valid" },
  { name: "host with a trailing dot", yaml: http("[foo.example.com.]"), want: "valid" },
  { name: "host with upper-case letters", yaml: http("[Foo.Example.com]"), want: "valid" },
  { name: "namespace with upper-case letters", yaml: http("[Prod/foo.example.com]"), want: "valid" },
  { name: "namespace that isn't a DNS label", yaml: http("[Bad_NS/reviews.example.com]"), want: "error", message: 'namespace "Bad_NS"' },
  { name: "empty namespace", yaml: http("[/foo.example.com]"), want: "error", message: "may be empty" },
  { name: "empty host after a namespace", yaml: http("[ns/]"), want: "error", message: "may be empty" },
  { name: "two slashes", yaml: http("[ns/a/b.example.com]"), want: "error" },
  { name: "short name after a namespace", yaml: http("[ns/reviews]"), want: "error", message: "short names are not allowed in a Gateway" },
  { name: "wildcard prefix *foo.", yaml: http('["*foo.example.com"]'), want: "error", message: "a wildcard must be the whole first label" },
  { name: "wildcard prefix *-foo.", yaml: http('["*-foo.example.com"]'), want: "error", message: "a wildcard must be the whole first label" },
  { name: "wildcard suffix foo*.", yaml: http('["foo*.example.com"]'), want: "error" },
  { name: "two wildcards", yaml: http('["*.*.example.com"]'), want: "error" },
  { name: "numeric top-level domain", yaml: http("[foo.123]"), want: "error", message: "all digits" },
  { name: "broken IPv4 address", yaml: http('["1.2.3.999"]'), want: "error" },
  { name: "IPv6 host (no dot: a short name to Istio)", yaml: http('["2001:db8::1"]'), want: "error", message: "short names" },
  { name: "IPv4-mapped IPv6 host", yaml: http('["::ffff:10.0.0.1"]'), want: "valid" },
  { name: "label of 64 characters", yaml: http(`[${"a".repeat(64)}.example.com]`), want: "error" },
  { name: "host of 256 characters", yaml: http(`[${("a".repeat(62) + ".").repeat(4)}example.com]`), want: "error", message: "255" },
  { name: "host of 254 characters", yaml: http(`[${("a".repeat(62) + ".").repeat(3)}${"b".repeat(53)}.example.com]`), want: "valid" },
  { name: "label with an underscore", yaml: http("[foo_bar.example.com]"), want: "error" },
  // --- ports
  { name: "lower-case protocol", yaml: server("{number: 80, name: grpc, protocol: grpc-web}", '["*"]'), want: "valid" },
  { name: "empty protocol", yaml: server("{number: 80, name: http, protocol: ''}", '["*"]'), want: "error" },
  { name: "port without a name", yaml: server("{number: 80, protocol: HTTP}", '["*"]'), want: "error", message: 'missing required field "name"' },
  { name: "empty port name", yaml: server("{number: 80, name: '', protocol: HTTP}", '["*"]'), want: "error", message: "the port needs a name" },
  { name: "targetPort", yaml: server("{number: 80, name: http, protocol: HTTP, targetPort: 8080}", '["*"]'), want: "error", message: "targetPort has no effect on Gateways" },
  { name: "every protocol Istio knows", yaml: `
servers:
- {port: {number: 1, name: a, protocol: HTTP2}, hosts: ["*"]}
- {port: {number: 2, name: b, protocol: GRPC}, hosts: ["*"]}
- {port: {number: 3, name: c, protocol: MONGO}, hosts: ["*"]}
- {port: {number: 4, name: d, protocol: Redis}, hosts: ["*"]}
- {port: {number: 5, name: e, protocol: mysql}, hosts: ["*"]}
- {port: {number: 6, name: f, protocol: UDP}, hosts: ["*"]}
- {port: {number: 7, name: g, protocol: HTTP_PROXY}, hosts: ["*"]}
- {port: {number: 8, name: h, protocol: TCP}, hosts: ["*"]}`, want: "valid" },
  // --- bind
  { name: "bind to an IPv6 address", yaml: http('["*"]', 'bind: "::"'), want: "valid" },
  { name: "bind to an IPv6 address with a zone", yaml: http('["*"]', 'bind: "fe80::1%eth0"'), want: "valid" },
  { name: "bind to an IPv4 address with a leading zero", yaml: http('["*"]', "bind: 10.0.0.01"), want: "error" },
  { name: "bind to a CIDR", yaml: http('["*"]', "bind: 10.0.0.0/8"), want: "error" },
  { name: "unix bind to a relative path", yaml: server("{number: 0, name: http, protocol: HTTP}", '["*"]', "bind: unix://sock"), want: "error", message: "absolute path" },
  { name: "unix bind to a directory", yaml: server("{number: 0, name: http, protocol: HTTP}", '["*"]', "bind: unix:///tmp/"), want: "error" },
  { name: "unix bind to a file", yaml: server("{number: 0, name: http, protocol: HTTP}", '["*"]', "bind: unix:///var/run/gw.sock"), want: "valid" },
  // --- which servers may have tls
  { name: "TLS without tls", yaml: server(TLS, '["*"]'), want: "error", message: "a TLS server needs tls settings" },
  { name: "TCP with tls", yaml: server("{number: 31400, name: tcp, protocol: TCP}", '["*"]', "tls: {httpsRedirect: true}"), want: "error", message: "can't have TLS settings" },
  { name: "HTTP with tls mode PASSTHROUGH", yaml: http('["*"]', "tls: {mode: PASSTHROUGH}"), want: "valid" },
  { name: "HTTP with tls mode AUTO_PASSTHROUGH", yaml: http('["*"]', "tls: {mode: AUTO_PASSTHROUGH}"), want: "valid" },
  { name: "HTTP with a redirect and a credentialName", yaml: http('["*"]', "tls: {httpsRedirect: true, credentialName: cert}"), want: "warning", message: "doesn't use certificates" },
  { name: "HTTP with a redirect and a certificate", yaml: http('["*"]', "tls: {httpsRedirect: true, serverCertificate: c.pem}"), want: "error", message: "can't have TLS settings" },
  { name: "HTTP2 with a redirect", yaml: server("{number: 80, name: h2, protocol: HTTP2}", '["*"]', "tls: {httpsRedirect: true}"), want: "valid" },
  { name: "TLS with a redirect", yaml: server(TLS, '["*"]', "tls: {httpsRedirect: true, mode: PASSTHROUGH}"), want: "warning", message: "httpsRedirect only applies to HTTP servers" },
  // --- tls fields
  { name: "unknown tls mode", yaml: https("{mode: STRICT}"), want: "error", message: "must be one of" },
  { name: "credentialName that isn't a Secret name", yaml: https('{mode: SIMPLE, credentialName: "$CREDENTIAL_NAME"}'), want: "valid" },
  { name: "credentialName with a scheme", yaml: https('{mode: SIMPLE, credentialName: "kubernetes://istio-system/cert"}'), want: "valid" },
  { name: "credentialName and credentialNames", yaml: https("{mode: SIMPLE, credentialName: a, credentialNames: [b]}"), want: "error", message: "only one of" },
  { name: "credentialName and tlsCertificates", yaml: https(`{mode: SIMPLE, credentialName: a, ${TWO_CERTS}}`), want: "error", message: "only one of" },
  { name: "three credentialNames (the CRD allows two)", yaml: https("{mode: SIMPLE, credentialNames: [a, b, c]}"), want: "error", message: "at most 2 credentialNames" },
  { name: "empty credentialNames (the CRD wants one)", yaml: https("{mode: SIMPLE, credentialNames: []}"), want: "error" },
  { name: "empty tlsCertificates (the CRD wants one)", yaml: https("{mode: SIMPLE, tlsCertificates: []}"), want: "error" },
  { name: "credentialName with empty file fields", yaml: https('{mode: SIMPLE, credentialName: a, serverCertificate: "", privateKey: ""}'), want: "valid" },
  { name: "SIMPLE with an empty serverCertificate", yaml: https('{mode: SIMPLE, serverCertificate: "", privateKey: k.pem}'), want: "error", message: "needs serverCertificate" },
  { name: "OPTIONAL_MUTUAL with a credentialName", yaml: https("{mode: OPTIONAL_MUTUAL, credentialName: a}"), want: "valid" },
  { name: "MUTUAL with a CRL", yaml: https(`{mode: MUTUAL, ${CERT}, caCertificates: ca.pem, caCrl: crl.pem}`), want: "valid" },
  { name: "PASSTHROUGH with a CRL and a credentialName", yaml: tlsServer("{mode: PASSTHROUGH, caCrl: crl.pem, credentialName: a}"), want: "error", message: "caCrl can't be set with credentialName" },
  { name: "PASSTHROUGH with two certificate sources", yaml: tlsServer(`{mode: PASSTHROUGH, credentialName: a, ${CERT}}`), want: "error", message: "only one of" },
  { name: "AUTO_PASSTHROUGH with files", yaml: tlsServer(`{mode: AUTO_PASSTHROUGH, ${CERT}}`), want: "warning", message: "doesn't use certificates" },
  { name: "ISTIO_MUTUAL with tlsCertificates", yaml: tlsServer(`{mode: ISTIO_MUTUAL, ${TWO_CERTS}}`), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "ISTIO_MUTUAL with credentialNames", yaml: tlsServer("{mode: ISTIO_MUTUAL, credentialNames: [a]}"), want: "error", message: "mode ISTIO_MUTUAL uses mesh certificates" },
  { name: "ISTIO_MUTUAL with a CRL", yaml: tlsServer("{mode: ISTIO_MUTUAL, caCrl: crl.pem}"), want: "valid" },
  { name: "TLS 1.1 without cipher suites", yaml: https("{mode: SIMPLE, credentialName: a, minProtocolVersion: TLSV1_1}"), want: "warning", message: "need cipherSuites" },
  { name: "TLS 1.0 with cipher suites", yaml: https("{mode: SIMPLE, credentialName: a, minProtocolVersion: TLSV1_0, cipherSuites: [AES128-SHA]}"), want: "valid" },
  { name: "cipher suite ALL and an empty one", yaml: https('{mode: SIMPLE, credentialName: a, cipherSuites: [ALL, ""]}'), want: "valid" },
  { name: "unknown protocol version", yaml: https("{mode: SIMPLE, credentialName: a, maxProtocolVersion: TLSV1_4}"), want: "error" },
  { name: "every other tls field", yaml: https("{mode: MUTUAL, credentialName: a, caCertCredentialName: a-ca, subjectAltNames: [spiffe://x], verifyCertificateSpki: [abc], verifyCertificateHash: [def], ecdhCurves: [P-256], insecureSkipVerify: false}"), want: "valid" },
];

tableTest("Gateway: every other rule", HEADER, RULES);

tableTest(
  "Gateway: Istio's ValidateGateway, validateServer and port tables",
  HEADER,
  ISTIO_GATEWAY,
);
tableTest("Gateway: Istio's validateTLSOptions table", HEADER, ISTIO_TLS);
export { ISTIO_GATEWAY, ISTIO_TLS, RULES };

const tree = await istioTreeSamples();
if (!tree) console.log(TREE_MISSING);

async function yamlFiles(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) await yamlFiles(p, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

Deno.test({
  name: "every Gateway and Sidecar in Istio's samples/ parses without errors",
  ignore: !tree,
  fn: async () => {
    let read = 0;
    const problems: string[] = [];
    for (const path of await yamlFiles(tree!)) {
      const text = await Deno.readTextFile(path);
      if (!/^kind: (Gateway|Sidecar)\s*$/m.test(text) || text.includes("{{")) continue;
      const r = parseResources(text, path.slice(tree!.length + 1));
      const mine = (kind: string) => kind === "Gateway" || kind === "Sidecar";
      read += r.resources.filter((x) => mine(x.kind)).length;
      for (const bad of r.invalid.filter((x) => mine(x.kind))) {
        const lines = r.diagnostics.filter((d) =>
          d.severity === "error" && d.line >= bad.source.line
        );
        problems.push(
          `${bad.source.file}:${bad.source.line}: ${lines.map(formatDiagnostic).join("; ")}`,
        );
      }
    }
    assert.deepEqual(problems, []);
    // bookinfo (2), helloworld, httpbin, multicluster (3), tcp-echo, websockets
    assert.ok(read >= 9, `only ${read} Gateways and Sidecars read`);
  },
});

Deno.test("Gateway: what mesh accepts but doesn't enforce is warned about, field by field", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    bind: 10.0.0.1
    tls:
      mode: SIMPLE
      credentialName: "$CREDENTIAL_NAME"
      ecdhCurves: [P-256]
      insecureSkipVerify: true
      cipherSuites: [AES128-SHA]
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: other, insecureSkipVerify: false}
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: AUTO_PASSTHROUGH}
  - port: {number: 9000, name: mongo, protocol: MONGO}
    hosts: ["*"]
  - port: {number: 9001, name: grpc, protocol: GRPC}
    hosts: ["*"]
`;
  const { diagnostics } = parseResources(text, "gw.yaml");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  assert.deepEqual(diagnostics.map((d) => d.path), [
    "spec.servers[0].bind",
    "spec.servers[0].tls.credentialName",
    "spec.servers[0].tls.ecdhCurves",
    "spec.servers[0].tls.insecureSkipVerify",
    "spec.servers[0].tls.cipherSuites",
    "spec.servers[1].tls",
    "spec.servers[2].tls.mode",
    "spec.servers[3].port.protocol",
  ]);
  assert.ok(
    diagnostics.every((d) => /not supported by mesh/.test(d.message)),
    diagnostics.map(formatDiagnostic).join("\n"),
  );
});
