/**
 * TCPRoute and TLSRoute validation by version: v1 takes one rule (TLSRoute v1 needs hostnames,
 * no IP addresses), v1alpha2 (Istio's sample version) up to 16 rules with unique names.
 */
import { tableTest } from "../case_table.ts";

const B = "backendRefs: [{name: tcp-echo, port: 9000}]";

tableTest("Gateway API TCPRoute v1", {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "TCPRoute",
}, [
  {
    name: "one rule",
    yaml: `parentRefs: [{name: gw, sectionName: tcp}]\nrules: [{${B}}]`,
    want: "valid",
  },
  {
    name: "two rules",
    yaml: `rules: [{${B}}, {${B}}]`,
    want: "error",
    message: "v1 allows one rule",
  },
  { name: "no rules", yaml: "rules: []", want: "error", message: "at least one rule" },
  {
    name: "no backendRefs",
    yaml: "rules: [{backendRefs: []}]",
    want: "error",
    message: "at least one backendRef",
  },
  {
    name: "a backend without port",
    yaml: "rules: [{backendRefs: [{name: a}]}]",
    want: "error",
    message: "Must have port",
  },
  {
    name: "hostnames are not a TCPRoute field",
    yaml: `hostnames: [a.example.com]\nrules: [{${B}}]`,
    want: "error",
    message: "unknown field",
  },
]);

tableTest("Gateway API TCPRoute v1alpha2", {
  apiVersion: "gateway.networking.k8s.io/v1alpha2",
  kind: "TCPRoute",
}, [
  { name: "two rules", yaml: `rules: [{${B}}, {${B}}]`, want: "valid" },
  {
    name: "two rules named alike",
    yaml: `rules: [{name: a, ${B}}, {name: a, ${B}}]`,
    want: "error",
    message: "Rule name must be unique",
  },
]);

tableTest("Gateway API TLSRoute v1", {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "TLSRoute",
}, [
  {
    name: "SNI hostnames",
    yaml: `hostnames: [a.example.com, "*.b.example.com"]\nrules: [{${B}}]`,
    want: "valid",
  },
  {
    name: "no hostnames",
    yaml: `rules: [{${B}}]`,
    want: "error",
    message: "requires at least one hostname",
  },
  {
    name: "an IP address",
    yaml: `hostnames: [10.0.0.1]\nrules: [{${B}}]`,
    want: "error",
    message: "Hostnames cannot contain an IP",
  },
]);

tableTest("Gateway API TLSRoute v1alpha2", {
  apiVersion: "gateway.networking.k8s.io/v1alpha2",
  kind: "TLSRoute",
}, [
  { name: "no hostnames (any SNI)", yaml: `rules: [{${B}}]`, want: "valid" },
  {
    name: "a wildcard in the middle",
    yaml: `hostnames: ["a.*.example.com"]\nrules: [{${B}}]`,
    want: "error",
    message: "invalid hostname",
  },
]);
