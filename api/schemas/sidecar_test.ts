/**
 * Sidecar validation, rule by rule as Istio decides it: ValidateSidecar and its helpers in
 * pkg/config/validation (egress hosts through agent.ValidateNamespaceSlashWildcardHostname,
 * ports, binds, capture modes, defaultEndpoint, ingress TLS, connection pools, the outbound
 * traffic policy) and the CRD's schema (enums, required fields, selector limits). Every case of
 * Istio's TestValidateSidecar table is here (in our own YAML), plus one case per rule it misses.
 */
import { type Case, tableTest } from "./case_table.ts";

/** Istio's table validates Sidecars in namespace `bar` (it matters for `./` duplicates). */
const HEADER = {
  apiVersion: "networking.istio.io/v1",
  kind: "Sidecar",
  name: "foo",
  namespace: "bar",
};

/** An egress listener catching everything, for cases about the rest of the Sidecar. */
const ALL = "egress: [{hosts: ['*/*']}]";
/** An ingress listener on port 90 with these more fields (flow YAML, after a comma). */
const ingress = (more: string, port = "{protocol: http, number: 90, name: foo}") =>
  `ingress: [{port: ${port}${more ? `, ${more}` : ""}}]`;
/** An ingress listener on a TCP port 90 with this `tls`. */
const tcpTls = (tls: string, endpoint = "127.0.0.1:9999") =>
  ingress(`defaultEndpoint: "${endpoint}", tls: ${tls}`, "{protocol: tcp, number: 90, name: foo}");
/** One egress listener with this port and more fields. */
const egress = (port: string, more = "", hosts = "[ns1/bar.com]") =>
  `egress: [{port: ${port}, hosts: ${hosts}${more ? `, ${more}` : ""}}]`;
const UDS_PORT = "{protocol: http, number: 0, name: uds}";
const POOL = "{http: {http1MaxPendingRequests: 1024, http2MaxRequests: 1024, " +
  "maxRequestsPerConnection: 1024, maxRetries: 1024}}";
const PROXY = "{host: foo.bar, subset: shiny, port: {number: 5000}}";

// deno-fmt-ignore
const ISTIO_SIDECAR: Case[] = [
  // --- TestValidateSidecar
  { name: "empty", yaml: "", want: "error", message: "empty Sidecar" },
  { name: "default */*", yaml: ALL, want: "valid" },
  { name: "workload selector without labels", yaml: `${ALL}\nworkloadSelector: {}`, want: "warning", message: "selects every workload" },
  { name: "./*", yaml: "egress: [{hosts: ['./*']}]", want: "valid" },
  { name: "./foo.com", yaml: "egress: [{hosts: [./foo.com]}]", want: "valid" },
  { name: "~/* (import nothing)", yaml: "egress: [{hosts: ['~/*']}]", want: "valid" },
  { name: "everything but a namespace", yaml: "egress: [{hosts: ['*/*', '~ns1/*']}]", want: "valid" },
  { name: "everything but a host", yaml: "egress: [{hosts: ['*/*', '~/foo.com']}]", want: "valid" },
  { name: "exclusion of a namespace that isn't a DNS label", yaml: "egress: [{hosts: ['*/*', '~Invalid_NS/*']}]", want: "error", message: 'namespace "~Invalid_NS"' },
  { name: "host without a namespace", yaml: "egress: [{hosts: ['*']}]", want: "error", message: "write it as namespace/host" },
  { name: "host /", yaml: "egress: [{hosts: [/]}]", want: "error", message: "may be empty" },
  { name: "egress without hosts", yaml: "egress: [{hosts: []}]", want: "error", message: "at least one" },
  { name: "two catch-all egress listeners", yaml: "egress: [{hosts: ['*/foo.com']}, {hosts: [ns1/bar.com]}]", want: "error", message: "only the last egress listener may omit port" },
  { name: "catch-all egress listener not last", yaml: "egress: [{hosts: ['*/foo.com']}, {port: {protocol: http, number: 8080, name: h8080}, hosts: [ns1/bar.com]}]", want: "error", message: "only the last egress listener may omit port" },
  { name: "bad egress port", yaml: egress("{protocol: http1, number: 1000000, name: ''}"), want: "error" },
  { name: "egress port without a name", yaml: egress("{protocol: http, number: 8080}"), want: "valid" },
  { name: "egress on an abstract-looking unix path", yaml: egress(UDS_PORT, "bind: unix:///@foo/bar/com"), want: "valid" },
  { name: "ingress with a unix bind", yaml: ingress('bind: unix:///@foo/bar/com, defaultEndpoint: "127.0.0.1:9999"', UDS_PORT), want: "error" },
  { name: "egress on a unix path", yaml: egress(UDS_PORT, "bind: unix:///foo/bar/com"), want: "valid" },
  { name: "port 0 with a bind that isn't unix", yaml: egress(UDS_PORT, "bind: foobar:///@foo/bar/com"), want: "error", message: "unix" },
  { name: "unix listener with captureMode IPTABLES", yaml: egress(UDS_PORT, "bind: unix:///@foo/bar/com, captureMode: IPTABLES"), want: "error", message: "captureMode DEFAULT or NONE" },
  {
    name: "the same unix bind twice",
    yaml: `
egress:
- {port: ${UDS_PORT}, hosts: [ns1/bar.com], bind: unix:///@foo/bar/com}
- {port: ${UDS_PORT}, hosts: [ns1/bar.com], bind: unix:///@foo/bar/com}`,
    want: "error",
    message: "is already used by egress[0]",
  },
  {
    name: "the same egress port twice",
    yaml: `
egress:
- {port: {protocol: http, number: 90, name: foo}, hosts: [ns1/bar.com]}
- {port: {protocol: tcp, number: 90, name: tcp}, hosts: [ns2/bar.com]}`,
    want: "error",
    message: "port 90 is already used by egress[0]",
  },
  { name: "ingress without a port", yaml: `ingress: [{defaultEndpoint: "127.0.0.1:110"}]\n${ALL}`, want: "error", message: 'missing required field "port"' },
  { name: "ingress without a port, IPv6 endpoint", yaml: `ingress: [{defaultEndpoint: "[::1]:110"}]\n${ALL}`, want: "error", message: 'missing required field "port"' },
  {
    name: "the same ingress port twice",
    yaml: `
ingress:
- {port: {protocol: http, number: 90, name: foo}, defaultEndpoint: "127.0.0.1:110"}
- {port: {protocol: tcp, number: 90, name: bar}, defaultEndpoint: "127.0.0.1:110"}
${ALL}`,
    want: "error",
    message: "port 90 is already used by ingress[0]",
  },
  {
    name: "the same ingress port twice, IPv6 endpoints",
    yaml: `
ingress:
- {port: {protocol: http, number: 90, name: foo}, defaultEndpoint: "[::1]:110"}
- {port: {protocol: tcp, number: 90, name: bar}, defaultEndpoint: "[::1]:110"}
${ALL}`,
    want: "error",
    message: "port 90 is already used by ingress[0]",
  },
  { name: "ingress without a defaultEndpoint", yaml: `${ingress("")}\n${ALL}`, want: "valid" },
  { name: "defaultEndpoint on another IPv4 host", yaml: ingress('defaultEndpoint: "1.1.1.1:90"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint on another IPv6 host", yaml: ingress('defaultEndpoint: "[1:1:1:1:1:1:1:1]:90"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint unix:///", yaml: `${ingress('defaultEndpoint: "unix:///"')}\n${ALL}`, want: "error", message: "not a directory" },
  { name: "defaultEndpoint port that isn't a number", yaml: `${ingress('defaultEndpoint: "127.0.0.1:hi"')}\n${ALL}`, want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint IPv6 port that isn't a number", yaml: `${ingress('defaultEndpoint: "[::1]:hi"')}\n${ALL}`, want: "error", message: "invalid defaultEndpoint" },
  { name: "ingress and egress, IPv4", yaml: `${ingress('defaultEndpoint: "127.0.0.1:9999"')}\n${ALL}`, want: "valid" },
  { name: "ingress and egress, IPv6", yaml: `${ingress('defaultEndpoint: "[::1]:9999"')}\n${ALL}`, want: "valid" },
  { name: "ingress only, IPv4", yaml: ingress('defaultEndpoint: "127.0.0.1:9999"'), want: "valid" },
  { name: "ingress only, IPv6", yaml: ingress('defaultEndpoint: "[::1]:9999"'), want: "valid" },
  { name: "empty again", yaml: "{}", want: "error", message: "empty Sidecar" },
  { name: "only an outbound traffic policy", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY}", want: "valid" },
  { name: "ingress port without a protocol, IPv4", yaml: `${ingress('defaultEndpoint: "127.0.0.1:9999"', "{number: 90, name: foo}")}\n${ALL}`, want: "valid" },
  { name: "ingress port without a protocol, IPv6", yaml: `${ingress('defaultEndpoint: "[::1]:9999"', "{number: 90, name: foo}")}\n${ALL}`, want: "valid" },
  { name: "ALLOW_ANY without an egress proxy", yaml: `outboundTrafficPolicy: {mode: ALLOW_ANY}\n${ALL}`, want: "valid" },
  { name: "egress proxy with REGISTRY_ONLY (the default)", yaml: `outboundTrafficPolicy: {egressProxy: ${PROXY}}\n${ALL}`, want: "error", message: "needs outboundTrafficPolicy mode ALLOW_ANY" },
  { name: "egress proxy with ALLOW_ANY", yaml: `outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: ${PROXY}}\n${ALL}`, want: "valid" },
  { name: "egress proxy host that isn't a name", yaml: `outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: "foobar*123", subset: shiny, port: {number: 5000}}}\n${ALL}`, want: "error", message: "foobar*123" },
  { name: "egress proxy without a port", yaml: `outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: foo.bar, subset: shiny}}\n${ALL}`, want: "error", message: "egressProxy needs a port" },
  { name: "ALLOW_ANY_DYNAMIC_DNS (MeshConfig only)", yaml: `outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}\n${ALL}`, want: "error" },
  { name: "*/* and another host", yaml: "egress: [{hosts: ['*/*', test/a.com]}]", want: "warning", message: '"*/*" already selects every host' },
  { name: "*/b.com and test/a.com", yaml: "egress: [{hosts: ['*/b.com', test/a.com]}]", want: "valid" },
  { name: "test/* and test/a.com", yaml: "egress: [{hosts: ['test/*', test/a.com]}]", want: "warning", message: 'duplicate egress host "test/a.com"' },
  { name: "partial wildcard", yaml: "egress: [{hosts: ['test/*a.com']}]", want: "error", message: "a wildcard must be the whole first label" },
  { name: "./* and bar/a.com in namespace bar", yaml: "egress: [{hosts: ['./*', bar/a.com]}]", want: "warning", message: 'duplicate egress host "bar/a.com"' },
  { name: "ingress tls ISTIO_MUTUAL", yaml: ingress('defaultEndpoint: "127.0.0.1:9999", tls: {mode: ISTIO_MUTUAL}'), want: "error", message: "mode ISTIO_MUTUAL can't be used in Sidecar ingress tls" },
  { name: "ingress tls ISTIO_MUTUAL, IPv6", yaml: ingress('defaultEndpoint: "[::1]:9999", tls: {mode: ISTIO_MUTUAL}'), want: "error", message: "mode ISTIO_MUTUAL can't be used" },
  { name: "ingress tls AUTO_PASSTHROUGH", yaml: ingress('defaultEndpoint: "127.0.0.1:9999", tls: {mode: AUTO_PASSTHROUGH}'), want: "error", message: "mode AUTO_PASSTHROUGH can't be used" },
  { name: "ingress tls AUTO_PASSTHROUGH, IPv6", yaml: ingress('defaultEndpoint: "[::1]:9999", tls: {mode: AUTO_PASSTHROUGH}'), want: "error", message: "mode AUTO_PASSTHROUGH can't be used" },
  { name: "ingress tls on a TCP port", yaml: tcpTls("{mode: SIMPLE}"), want: "error", message: "a TCP port can't have TLS settings" },
  { name: "ingress tls on a TCP port, IPv6", yaml: tcpTls("{mode: SIMPLE}", "[::1]:9999"), want: "error", message: "a TCP port can't have TLS settings" },
  { name: "ingress tls httpsRedirect", yaml: tcpTls("{mode: SIMPLE, httpsRedirect: true}"), want: "error", message: "httpsRedirect is not supported in Sidecar ingress tls" },
  { name: "ingress tls httpsRedirect, IPv6", yaml: tcpTls("{mode: SIMPLE, httpsRedirect: true}", "[::1]:9999"), want: "error", message: "httpsRedirect is not supported" },
  { name: "ingress tls subjectAltNames", yaml: tcpTls("{mode: SIMPLE, subjectAltNames: [httpbin.com]}"), want: "error", message: "subjectAltNames is not supported in Sidecar ingress tls" },
  { name: "ingress tls subjectAltNames, IPv6", yaml: tcpTls("{mode: SIMPLE, subjectAltNames: [httpbin.com]}", "[::1]:9999"), want: "error", message: "subjectAltNames is not supported" },
  { name: "ingress tls credentialName", yaml: tcpTls("{mode: SIMPLE, credentialName: secret-name}"), want: "error", message: "credentialName is not supported in Sidecar ingress tls" },
  { name: "ingress tls credentialName, IPv6", yaml: tcpTls("{mode: SIMPLE, credentialName: secret-name}", "[::1]:9999"), want: "error", message: "credentialName is not supported" },
  { name: "ingress tls credentialNames", yaml: tcpTls("{mode: SIMPLE, credentialNames: [secret-name]}"), want: "error", message: "credentialNames is not supported in Sidecar ingress tls" },
  { name: "ingress tls credentialNames, IPv6", yaml: tcpTls("{mode: SIMPLE, credentialNames: [secret-name]}", "[::1]:9999"), want: "error", message: "credentialNames is not supported" },
  { name: "ingress tls tlsCertificates", yaml: tcpTls("{mode: SIMPLE, tlsCertificates: [{serverCertificate: a.crt, privateKey: a.key}, {serverCertificate: b.crt, privateKey: b.key}]}"), want: "error", message: "tlsCertificates is not supported in Sidecar ingress tls" },
  { name: "ingress tls tlsCertificates, IPv6", yaml: tcpTls("{mode: SIMPLE, tlsCertificates: [{serverCertificate: a.crt, privateKey: a.key}, {serverCertificate: b.crt, privateKey: b.key}]}", "[::1]:9999"), want: "error", message: "tlsCertificates is not supported" },
  { name: "inbound connection pool", yaml: `inboundConnectionPool: ${POOL}`, want: "valid" },
  { name: "port connection pool and an inbound default", yaml: `${ingress(`connectionPool: ${POOL}`)}\ninboundConnectionPool: ${POOL}`, want: "valid" },
  { name: "port connection pool without an inbound default", yaml: ingress(`connectionPool: ${POOL}`), want: "valid" },
  { name: "http pool settings on a TCP port", yaml: ingress(`connectionPool: ${POOL}`, "{protocol: tcp, number: 90, name: foo}"), want: "warning", message: "http connection pool settings apply only to HTTP ports" },
  { name: "empty inbound connection pool", yaml: "inboundConnectionPool: {}", want: "error", message: "connection pool" },
  { name: "empty port connection pool", yaml: ingress("connectionPool: {}", "{protocol: tcp, number: 90, name: foo}"), want: "error", message: "connection pool" },
];

const many = Array.from({ length: 257 }, (_, i) => `l${i}: v`).join(", ");

// deno-fmt-ignore
const RULES: Case[] = [
  // --- workloadSelector (Istio checks keys and values for "*" and empty keys; the CRD limits
  // values to 63 characters and a selector to 256 labels; nothing else)
  { name: "selector", yaml: `workloadSelector: {labels: {app: reviews}}\n${ALL}`, want: "valid" },
  { name: "selector with an empty key", yaml: `workloadSelector: {labels: {"": x}}\n${ALL}`, want: "error", message: "empty" },
  { name: "selector with a wildcard value", yaml: `workloadSelector: {labels: {app: "rev*"}}\n${ALL}`, want: "error", message: "wildcard" },
  { name: "selector with a wildcard key", yaml: `workloadSelector: {labels: {"app*": x}}\n${ALL}`, want: "error", message: "wildcard" },
  { name: "selector value of 64 characters", yaml: `workloadSelector: {labels: {app: ${"a".repeat(64)}}}\n${ALL}`, want: "error", message: "63" },
  { name: "selector key and value that aren't Kubernetes labels", yaml: `workloadSelector: {labels: {"a b": "c d"}}\n${ALL}`, want: "valid" },
  { name: "selector with 257 labels", yaml: `workloadSelector: {labels: {${many}}}\n${ALL}`, want: "error", message: "256" },
  { name: "selector with empty labels", yaml: `workloadSelector: {labels: {}}\n${ALL}`, want: "warning", message: "selects every workload" },
  // --- egress hosts
  { name: "./*.example.com", yaml: "egress: [{hosts: ['./*.example.com']}]", want: "valid" },
  { name: "host with a trailing dot", yaml: "egress: [{hosts: [ns/foo.example.com.]}]", want: "valid" },
  { name: "namespace with upper-case letters", yaml: "egress: [{hosts: [Prod/foo.example.com]}]", want: "valid" },
  { name: "IP address host (only Gateways take them)", yaml: "egress: [{hosts: [ns/10.0.0.1]}]", want: "error" },
  { name: "short name", yaml: "egress: [{hosts: [./reviews]}]", want: "error", message: "short names are not allowed in a Sidecar" },
  { name: "exclusion without a host", yaml: "egress: [{hosts: ['~/']}]", want: "error", message: "may be empty" },
  { name: "exclusion of ./", yaml: "egress: [{hosts: ['*/*', '~./*.internal.example.com']}]", want: "valid" },
  { name: "exclusions are not duplicates", yaml: "egress: [{hosts: ['ns1/*', '~ns1/a.example.com', '~ns1/a.example.com']}]", want: "valid" },
  { name: "the same host twice", yaml: "egress: [{hosts: [ns1/a.example.com, ns1/a.example.com]}]", want: "warning", message: 'duplicate egress host "ns1/a.example.com"' },
  { name: "a namespace wildcard after a host", yaml: "egress: [{hosts: [ns1/a.example.com, 'ns1/*']}]", want: "warning", message: 'duplicate egress host "ns1/*"' },
  { name: "wildcard suffix", yaml: "egress: [{hosts: ['ns/foo*.example.com']}]", want: "error" },
  { name: "wildcard prefix *-", yaml: "egress: [{hosts: ['ns/*-foo.example.com']}]", want: "error", message: "a wildcard must be the whole first label" },
  { name: "hosts missing", yaml: "egress: [{port: {number: 80, protocol: HTTP, name: http}}]", want: "error", message: 'missing required field "hosts"' },
  // --- egress ports, binds and capture modes
  { name: "egress port without a protocol", yaml: egress("{number: 8080, name: http}"), want: "valid" },
  { name: "egress port with an unknown protocol", yaml: egress("{number: 8080, name: k, protocol: kafka}"), want: "error", message: "must be one of" },
  { name: "egress port name with upper-case letters", yaml: egress("{number: 8080, name: HTTP, protocol: HTTP}"), want: "valid" },
  { name: "egress port name with an underscore", yaml: egress("{number: 8080, name: my_port, protocol: HTTP}"), want: "error", message: "invalid port name" },
  { name: "egress targetPort", yaml: egress("{number: 8080, name: http, targetPort: 9090}"), want: "error", message: "targetPort has no effect on Sidecars" },
  { name: "egress bind to an IPv6 address", yaml: egress("{number: 8080, name: http}", 'bind: "::1"'), want: "valid" },
  { name: "egress bind to a name", yaml: egress("{number: 8080, name: http}", "bind: localhost"), want: "error", message: 'invalid bind "localhost"' },
  { name: "egress unix bind with a port number", yaml: egress("{number: 8080, name: http}", "bind: unix:///var/run/out.sock"), want: "error", message: "invalid bind" },
  { name: "egress unix bind to a relative path", yaml: egress(UDS_PORT, "bind: unix://out.sock"), want: "error", message: "absolute path" },
  { name: "egress port 0 without a bind", yaml: egress(UDS_PORT), want: "error", message: "unix" },
  { name: "unix listener with captureMode NONE", yaml: egress(UDS_PORT, "bind: unix:///var/run/out.sock, captureMode: NONE"), want: "valid" },
  { name: "egress captureMode IPTABLES on a port", yaml: egress("{number: 8080, name: http}", "captureMode: IPTABLES"), want: "valid" },
  { name: "unknown captureMode", yaml: egress("{number: 8080, name: http}", "captureMode: EBPF"), want: "error", message: "must be one of" },
  { name: "catch-all listener with a bind that isn't checked", yaml: "egress: [{hosts: ['*/*'], bind: not-an-address, captureMode: NONE}]", want: "valid" },
  {
    name: "the same port on two binds",
    yaml: `
egress:
- {port: {number: 9000, name: a}, bind: 127.0.0.1, hosts: [ns1/a.example.com]}
- {port: {number: 9000, name: b}, bind: 127.0.0.2, hosts: [ns1/b.example.com]}`,
    want: "error",
    message: "port 9000 is already used by egress[0]",
  },
  { name: "egress port 70000", yaml: egress("{number: 70000, name: http}"), want: "error" },
  // --- ingress
  { name: "ingress port 0", yaml: ingress("", "{number: 0, name: http, protocol: HTTP}"), want: "error" },
  { name: "ingress port without a number", yaml: ingress("", "{name: http, protocol: HTTP}"), want: "error" },
  { name: "ingress port name with an underscore", yaml: ingress("", "{number: 90, name: my_port}"), want: "error", message: "invalid port name" },
  { name: "ingress port with an unknown protocol", yaml: ingress("", "{number: 90, name: foo, protocol: kafka}"), want: "error", message: "must be one of" },
  { name: "ingress targetPort", yaml: ingress("", "{number: 90, name: foo, targetPort: 9090}"), want: "error", message: "targetPort has no effect on Sidecars" },
  { name: "ingress bind to an IP", yaml: ingress("bind: 10.0.0.1"), want: "valid" },
  { name: "ingress bind to a name", yaml: ingress("bind: localhost"), want: "error", message: 'invalid bind "localhost"' },
  { name: "ingress captureMode", yaml: ingress("captureMode: NONE"), want: "valid" },
  { name: "defaultEndpoint :8080", yaml: ingress('defaultEndpoint: ":8080"'), want: "valid" },
  { name: "defaultEndpoint 0.0.0.0", yaml: ingress('defaultEndpoint: "0.0.0.0:8080"'), want: "valid" },
  { name: "defaultEndpoint [::]", yaml: ingress('defaultEndpoint: "[::]:8080"'), want: "valid" },
  { name: "defaultEndpoint without a port", yaml: ingress("defaultEndpoint: 127.0.0.1"), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint port 0", yaml: ingress('defaultEndpoint: "127.0.0.1:0"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint port 70000", yaml: ingress('defaultEndpoint: "127.0.0.1:70000"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint localhost", yaml: ingress('defaultEndpoint: "localhost:8080"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint IPv6 without brackets", yaml: ingress('defaultEndpoint: "::1:8080"'), want: "error", message: "invalid defaultEndpoint" },
  { name: "defaultEndpoint on a unix socket", yaml: ingress("defaultEndpoint: unix:///var/run/app.sock"), want: "valid" },
  { name: "defaultEndpoint on an abstract unix socket", yaml: ingress("defaultEndpoint: unix://@app"), want: "valid" },
  { name: "defaultEndpoint on a relative unix path", yaml: ingress("defaultEndpoint: unix://app.sock"), want: "error", message: "absolute path" },
  // --- ingress tls
  { name: "ingress tls SIMPLE on HTTPS", yaml: ingress("tls: {mode: SIMPLE, serverCertificate: c.pem, privateKey: k.pem}", "{number: 443, name: https, protocol: HTTPS}"), want: "valid" },
  { name: "ingress tls SIMPLE on HTTPS without files", yaml: ingress("tls: {mode: SIMPLE}", "{number: 443, name: https, protocol: HTTPS}"), want: "error", message: "needs serverCertificate" },
  { name: "ingress tls MUTUAL without a bundle", yaml: ingress("tls: {mode: MUTUAL, serverCertificate: c.pem, privateKey: k.pem}", "{number: 443, name: https, protocol: HTTPS}"), want: "error", message: "needs caCertificates" },
  { name: "ingress tls PASSTHROUGH on TLS", yaml: ingress("tls: {mode: PASSTHROUGH}", "{number: 443, name: tls, protocol: TLS}"), want: "valid" },
  { name: "ingress tls on a port without a protocol", yaml: ingress("tls: {mode: SIMPLE, serverCertificate: c.pem, privateKey: k.pem}", "{number: 443, name: https}"), want: "error", message: "can't have TLS settings" },
  // --- outboundTrafficPolicy
  { name: "unknown outbound mode", yaml: "outboundTrafficPolicy: {mode: BLOCK}", want: "error", message: "must be one of REGISTRY_ONLY, ALLOW_ANY" },
  { name: "egress proxy with a short name", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: squid, port: {number: 3128}}}", want: "valid" },
  { name: "egress proxy host *", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: '*', port: {number: 3128}}}", want: "error" },
  { name: "egress proxy wildcard host", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: '*.proxy.example.com', port: {number: 3128}}}", want: "error" },
  { name: "egress proxy without a host", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {port: {number: 3128}}}", want: "error", message: 'missing required field "host"' },
  { name: "egress proxy subset that isn't a DNS label", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: squid.example.com, subset: Bad_Subset, port: {number: 3128}}}", want: "error", message: "subset" },
  { name: "egress proxy with an empty subset", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: squid.example.com, subset: '', port: {number: 3128}}}", want: "valid" },
  { name: "egress proxy port 0", yaml: "outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: squid.example.com, port: {number: 0}}}", want: "error" },
  { name: "unknown Sidecar field", yaml: `${ALL}\negres: []`, want: "error", message: "did you mean" },
];

tableTest("Sidecar: every other rule", HEADER, RULES);

tableTest("Sidecar: Istio's ValidateSidecar table", HEADER, ISTIO_SIDECAR);
export { ISTIO_SIDECAR, RULES };
