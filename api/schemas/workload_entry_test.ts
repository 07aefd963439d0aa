/**
 * WorkloadEntry validation, rule by rule as Istio decides it: ValidateWorkloadEntry and
 * validateWorkloadEntry in pkg/config/validation (address, unix sockets, ports, labels) and the
 * CRD's schema and x-kubernetes-validations. Every case of Istio's TestValidateWorkloadEntry
 * table and of testdata/crds/workloadentry-*.yaml is here (in our own YAML), plus one case per
 * rule they miss.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry" };

// deno-fmt-ignore
const ISTIO_WORKLOAD_ENTRY: Case[] = [
  // --- TestValidateWorkloadEntry
  { name: "an address", yaml: "address: 1.2.3.4", want: "valid" },
  { name: "no address", yaml: "labels: {app: a}", want: "error", message: "address" },
  { name: "no address, a network", yaml: "network: network-2", want: "warning", message: "network-2" },
  { name: "a unix address", yaml: "address: 'unix:///lon/google/com'", want: "valid" },
  { name: "a unix address with ports", yaml: "address: 'unix:///lon/google/com'\nports: {'7777': 7777}", want: "error", message: "ports" },
  { name: "an FQDN", yaml: "address: validdns.com\nports: {'7777': 7777}", want: "valid" },
  { name: "an address with a port", yaml: "address: 'invaliddns.com:9443'\nports: {'7777': 7777}", want: "error", message: "invaliddns.com:9443" },
  { name: "an IP with ports", yaml: "address: 172.16.1.1\nports: {'7777': 7777}", want: "valid" },
  // --- testdata/crds/workloadentry-valid.yaml and -invalid.yaml
  { name: "crd: every field", yaml: "address: 1.2.3.4\nserviceAccount: sa\nnetwork: net\nlabels: {app: app}\nports: {http: 1}\nweight: 2\nlocality: foo/bar/baz", want: "valid" },
  { name: "crd: no address, a network", yaml: "network: net", want: "warning", message: "net" },
  { name: "crd: abstract unix socket", yaml: "address: 'unix://@foo'", want: "valid" },
  { name: "crd: unix path", yaml: "address: 'unix:///foo/bar'", want: "valid" },
  { name: "crd: FQDN", yaml: "address: example.com", want: "valid" },
  { name: "crd: no spec", yaml: "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: no-spec}", want: "error", message: "spec" },
  { name: "crd: empty spec", yaml: "", want: "error", message: "address" },
  { name: "crd: unix directory", yaml: "address: 'unix:///dir/'", want: "error", message: "directory" },
  { name: "crd: relative unix path", yaml: "address: 'unix://relative'", want: "error", message: "absolute" },
  { name: "crd: unix socket with ports", yaml: "address: 'unix://@foo'\nports: {http: 80}", want: "error", message: "ports" },
  { name: "crd: port 65536", yaml: "address: 1.1.1.1\nports: {http: 65536}", want: "error" },
  { name: "crd: port name @", yaml: "address: 1.1.1.1\nports: {'@': 80}", want: "error", message: "port name" },
];

// deno-fmt-ignore
const MORE_WORKLOAD_ENTRY: Case[] = [
  { name: "an empty address with a network", yaml: "address: ''\nnetwork: n1", want: "warning", message: "n1" },
  { name: "an empty address", yaml: "address: ''", want: "error", message: "address" },
  { name: "an upper-case FQDN with a trailing dot", yaml: "address: VM1.Example.com.", want: "valid" },
  { name: "a wildcard address", yaml: "address: '*.example.com'", want: "error", message: "FQDN" },
  { name: "an IPv6 address", yaml: "address: '2001:db8::1'", want: "valid" },
  { name: "an IPv4 address with a leading zero (a bad name)", yaml: "address: 01.2.3.4", want: "error", message: "FQDN" },
  { name: "an address of 257 characters (CRD)", yaml: `address: ${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(13)}`, want: "error", message: "256" },
  { name: "unix:// alone", yaml: "address: 'unix://'", want: "error", message: "unix" },
  { name: "unix://@ (an abstract socket)", yaml: "address: 'unix://@'", want: "valid" },
  { name: "a port name in upper case", yaml: "address: 1.1.1.1\nports: {HTTP: 80}", want: "valid" },
  { name: "a port name of 62 characters", yaml: `address: 1.1.1.1\nports: {${"p".repeat(62)}: 80}`, want: "valid" },
  { name: "a port name of 63 characters (CRD: under 63)", yaml: `address: 1.1.1.1\nports: {${"p".repeat(63)}: 80}`, want: "error", message: "port name" },
  { name: "port 0", yaml: "address: 1.1.1.1\nports: {http: 0}", want: "error" },
  { name: "a label key in upper case", yaml: "address: 1.1.1.1\nlabels: {App: a}", want: "valid" },
  { name: "a label value of 70 characters (no length limit)", yaml: `address: 1.1.1.1\nlabels: {app: ${"a".repeat(70)}}`, want: "valid" },
  { name: "a label value with a space", yaml: "address: 1.1.1.1\nlabels: {app: 'a b'}", want: "error", message: "label value" },
  { name: "a service account that isn't a Kubernetes name (not checked)", yaml: "address: 1.1.1.1\nserviceAccount: Bad_SA", want: "valid" },
  { name: "a service account of 254 characters (CRD)", yaml: `address: 1.1.1.1\nserviceAccount: ${"s".repeat(254)}`, want: "error", message: "253" },
  { name: "a negative weight", yaml: "address: 1.1.1.1\nweight: -1", want: "error" },
  { name: "a locality of 2049 characters (CRD)", yaml: `address: 1.1.1.1\nlocality: ${"l".repeat(2049)}`, want: "error", message: "2048" },
  { name: "129 ports (CRD)", yaml: `address: 1.1.1.1\nports: {${Array.from({ length: 129 }, (_, i) => `p${i}: ${i + 1}`).join(", ")}}`, want: "error", message: "128" },
];

tableTest("WorkloadEntry: Istio's cases", HEADER, ISTIO_WORKLOAD_ENTRY);
tableTest("WorkloadEntry: one case per rule", HEADER, MORE_WORKLOAD_ENTRY);
