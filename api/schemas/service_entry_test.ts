/**
 * ServiceEntry validation, rule by rule as Istio decides it: ValidateServiceEntry in
 * pkg/config/validation (hosts, addresses, ports, each resolution's rules, endpoints through
 * validateWorkloadEntry, exportTo, the workload selector, the IP auto-allocation warning) and the
 * CRD's schema and x-kubernetes-validations. Every case of Istio's TestValidateServiceEntries
 * table, the ServiceEntry side of Test_validateExportTo and testdata/crds/serviceentry-*.yaml is
 * here (in our own YAML), plus one case per rule they miss.
 */
import assert from "node:assert/strict";
import { parseResources } from "../resources.ts";
import { istioTreeSamples, TREE_MISSING } from "../../tests/samples.ts";
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry" };

const HTTP1 = "{number: 80, protocol: http, name: http-valid1}";
const HTTP2 = "{number: 8080, protocol: http, name: http-valid2}";
const TWO_HTTP = `ports: [${HTTP1}, ${HTTP2}]`;
const ONE_HTTP = `ports: [${HTTP1}]`;
/** Endpoints (flow YAML) for the two HTTP ports. */
const eps = (a: string, b: string, portB = "http-valid2") =>
  `endpoints: [{address: ${a}, ports: {http-valid1: 8080}}, {address: ${b}, ports: {${portB}: 9080}}]`;

/** A whole entry in namespace `ns5` (Istio's exportTo table) with this exportTo. */
function exported(exportTo: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: ns5}
spec:
  hosts: [example.com]
  ports: [${HTTP1}]
  exportTo: ${exportTo}`;
}

/** A whole entry with these labels (flow YAML) and spec lines. */
function labelled(labels: string, spec: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, labels: ${labels}}
spec:
${spec.split("\n").map((l) => `  ${l}`).join("\n")}`;
}

// deno-fmt-ignore
const ISTIO_SERVICE_ENTRY: Case[] = [
  // --- TestValidateServiceEntries
  { name: "DNS", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\n${eps("lon.google.com", "in.google.com")}\nresolution: DNS`, want: "valid" },
  { name: "DNS_ROUND_ROBIN", yaml: `hosts: ['*.istio.io']\n${TWO_HTTP}\nendpoints: [{address: api-v1.istio.io, ports: {http-valid1: 8080}}]\nresolution: DNS_ROUND_ROBIN`, want: "valid" },
  { name: "DNS, tlsMode label", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\nendpoints: [{address: lon.google.com, ports: {http-valid1: 8080}, labels: {security.istio.io/tlsMode: istio}}, {address: in.google.com, ports: {http-valid2: 9080}, labels: {security.istio.io/tlsMode: istio}}]\nresolution: DNS`, want: "valid" },
  { name: "DNS, one host with an address and an https port", yaml: `hosts: [httpbin.org]\naddresses: [10.10.10.10]\nports: [${HTTP1}, ${HTTP2}, {number: 443, protocol: https, name: https}]\nresolution: DNS`, want: "valid" },
  { name: "DNS, two hosts with an address and an https port", yaml: `hosts: [httpbin.org, wikipedia.org]\naddresses: [10.10.10.10]\nports: [${HTTP1}, ${HTTP2}, {number: 443, protocol: https, name: https}]\nresolution: DNS`, want: "warning", message: "more than one host" },
  { name: "DNS with an address", yaml: `hosts: ['*.google.com']\naddresses: [10.10.10.10]\n${TWO_HTTP}\n${eps("lon.google.com", "in.google.com")}\nresolution: DNS`, want: "valid" },
  { name: "DNS, an IP endpoint", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\n${eps("1.1.1.1", "in.google.com")}\nresolution: DNS`, want: "valid" },
  { name: "DYNAMIC_DNS", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\nresolution: DYNAMIC_DNS`, want: "valid" },
  { name: "no hosts", yaml: `${ONE_HTTP}\nendpoints: [{address: in.google.com, ports: {http-valid2: 9080}}]\nresolution: DNS`, want: "error", message: "hosts" },
  { name: "bad host -", yaml: `hosts: ['-']\n${ONE_HTTP}\nendpoints: [{address: in.google.com, ports: {http-valid2: 9080}}]\nresolution: DNS`, want: "error", message: "not a DNS label" },
  { name: "host *", yaml: `hosts: [foo.com, '*']\n${ONE_HTTP}\nendpoints: [{address: in.google.com, ports: {http-valid2: 9080}}]\nresolution: DNS`, want: "error", message: '"*"' },
  { name: "short name host", yaml: `hosts: [foo, bar.com]\n${ONE_HTTP}\nendpoints: [{address: in.google.com, ports: {http-valid1: 9080}}]\nresolution: DNS`, want: "valid" },
  { name: "endpoint port not in the entry", yaml: `hosts: [google.com]\nports: [${HTTP1}, {number: 80, protocol: http, name: http-valid2}]\n${eps("lon.google.com", "in.google.com", "http-dne")}\nresolution: DNS`, want: "error", message: "http-dne" },
  { name: "DNS, a wildcard endpoint", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\n${eps("'*.lon.google.com'", "in.google.com", "http-dne")}\nresolution: DNS`, want: "error", message: "*.lon.google.com" },
  { name: "DNS, a wildcard host without endpoints", yaml: `hosts: ['*.google.com']\n${TWO_HTTP}\nresolution: DNS`, want: "error", message: "FQDN" },
  { name: "DNS without endpoints", yaml: `hosts: [google.com]\n${TWO_HTTP}\nresolution: DNS`, want: "valid" },
  { name: "DNS, a unix endpoint", yaml: `hosts: ['*.google.com']\n${ONE_HTTP}\nendpoints: [{address: 'unix:///lon/google/com'}]\nresolution: DNS`, want: "error", message: "unix:///lon/google/com" },
  { name: "NONE", yaml: `hosts: [google.com]\n${TWO_HTTP}\nresolution: NONE`, want: "valid" },
  { name: "NONE with endpoints", yaml: `hosts: [google.com]\n${TWO_HTTP}\nendpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}]\nresolution: NONE`, want: "error", message: "NONE" },
  { name: "NONE with a CIDR address", yaml: `hosts: [google.com]\naddresses: [172.1.2.16/16]\n${TWO_HTTP}\nresolution: NONE`, want: "valid" },
  { name: "STATIC with a CIDR address and endpoints", yaml: `hosts: [google.com]\naddresses: [172.1.2.16/16]\n${TWO_HTTP}\n${eps("1.1.1.1", "2.2.2.2")}\nresolution: STATIC`, want: "valid" },
  { name: "STATIC", yaml: `hosts: [google.com]\naddresses: [172.1.2.16]\n${TWO_HTTP}\n${eps("1.1.1.1", "2.2.2.2")}\nresolution: STATIC`, want: "valid" },
  { name: "STATIC, an FQDN endpoint", yaml: `hosts: [google.com]\naddresses: [172.1.2.16]\n${TWO_HTTP}\n${eps("google.com", "2.2.2.2")}\nresolution: STATIC`, want: "error", message: "IP" },
  { name: "STATIC without endpoints", yaml: `hosts: [google.com]\naddresses: [172.1.2.16]\n${TWO_HTTP}\nresolution: STATIC`, want: "valid" },
  { name: "STATIC, endpoint port not in the entry", yaml: `hosts: [google.com]\naddresses: [172.1.2.16]\n${TWO_HTTP}\n${eps("1.1.1.1", "2.2.2.2", "http-dne")}\nresolution: STATIC`, want: "error", message: "http-dne" },
  { name: "NONE, a port name twice", yaml: "hosts: [google.com]\nports: [{number: 80, protocol: http, name: http-conflict}, {number: 8080, protocol: http, name: http-conflict}]\nresolution: NONE", want: "error", message: "http-conflict" },
  { name: "NONE, a port number twice", yaml: "hosts: [google.com]\nports: [{number: 80, protocol: http, name: http-conflict1}, {number: 80, protocol: http, name: http-conflict2}]\nresolution: NONE", want: "error", message: "80" },
  { name: "unix socket", yaml: "hosts: [uds.cluster.local]\nports: [{number: 6553, protocol: grpc, name: grpc-service1}]\nresolution: STATIC\nendpoints: [{address: 'unix:///path/to/socket'}]", want: "valid" },
  { name: "unix socket, relative path", yaml: "hosts: [uds.cluster.local]\nports: [{number: 6553, protocol: grpc, name: grpc-service1}]\nresolution: STATIC\nendpoints: [{address: 'unix://./relative/path.sock'}]", want: "error", message: "absolute" },
  { name: "unix socket with endpoint ports", yaml: "hosts: [uds.cluster.local]\nports: [{number: 6553, protocol: grpc, name: grpc-service1}]\nresolution: STATIC\nendpoints: [{address: 'unix:///path/to/socket', ports: {grpc-service1: 6553}}]", want: "error", message: "ports" },
  { name: "unix socket with two service ports", yaml: "hosts: [uds.cluster.local]\nports: [{number: 6553, protocol: grpc, name: grpc-service1}, {number: 80, protocol: http, name: http-service2}]\nresolution: STATIC\nendpoints: [{address: 'unix:///path/to/socket'}]", want: "error", message: "exactly one service port" },
  { name: "a port without a protocol", yaml: `hosts: [google.com]\naddresses: [172.1.2.16/16]\nports: [${HTTP1}, {number: 8080, name: http-valid2}]\nresolution: NONE`, want: "valid" },
  { name: "workloadSelector (resolution NONE)", yaml: `hosts: [google.com]\nworkloadSelector: {labels: {foo: bar}}\n${ONE_HTTP}`, want: "warning", message: "NONE" },
  { name: "workloadSelector without labels", yaml: `hosts: [google.com]\n${TWO_HTTP}\nworkloadSelector: {}`, want: "warning", message: "without labels" },
  { name: "workloadSelector and endpoints", yaml: `hosts: [google.com]\nworkloadSelector: {labels: {foo: bar}}\n${ONE_HTTP}\nendpoints: [{address: 1.1.1.1}]`, want: "error", message: "workloadSelector" },
  { name: "workloadSelector with resolution NONE", yaml: `hosts: [google.com]\nworkloadSelector: {labels: {foo: bar}}\n${ONE_HTTP}\nresolution: NONE`, want: "warning", message: "NONE" },
  { name: "workloadSelector with resolution DNS", yaml: `hosts: [google.com]\nworkloadSelector: {labels: {foo: bar}}\n${ONE_HTTP}\nresolution: DNS`, want: "valid" },
  { name: "workloadSelector with an empty key", yaml: `hosts: [google.com]\nworkloadSelector: {labels: {'': bar}}\n${ONE_HTTP}`, want: "error", message: "empty key" },
  { name: "two ports with one target port", yaml: "hosts: [google.com]\nresolution: DNS\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 80}, {number: 81, protocol: http, name: http-valid2, targetPort: 80}]", want: "valid" },
  { name: "target port", yaml: "hosts: [google.com]\nresolution: DNS\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]", want: "valid" },
  { name: "target port 65536", yaml: "hosts: [google.com]\nresolution: DNS\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 65536}]", want: "error" },
  { name: "target port with a selector (resolution NONE)", yaml: "hosts: [google.com]\nworkloadSelector: {labels: {key: bar}}\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 1234}]", want: "warning", message: "NONE" },
  { name: "endpoint port", yaml: "hosts: [google.com]\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\nresolution: STATIC\nendpoints: [{address: 1.1.1.1, ports: {http-valid1: 8081}}]", want: "valid" },
  { name: "endpoint port 65536", yaml: "hosts: [google.com]\nports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\nresolution: STATIC\nendpoints: [{address: 1.1.1.1, ports: {http-valid1: 65536}}]", want: "error" },
  { name: "no addresses, a port without a protocol", yaml: `hosts: [google.com]\naddresses: []\nports: [${HTTP1}, {number: 8080, name: http-valid2}]\nresolution: NONE`, want: "warning", message: "addresses are required" },
  { name: "no addresses, a TCP port", yaml: `hosts: [google.com]\naddresses: []\nports: [${HTTP1}, {number: 81, protocol: TCP, name: tcp-valid1}]\nresolution: NONE`, want: "warning", message: "addresses are required" },
  { name: "DNS_ROUND_ROBIN with two endpoints", yaml: "hosts: [google.com]\naddresses: []\nports: [{number: 8081, protocol: http, name: http-valid1}]\nendpoints: [{address: api-v1.istio.io, ports: {http-valid1: 8081}}, {address: 1.1.1.2, ports: {http-valid1: 8081}}]\nresolution: DNS_ROUND_ROBIN", want: "error", message: "DNS_ROUND_ROBIN" },
  { name: "DNS_ROUND_ROBIN without endpoints", yaml: "hosts: [google.com]\naddresses: []\nports: [{number: 8081, protocol: http, name: http-valid1}]\nendpoints: []\nresolution: DNS_ROUND_ROBIN", want: "valid" },
  { name: "partial wildcard host", yaml: "hosts: ['*.nytimes.com', '*washingtonpost.com']\naddresses: []\nports: [{number: 443, protocol: HTTPS, name: https-nytimes}]\nresolution: NONE", want: "warning", message: "partial wildcard" },
  { name: "an endpoint with a network and no address", yaml: "hosts: [www.example.com]\naddresses: []\nports: [{number: 443, protocol: HTTPS, name: https-example}]\nendpoints: [{network: cluster-1}]\nresolution: STATIC", want: "warning", message: "cluster-1" },
  { name: "DYNAMIC_DNS with a TCP port", yaml: `hosts: ['*.google.com']\naddresses: []\nports: [${HTTP1}, {number: 81, protocol: TCP, name: tcp-valid1}]\nresolution: DYNAMIC_DNS`, want: "error", message: "DYNAMIC_DNS" },
  { name: "DYNAMIC_DNS with a GRPC port", yaml: "hosts: ['*.svc.cluster.local']\naddresses: []\nports: [{number: 9090, protocol: GRPC, name: grpc}]\nresolution: DYNAMIC_DNS", want: "valid" },
  { name: "DYNAMIC_DNS with an FQDN host", yaml: "hosts: [google.com]\naddresses: []\nports: [{number: 80, protocol: http, name: http-valid}]\nresolution: DYNAMIC_DNS", want: "error", message: "wildcard" },
  { name: "DYNAMIC_DNS with endpoints", yaml: `hosts: ['*.google.com']\naddresses: []\n${ONE_HTTP}\nendpoints: [{address: in.google.com, ports: {http-valid1: 9080}}]\nresolution: DYNAMIC_DNS`, want: "error", message: "endpoints" },
  { name: "DYNAMIC_DNS with an address", yaml: `hosts: ['*.google.com']\naddresses: [10.10.10.10]\n${TWO_HTTP}\nresolution: DYNAMIC_DNS`, want: "error", message: "addresses" },
  { name: "DYNAMIC_DNS without hosts", yaml: `hosts: []\naddresses: []\n${ONE_HTTP}\nresolution: DYNAMIC_DNS`, want: "error", message: "host" },
  { name: "DYNAMIC_DNS with two wildcard hosts", yaml: `hosts: ['*.google.com', '*.amazon.com']\naddresses: []\n${ONE_HTTP}\nresolution: DYNAMIC_DNS`, want: "valid" },
  { name: "DYNAMIC_DNS, MESH_INTERNAL", yaml: `hosts: ['*.google.com']\naddresses: []\n${ONE_HTTP}\nresolution: DYNAMIC_DNS\nlocation: MESH_INTERNAL`, want: "valid" },
  { name: "DYNAMIC_DNS, MESH_INTERNAL with a waypoint", yaml: labelled("{istio.io/use-waypoint: my-waypoint}", `hosts: ['*.google.com']\naddresses: []\n${ONE_HTTP}\nresolution: DYNAMIC_DNS\nlocation: MESH_INTERNAL`), want: "error", message: "waypoint" },
  { name: "DYNAMIC_DNS, a null port", yaml: "hosts: ['*.google.com']\nlocation: MESH_EXTERNAL\nports: [null]\nresolution: DYNAMIC_DNS", want: "error" },
  { name: "a null port", yaml: "hosts: [google.com]\nports: [null]\nresolution: NONE", want: "error" },
  { name: "DNS with an address, a null port", yaml: "hosts: [google.com]\naddresses: [1.2.3.4]\nports: [null]\nresolution: DNS", want: "error" },

  // --- Test_validateExportTo (the ServiceEntry side; namespace ns5)
  { name: "exportTo ~", yaml: exported("['~']"), want: "valid" },
  { name: "exportTo ~ twice and a namespace", yaml: exported("['~', '~', ns1]"), want: "error", message: "exportTo" },
  { name: "exportTo ~ and a namespace", yaml: exported("['~', ns1]"), want: "error", message: "can't be combined" },

  // --- testdata/crds/serviceentry-valid.yaml and -invalid.yaml
  { name: "crd: every field", yaml: "hosts: [example.com]\nworkloadSelector: {labels: {foo: bar}}\naddresses: [1.2.3.4, '001:db8::']\nexportTo: [foo, .]\nlocation: MESH_EXTERNAL\nports: [{name: foo, protocol: HTTP, number: 1234, targetPort: 2345}]\nsubjectAltNames: [sa]\nresolution: DNS", want: "valid" },
  { name: "crd: DNS with an endpoint", yaml: "hosts: [example.com]\nendpoints: [{address: sub.example.com}]\nports: [{name: foo, protocol: HTTP, number: 1234, targetPort: 2345}]\nresolution: DNS", want: "valid" },
  { name: "crd: empty selector", yaml: "workloadSelector: {}\nhosts: [example.com]", want: "warning", message: "without labels" },
  { name: "crd: partial wildcard *x", yaml: "hosts: ['*x']", want: "warning", message: "partial wildcard" },
  { name: "crd: NONE with a /32", yaml: "hosts: [example.com]\naddresses: [1.1.1.1/32]", want: "valid" },
  { name: "crd: no spec", yaml: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: no-spec}", want: "error", message: "spec" },
  { name: "crd: no hosts", yaml: "", want: "error", message: "hosts" },
  { name: "crd: selector value *", yaml: "hosts: [example.com]\nworkloadSelector: {labels: {val: '*'}}", want: "error", message: "wildcard" },
  { name: "crd: selector and endpoints", yaml: "hosts: [example.com]\nworkloadSelector: {}\nendpoints: [{address: 1.2.3.4}]", want: "error", message: "workloadSelector" },
  { name: "crd: host *", yaml: "hosts: ['*']", want: "error", message: '"*"' },
  { name: "crd: CIDR with DNS", yaml: "hosts: [example.com]\naddresses: [1.2.3.4/16]\nresolution: DNS", want: "error", message: "CIDR" },
  { name: "crd: a port name twice", yaml: "hosts: [example.com]\nports: [{name: a, number: 1}, {name: a, number: 12}]", want: "error", message: "duplicate port name" },
  { name: "crd: a port number twice", yaml: "hosts: [example.com]\nports: [{name: a, number: 1}, {name: b, number: 1}]", want: "error", message: "duplicate port" },
  { name: "crd: port 99999", yaml: "hosts: [example.com]\nports: [{name: a, number: 99999}]", want: "error" },
  { name: "crd: target port 99999", yaml: "hosts: [example.com]\nports: [{name: a, number: 1, targetPort: 99999}]", want: "error" },
  { name: "crd: NONE with endpoints", yaml: "hosts: [example.com]\nendpoints: [{address: 1.2.3.4}]\nresolution: NONE", want: "error", message: "NONE" },
  { name: "crd: DNS_ROUND_ROBIN with two endpoints", yaml: "hosts: [example.com]\nresolution: DNS_ROUND_ROBIN\nendpoints: [{address: sub1.example.com}, {address: sub2.example.com}]", want: "error", message: "DNS_ROUND_ROBIN" },
];

const HTTP_PORT = "ports: [{number: 80, protocol: HTTP, name: http}]";

// deno-fmt-ignore
const MORE_SERVICE_ENTRY: Case[] = [
  // --- hosts
  { name: "a host listed twice (not checked)", yaml: `hosts: [a.com, a.com]\n${HTTP_PORT}`, want: "valid" },
  { name: "a host in upper case with a trailing dot", yaml: `hosts: [API.Example.com.]\n${HTTP_PORT}`, want: "valid" },
  { name: "a *- host (partial wildcard)", yaml: `hosts: ['*-api.example.com']\n${HTTP_PORT}`, want: "warning", message: "partial wildcard" },
  { name: "a partial wildcard host with DYNAMIC_DNS (no warning)", yaml: "hosts: ['*x.example.com']\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: DYNAMIC_DNS", want: "valid" },
  { name: "a host with * inside", yaml: `hosts: ['a*.example.com']\n${HTTP_PORT}`, want: "error", message: "not a DNS label" },
  { name: "257 hosts (CRD)", yaml: `hosts: [${Array.from({ length: 257 }, (_, i) => `h${i}.com`).join(", ")}]\n${HTTP_PORT}`, want: "error", message: "256" },
  // --- addresses: agent.ValidateIPSubnet (Go's netip)
  { name: "an IPv6 CIDR address", yaml: `hosts: [a.com]\naddresses: ['2001:db8::/32']\n${HTTP_PORT}`, want: "valid" },
  { name: "a CIDR address with 33 bits", yaml: `hosts: [a.com]\naddresses: [1.2.3.4/33]\n${HTTP_PORT}`, want: "error", message: "CIDR" },
  { name: "a CIDR address with a leading zero in the bits", yaml: `hosts: [a.com]\naddresses: [1.2.3.4/08]\n${HTTP_PORT}`, want: "error", message: "CIDR" },
  { name: "an IPv4 address with a leading zero", yaml: `hosts: [a.com]\naddresses: [01.2.3.4]\n${HTTP_PORT}`, want: "error", message: "IP" },
  { name: "an IPv6 address with a zone", yaml: `hosts: [a.com]\naddresses: ['fe80::1%eth0']\n${HTTP_PORT}`, want: "valid" },
  { name: "an IPv6 CIDR with a zone", yaml: `hosts: [a.com]\naddresses: ['fe80::1%eth0/64']\n${HTTP_PORT}`, want: "error", message: "CIDR" },
  { name: "a host name as an address", yaml: `hosts: [a.com]\naddresses: [a.com]\n${HTTP_PORT}`, want: "error", message: "IP" },
  { name: "an address of 65 characters (CRD)", yaml: `hosts: [a.com]\naddresses: ['${"1:".repeat(32)}1']\n${HTTP_PORT}`, want: "error", message: "64" },
  { name: "CIDR with STATIC", yaml: `hosts: [a.com]\naddresses: [10.0.0.0/8]\n${HTTP_PORT}\nresolution: STATIC`, want: "valid" },
  { name: "CIDR with DNS_ROUND_ROBIN", yaml: `hosts: [a.com]\naddresses: [10.0.0.0/8]\n${HTTP_PORT}\nresolution: DNS_ROUND_ROBIN`, want: "error", message: "CIDR" },
  // --- ports
  { name: "a port name in upper case", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: HTTP}]", want: "valid" },
  { name: "a port name with an underscore", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http_1}]", want: "error", message: "port name" },
  { name: "a port without a name (CRD)", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP}]", want: "error", message: "name" },
  { name: "protocol in lower case", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: mongo, name: db}]", want: "valid" },
  { name: "protocol FTP", yaml: "hosts: [a.com]\nports: [{number: 21, protocol: FTP, name: ftp}]", want: "error", message: "must be one of HTTP, HTTPS" },
  { name: "protocol tcp in lower case, no addresses (warned: mesh reads protocols in any case, where Istio's warning compares with TCP literally)", yaml: "hosts: [a.com]\nports: [{number: 81, protocol: tcp, name: tcp}]", want: "warning", message: "addresses are required" },
  { name: "a TCP port without addresses, resolution DNS (auto-allocated)", yaml: "hosts: [a.com]\nports: [{number: 81, protocol: TCP, name: tcp}]\nresolution: DNS", want: "valid" },
  { name: "a TCP port without addresses, auto-allocation opted out", yaml: labelled("{networking.istio.io/enable-autoallocate-ip: 'False'}", "hosts: [a.com]\nports: [{number: 81, protocol: TCP, name: tcp}]\nresolution: DNS"), want: "warning", message: "addresses are required" },
  { name: "target port 0 (CRD)", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http, targetPort: 0}]", want: "error" },
  { name: "two hosts and a TCP port, STATIC", yaml: "hosts: [a.com, b.com]\naddresses: [1.1.1.1]\nports: [{number: 81, protocol: TCP, name: tcp}]\nresolution: STATIC", want: "error", message: "non-HTTP, non-TLS" },
  { name: "two hosts and a port without a protocol, DNS", yaml: "hosts: [a.com, b.com]\nports: [{number: 81, name: tcp}]\nresolution: DNS", want: "error", message: "non-HTTP, non-TLS" },
  { name: "two hosts and a TCP port, NONE", yaml: "hosts: [a.com, b.com]\naddresses: [1.1.1.1]\nports: [{number: 81, protocol: TCP, name: tcp}]", want: "valid" },
  { name: "two hosts, an address and a Mongo port, DNS", yaml: "hosts: [a.com, b.com]\naddresses: [1.1.1.1]\nports: [{number: 27017, protocol: MONGO, name: db}]\nresolution: DNS", want: "error", message: "non-HTTP, non-TLS" },
  // --- endpoints
  { name: "STATIC, an endpoint without an address", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nendpoints: [{labels: {a: b}}]", want: "error", message: "address" },
  { name: "DNS, an endpoint with only a network", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: DNS\nendpoints: [{network: n1}]", want: "error", message: "FQDN" },
  { name: "DNS, an endpoint with a bad label", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: DNS\nendpoints: [{address: b.com, labels: {a: 'b c'}}]", want: "error", message: "label" },
  { name: "DNS, an upper-case endpoint port name", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: HTTP}]\nresolution: DNS\nendpoints: [{address: b.com, ports: {HTTP: 8080}}]", want: "valid" },
  { name: "an endpoint port name of 63 characters (CRD: under 63)", yaml: `hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP, name: ${"p".repeat(63)}}]\nresolution: STATIC\nendpoints: [{address: 1.1.1.2, ports: {${"p".repeat(63)}: 8080}}]`, want: "error", message: "port name" },
  { name: "DNS, a unix endpoint with ports (CRD)", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: DNS\nendpoints: [{address: 'unix:///sock', ports: {http: 80}}]", want: "error", message: "ports" },
  { name: "NONE with an empty endpoints list (CRD)", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nendpoints: []", want: "error", message: "NONE" },
  { name: "an endpoint service account that isn't a Kubernetes name (not checked)", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nendpoints: [{address: 1.1.1.2, serviceAccount: Bad_SA}]", want: "valid" },
  { name: "an endpoint weight", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nendpoints: [{address: 1.1.1.2, weight: 3, locality: us/east}]", want: "valid" },
  // --- workloadSelector: ValidateAlphaWorkloadSelector and the CRD
  { name: "a selector label key with a space (not checked)", yaml: "hosts: [a.com]\naddresses: [1.1.1.1]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nworkloadSelector: {labels: {'a b': c}}", want: "valid" },
  { name: "a selector label key with *", yaml: "hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nworkloadSelector: {labels: {'a*': c}}", want: "error", message: "wildcard" },
  { name: "a selector value of 64 characters (CRD)", yaml: `hosts: [a.com]\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: STATIC\nworkloadSelector: {labels: {a: ${"v".repeat(64)}}}`, want: "error", message: "63" },
  // --- location, resolution
  { name: "location MESH_NOWHERE", yaml: `hosts: [a.com]\n${HTTP_PORT}\nlocation: MESH_NOWHERE`, want: "error" },
  { name: "resolution SOMETIMES", yaml: `hosts: [a.com]\n${HTTP_PORT}\nresolution: SOMETIMES`, want: "error" },
  { name: "DYNAMIC_DNS with a port without a protocol", yaml: "hosts: ['*.a.com']\nports: [{number: 80, name: http}]\nresolution: DYNAMIC_DNS", want: "error", message: "DYNAMIC_DNS" },
  { name: "DYNAMIC_DNS, MESH_INTERNAL with use-waypoint none", yaml: labelled("{istio.io/use-waypoint: None}", "hosts: ['*.a.com']\nports: [{number: 80, protocol: HTTP, name: http}]\nresolution: DYNAMIC_DNS\nlocation: MESH_INTERNAL"), want: "valid" },
];

tableTest("ServiceEntry: Istio's cases", HEADER, ISTIO_SERVICE_ENTRY);
tableTest("ServiceEntry: one case per rule", HEADER, MORE_SERVICE_ENTRY);

const tree = await istioTreeSamples();
Deno.test({
  name: "ServiceEntry, WorkloadEntry, WorkloadGroup: every one in Istio's samples/ tree is valid",
  ignore: tree === undefined,
  fn: async () => {
    const kinds = ["ServiceEntry", "WorkloadEntry", "WorkloadGroup"];
    const problems: string[] = [];
    let read = 0;
    for await (const path of yamlFiles(tree!)) {
      const text = await Deno.readTextFile(path);
      if (!/^kind: (ServiceEntry|WorkloadEntry|WorkloadGroup)\s*$/m.test(text)) continue;
      if (text.includes("{{")) continue;
      const r = parseResources(text, path.slice(tree!.length + 1));
      read += r.resources.filter((x) => kinds.includes(x.kind)).length;
      for (const bad of r.invalid.filter((x) => kinds.includes(x.kind))) {
        problems.push(`${bad.source.file}:${bad.source.line}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(read >= 5, `only ${read} read`);
  },
});
if (tree === undefined) console.log(TREE_MISSING);

/** Every YAML file under `dir`. */
async function* yamlFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* yamlFiles(path);
    else if (/\.ya?ml$/.test(e.name)) yield path;
  }
}
