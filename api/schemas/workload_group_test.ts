/**
 * WorkloadGroup validation, rule by rule as Istio decides it: ValidateWorkloadGroup and
 * validateReadinessProbe in pkg/config/validation (the template is not validated as a
 * WorkloadEntry: only the CRD's rules apply to it) and the CRD's schema. Every case of Istio's
 * TestValidateWorkloadGroup table and of testdata/crds/workloadgroup-*.yaml is here (in our own
 * YAML), plus one case per rule they miss.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = {
  apiVersion: "networking.istio.io/v1",
  kind: "WorkloadGroup",
};

/** A group with an empty template and this probe (flow YAML). */
const probe = (p: string) => `template: {}\nprobe: ${p}`;

// deno-fmt-ignore
const ISTIO_WORKLOAD_GROUP: Case[] = [
  // --- TestValidateWorkloadGroup
  { name: "an empty template", yaml: "template: {}", want: "valid" },
  { name: "bad metadata labels", yaml: "template: {}\nmetadata: {labels: {'.': '~'}}", want: "error", message: "label" },
  { name: "a probe without a method", yaml: probe("{}"), want: "error", message: "httpGet" },
  { name: "a null httpGet", yaml: probe("{httpGet: null}"), want: "error" },
  { name: "an empty httpGet", yaml: probe("{httpGet: {}}"), want: "error", message: "port" },
  { name: "httpGet on port 5", yaml: probe("{httpGet: {port: 5}}"), want: "valid" },
  { name: "an empty tcpSocket", yaml: probe("{tcpSocket: {}}"), want: "error", message: "port" },
  { name: "tcpSocket on port 5", yaml: probe("{tcpSocket: {port: 5}}"), want: "valid" },
  { name: "an empty exec", yaml: probe("{exec: {}}"), want: "error", message: "command" },
  { name: "exec with a command", yaml: probe("{exec: {command: [foo, bar]}}"), want: "valid" },
  // --- testdata/crds/workloadgroup-valid.yaml and -invalid.yaml
  {
    name: "crd: every field",
    yaml: `
metadata: {labels: {foo: bar}, annotations: {foo: bar}}
probe:
  failureThreshold: 2
  initialDelaySeconds: 1
  periodSeconds: 1
  successThreshold: 1
  timeoutSeconds: 1
  httpGet: {port: 8080, host: bar, scheme: HTTPS, path: /bar, httpHeaders: [{name: foo, value: bar}]}
template: {serviceAccount: sa, network: net, labels: {app: app}, ports: {http: 1}, weight: 2, locality: foo/bar/baz}`,
    want: "valid",
  },
  { name: "crd: tcp probe", yaml: "probe: {tcpSocket: {port: 8080}}\ntemplate: {serviceAccount: sa, network: net}", want: "valid" },
  { name: "crd: no spec", yaml: "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: no-spec}", want: "error", message: "spec" },
  { name: "crd: tcp probe on port 65536", yaml: "probe: {tcpSocket: {port: 65536}}\ntemplate: {serviceAccount: sa, network: net}", want: "error" },
  { name: "crd: header name **", yaml: "probe: {httpGet: {httpHeaders: [{name: '**'}], port: 80}}\ntemplate: {}", want: "error", message: "header name" },
];

// deno-fmt-ignore
const MORE_WORKLOAD_GROUP: Case[] = [
  { name: "no template", yaml: "metadata: {labels: {app: a}}", want: "error", message: "template" },
  { name: "a grpc probe (not a method Istio's webhook knows)", yaml: probe("{grpc: {port: 8080}}"), want: "error", message: "grpc" },
  { name: "two probe methods (CRD)", yaml: probe("{httpGet: {port: 80}, tcpSocket: {port: 80}}"), want: "error", message: "tcpSocket" },
  { name: "a negative periodSeconds", yaml: probe("{periodSeconds: -1, tcpSocket: {port: 80}}"), want: "error" },
  { name: "a negative failureThreshold", yaml: probe("{failureThreshold: -1, tcpSocket: {port: 80}}"), want: "error" },
  { name: "httpGet scheme http in lower case", yaml: probe("{httpGet: {port: 80, scheme: http}}"), want: "error", message: "scheme" },
  { name: "httpGet with an empty scheme", yaml: probe("{httpGet: {port: 80, scheme: ''}}"), want: "valid" },
  { name: "a header name with an underscore (the webhook's rule)", yaml: probe("{httpGet: {port: 80, httpHeaders: [{name: x_id, value: a}]}}"), want: "error", message: "header name" },
  { name: "a header without a name", yaml: probe("{httpGet: {port: 80, httpHeaders: [{value: a}]}}"), want: "error", message: "header name" },
  { name: "exec with an empty command string (CRD)", yaml: probe("{exec: {command: ['']}}"), want: "error" },
  { name: "an empty exec command list", yaml: probe("{exec: {command: []}}"), want: "error", message: "command" },
  { name: "metadata label value of 70 characters (no length limit)", yaml: `template: {}\nmetadata: {labels: {app: ${"a".repeat(70)}}}`, want: "valid" },
  { name: "metadata annotations of any shape", yaml: "template: {}\nmetadata: {annotations: {'not a key!': x}}", want: "valid" },
  // --- the template: only the CRD's rules
  { name: "template with an address that isn't a host (not checked)", yaml: "template: {address: 'not an address'}", want: "valid" },
  { name: "template label value with a space (not checked)", yaml: "template: {labels: {app: 'a b'}}", want: "valid" },
  { name: "template service account that isn't a Kubernetes name (not checked)", yaml: "template: {serviceAccount: Bad_SA}", want: "valid" },
  { name: "template with a relative unix address (CRD)", yaml: "template: {address: 'unix://relative'}", want: "error", message: "absolute" },
  { name: "template with a unix directory (CRD)", yaml: "template: {address: 'unix:///dir/'}", want: "error", message: "directory" },
  { name: "template unix address with ports (CRD)", yaml: "template: {address: 'unix:///sock', ports: {http: 80}}", want: "error", message: "ports" },
  { name: "template port name @ (CRD)", yaml: "template: {ports: {'@': 80}}", want: "error", message: "port name" },
  { name: "template port 0 (CRD)", yaml: "template: {ports: {http: 0}}", want: "error" },
];

tableTest("WorkloadGroup: Istio's cases", HEADER, ISTIO_WORKLOAD_GROUP);
tableTest("WorkloadGroup: one case per rule", HEADER, MORE_WORKLOAD_GROUP);
