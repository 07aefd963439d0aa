/**
 * ProxyConfig (the networking.istio.io resource) validation as Istio decides it
 * (ValidateProxyConfig and the CRD's schema); mesh adds one "not supported by mesh" note.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1beta1", kind: "ProxyConfig" };

const CASES: Case[] = [
  // --- Istio's ValidateProxyConfig table
  { name: "empty", yaml: "", want: "valid" },
  {
    name: "negative concurrency",
    yaml: "concurrency: -1",
    want: "error",
    message: "greater than or equal to 0",
  },
  // --- testdata/crds/proxyconfig-valid.yaml
  {
    name: "CRD sample: full",
    yaml: `
concurrency: 1
selector:
  matchLabels:
    foo: bar
image:
  imageType: foo
environmentVariables:
  foo: baz`,
    want: "valid",
  },
  {
    name: "CRD sample: empty selector (Istio warns)",
    yaml: "selector:\n  matchLabels: {}",
    want: "warning",
    message: "without labels",
  },
  // --- testdata/crds/proxyconfig-invalid.yaml
  { name: "CRD sample: bad concurrency", yaml: "concurrency: -1", want: "error" },
  {
    name: "CRD sample: empty selector key",
    yaml: `selector: {matchLabels: {"": bar}}`,
    want: "error",
    message: "may not be empty",
  },
  // --- further rules
  { name: "concurrency 0 (one worker per CPU)", yaml: "concurrency: 0", want: "valid" },
  {
    name: "wildcard in a selector value",
    yaml: `selector: {matchLabels: {app: "a*"}}`,
    want: "error",
    message: "wildcards",
  },
  {
    name: "environment variable value over 2048 characters",
    yaml: `environmentVariables: {A: ${"x".repeat(2049)}}`,
    want: "error",
    message: "2048",
  },
  { name: "concurrency that isn't a number", yaml: "concurrency: two", want: "error" },
  { name: "unknown field", yaml: "proxyMetadata: {A: b}", want: "error" },
];

tableTest("ProxyConfig: Istio's validation, case by case", HEADER, CASES);
