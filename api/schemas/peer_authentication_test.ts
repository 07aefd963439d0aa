/**
 * PeerAuthentication validation, case by case as Istio decides it: the table of Istio's
 * TestValidatePeerAuthentication, its CRD test data (testdata/crds/peerauth-*.yaml), and the
 * CRD's rules for port keys.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication" };

/** A workload policy with one port-level entry. */
const port = (key: string) =>
  `selector: {matchLabels: {app: db}}\nportLevelMtls: {${JSON.stringify(key)}: {mode: STRICT}}`;
const PORT_RANGE = "keys are port numbers from 1 to 65535";

const CASES: Case[] = [
  // --- Istio's TestValidatePeerAuthentication
  { name: "an empty spec", yaml: "", want: "valid" },
  {
    name: "a selector without labels",
    yaml: "selector: {}",
    want: "warning",
    message: "without labels",
  },
  { name: "a namespace-wide policy", yaml: "mtls: {mode: STRICT}", want: "valid" },
  { name: "a workload selector", yaml: "selector: {matchLabels: {app: httpbin}}", want: "valid" },
  {
    name: "an empty portLevelMtls",
    yaml: "selector: {matchLabels: {app: httpbin}}\nportLevelMtls: {}",
    want: "error",
    message: "portLevelMtls is empty",
  },
  {
    name: "portLevelMtls without a selector",
    yaml: `portLevelMtls: {"8080": {mode: UNSET}}`,
    want: "error",
    message: "portLevelMtls needs a selector with matchLabels",
  },
  {
    name: "port 0 without a selector",
    yaml: `portLevelMtls: {"0": {mode: UNSET}}`,
    want: "error",
    message: PORT_RANGE,
  },
  { name: "mode UNSET", yaml: "mtls: {mode: UNSET}", want: "valid" },
  {
    name: "a port-level mode",
    yaml: `selector: {matchLabels: {app: httpbin}}\nportLevelMtls: {"8080": {mode: UNSET}}`,
    want: "valid",
  },

  // --- Istio's CRD test data
  {
    name: "every field (peerauth-valid full)",
    yaml: `
selector: {matchLabels: {foo: bar}}
mtls: {mode: PERMISSIVE}
portLevelMtls:
  "80": {mode: STRICT}`,
    want: "valid",
  },
  {
    name: "an empty selector (peerauth-valid partial-selector)",
    yaml: "selector: {}",
    want: "warning",
    message: "without labels",
  },
  {
    name: "an unknown mode",
    yaml: "mtls: {mode: BLAH}",
    want: "error",
    message: "must be one of UNSET, DISABLE, PERMISSIVE, STRICT",
  },
  { name: "a port key that isn't a number", yaml: port("acd"), want: "error", message: PORT_RANGE },
  {
    name: "port-level modes mesh-wide",
    yaml: `portLevelMtls: {"80": {mode: STRICT}}`,
    want: "error",
    message: "portLevelMtls needs a selector",
  },
  {
    name: "an empty portLevelMtls (CRD minProperties)",
    yaml: "selector: {matchLabels: {foo: bar}}\nportLevelMtls: {}",
    want: "error",
    message: "portLevelMtls is empty",
  },
  { name: "port 0", yaml: port("0"), want: "error", message: PORT_RANGE },
  { name: "port 42949672", yaml: port("42949672"), want: "error", message: PORT_RANGE },

  // --- Beyond the tables
  { name: "port 65535", yaml: port("65535"), want: "valid" },
  { name: "port 65536", yaml: port("65536"), want: "error", message: PORT_RANGE },
  {
    name: "a port with a leading zero (not JSON)",
    yaml: port("080"),
    want: "error",
    message: PORT_RANGE,
  },
  { name: "a port with a sign", yaml: port("+80"), want: "error", message: PORT_RANGE },
  {
    name: "a port written as a YAML number",
    yaml: "selector: {matchLabels: {a: b}}\nportLevelMtls: {9090: {mode: DISABLE}}",
    want: "valid",
  },
  {
    name: "a lower-case mode",
    yaml: "mtls: {mode: strict}",
    want: "error",
    message: "must be one of",
  },
  {
    name: "a selector with a wildcard value",
    yaml: `selector: {matchLabels: {app: "db-*"}}`,
    want: "error",
    message: "wildcards are not allowed",
  },
  {
    name: "selector labels Kubernetes wouldn't take on a pod (Istio doesn't check)",
    yaml: `selector: {matchLabels: {"a b": "c d"}}`,
    want: "valid",
  },
  {
    name: "portLevelMtls with matchLabels: {}",
    yaml: `selector: {matchLabels: {}}\nportLevelMtls: {"80": {mode: STRICT}}`,
    want: "error",
    message: "portLevelMtls needs a selector with matchLabels",
  },
  {
    name: "the dry-run annotation (only for AuthorizationPolicy)",
    yaml: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: test
  annotations: {istio.io/dry-run: "true"}
spec: {mtls: {mode: STRICT}}`,
    want: "error",
    message: "istio.io/dry-run is only for AuthorizationPolicy",
  },
  { name: "mtls: {}", yaml: "mtls: {}", want: "valid" },
];

tableTest("PeerAuthentication: Istio's cases", HEADER, CASES);
