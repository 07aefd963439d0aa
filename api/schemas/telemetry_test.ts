/**
 * Telemetry validation, rule by rule as Istio decides it (pkg/config/validation ValidateTelemetry,
 * the CEL check of access log filters, and the CRD's schema and x-kubernetes-validations).
 */
import assert from "node:assert/strict";
import { istioTreeSamples } from "../../tests/samples.ts";
import { parseResources } from "../resources.ts";
import { type Case, tableTest } from "./case_table.ts";
import { celProblem } from "./cel.ts";

const HEADER = { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry" };

const CASES: Case[] = [
  // --- Istio's ValidateTelemetry table
  { name: "an empty spec", yaml: "", want: "valid" },
  {
    name: "two tracing providers",
    yaml: `
tracing:
- providers: [{name: a}, {name: b}]`,
    want: "warning",
    message: "one provider",
  },
  {
    name: "two tracing entries",
    yaml: "tracing: [{}, {}]",
    want: "warning",
    message: "only one tracing entry",
  },
  {
    name: "sampling percentage over 100",
    yaml: "tracing: [{randomSamplingPercentage: 101}]",
    want: "error",
    message: "from 0 to 100",
  },
  {
    name: "custom tag from an environment variable",
    yaml: `
tracing:
- customTags:
    clusterID:
      environment: {name: FOO}`,
    want: "valid",
  },
  {
    name: "custom tag that is null",
    yaml: `
tracing:
- customTags:
    clusterID: null`,
    want: "error",
  },
  {
    name: "tag UPSERT with an empty value",
    yaml: `
metrics:
- overrides:
  - tagOverrides:
      my-tag: {operation: UPSERT, value: ""}`,
    want: "error",
    message: "needs a value",
  },
  {
    name: "tag UPSERT with a CEL expression, tag name with a dash",
    yaml: `
metrics:
- overrides:
  - tagOverrides:
      my-tag: {operation: UPSERT, value: some-cel-expression}`,
    want: "valid",
  },
  {
    name: "two access logging entries",
    yaml: `
accessLogging:
- providers: [{name: envoy}]
- providers: [{name: otel}]`,
    want: "valid",
  },
  {
    name: "two access log providers",
    yaml: `
accessLogging:
- providers: [{name: envoy}, {name: otel}]`,
    want: "valid",
  },
  {
    name: "targetRef to a Gateway API Gateway",
    yaml: `
targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo}
tracing:
- customTags:
    clusterID: {environment: {name: FOO}}`,
    want: "valid",
  },
  {
    name: "targetRef without a name",
    yaml: `
targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: ""}`,
    want: "error",
    message: "name may not be empty",
  },
  {
    name: "targetRef with a namespace",
    yaml: `
targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo, namespace: bar}`,
    want: "error",
    message: "cross-namespace",
  },
  {
    name: "targetRef with a group that isn't allowed",
    yaml: `
targetRef: {group: wrong-group, kind: Gateway, name: foo}`,
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef with a kind that isn't allowed",
    yaml: `
targetRef: {group: gateway.networking.k8s.io, kind: wrong-kind, name: foo}`,
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef and selector together",
    yaml: `
targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo}
selector:
  matchLabels: {app: httpbin}`,
    want: "error",
    message: "can't both be set",
  },
  // --- Istio's access log filter table (CEL syntax)
  {
    name: "filter comparing the response code",
    yaml: "accessLogging: [{filter: {expression: 'response.code >= 400'}}]",
    want: "valid",
  },
  {
    name: "filter with && and a method call",
    yaml:
      `accessLogging: [{filter: {expression: "connection.mtls && request.url_path.contains('v1beta3')"}}]`,
    want: "valid",
  },
  {
    name: "filter that is a bare field (not boolean, but it parses)",
    yaml: "accessLogging: [{filter: {expression: response.code}}]",
    want: "valid",
  },
  {
    name: "filter that isn't CEL",
    yaml: "accessLogging: [{filter: {expression: ')++++'}}]",
    want: "error",
    message: "must be a valid CEL expression",
  },
  // --- testdata/crds/telemetry-valid.yaml
  {
    name: "CRD sample: every section",
    yaml: `
metrics:
- providers:
  - name: prometheus
  reportingInterval: 5s
  overrides:
  - tagOverrides:
      request_method:
        value: "request.method"
      request_host:
        value: "request.host"
    match:
      customMetric: "foo"
    disabled: false
  - match:
      metric: GRPC_REQUEST_MESSAGES
    disabled: true
accessLogging:
- disabled: false
  filter:
    expression: 'true'
  match:
    mode: CLIENT
  providers:
  - name: stdout
tracing:
- providers:
  - name: otlp
  match:
    mode: CLIENT_AND_SERVER
  randomSamplingPercentage: 54.54
  useRequestIdForTraceSampling: true
  disableSpanReporting: false
  customTags:
    env:
      environment:
        name: "NAME"
        defaultValue: "default"
    header:
      header:
        name: "x-name"
        defaultValue: "default name"
    literal:
      literal:
        value: "default literal"`,
    want: "valid",
  },
  {
    name: "CRD sample: tag UPSERT",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {operation: UPSERT, value: add}}}]}]",
    want: "valid",
  },
  {
    name: "CRD sample: tag REMOVE",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {operation: REMOVE}}}]}]",
    want: "valid",
  },
  // --- testdata/crds/telemetry-invalid.yaml
  {
    name: "CRD sample: metrics provider with an empty name",
    yaml: "metrics: [{providers: [{name: ''}]}]",
    want: "error",
    message: "provider names may not be empty",
  },
  {
    name: "CRD sample: empty customMetric",
    yaml: "metrics: [{overrides: [{match: {customMetric: ''}}]}]",
    want: "error",
    message: "customMetric may not be empty",
  },
  {
    name: "CRD sample: UPSERT without a value",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {operation: UPSERT}}}]}]",
    want: "error",
    message: "needs a value",
  },
  {
    name: "CRD sample: REMOVE with a value",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {operation: REMOVE, value: oops}}}]}]",
    want: "error",
    message: "takes no value",
  },
  // --- further rules of validation.go and the CRD
  {
    name: "tag override without an operation and without a value (UPSERT is the default)",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {}}}]}]",
    want: "error",
    message: "needs a value",
  },
  {
    name: "REMOVE with an empty value",
    yaml: "metrics: [{overrides: [{tagOverrides: {foo: {operation: REMOVE, value: ''}}}]}]",
    want: "error",
    message: "takes no value",
  },
  {
    name: "tag override with an empty name",
    yaml: `metrics: [{overrides: [{tagOverrides: {"": {operation: REMOVE}}}]}]`,
    want: "warning",
    message: "tag names should not be empty",
  },
  {
    name: "override that is null",
    yaml: "metrics: [{overrides: [null]}]",
    want: "error",
  },
  {
    name: "metric and customMetric together",
    yaml: "metrics: [{overrides: [{match: {metric: REQUEST_COUNT, customMetric: foo}}]}]",
    want: "error",
    message: "can't both be set",
  },
  {
    name: "unknown metric",
    yaml: "metrics: [{overrides: [{match: {metric: REQUEST_TOTAL}}]}]",
    want: "error",
    message: "ALL_METRICS",
  },
  {
    name: "reporting interval below 1ms",
    yaml: "metrics: [{reportingInterval: 100us}]",
    want: "error",
    message: "at least 1ms",
  },
  {
    name: "reporting interval of 1.5ms (no precision rule)",
    yaml: "metrics: [{reportingInterval: 1500us}]",
    want: "valid",
  },
  {
    name: "tracing provider with an empty name",
    yaml: "tracing: [{providers: [{name: ''}]}]",
    want: "error",
    message: "provider names may not be empty",
  },
  {
    name: "provider without a name",
    yaml: "accessLogging: [{providers: [{}]}]",
    want: "error",
  },
  {
    name: "custom tag with an empty name",
    yaml: `tracing: [{customTags: {"": {literal: {value: x}}}}]`,
    want: "error",
    message: "tag names may not be empty",
  },
  {
    name: "custom tag with no source (Istio's oneOf allows none)",
    yaml: "tracing: [{customTags: {team: {}}}]",
    want: "valid",
  },
  {
    name: "custom tag with two sources",
    yaml: "tracing: [{customTags: {team: {literal: {value: shop}, header: {name: x-team}}}}]",
    want: "error",
    message: "literal and header can't both be set",
  },
  {
    name: "literal tag with an empty value",
    yaml: "tracing: [{customTags: {team: {literal: {value: ''}}}}]",
    want: "error",
    message: "may not be empty",
  },
  {
    name: "literal tag without a value",
    yaml: "tracing: [{customTags: {team: {literal: {}}}}]",
    want: "error",
  },
  {
    name: "header tag with an empty name",
    yaml: "tracing: [{customTags: {team: {header: {name: ''}}}}]",
    want: "error",
    message: "may not be empty",
  },
  {
    name: "header tag naming a header with odd characters (Istio doesn't check header names)",
    yaml: "tracing: [{customTags: {team: {header: {name: 'X Team:'}}}}]",
    want: "valid",
  },
  {
    name: "environment tag with an empty name",
    yaml: "tracing: [{customTags: {team: {environment: {name: ''}}}}]",
    want: "error",
    message: "may not be empty",
  },
  {
    name: "formatter tag with an empty value",
    yaml: "tracing: [{customTags: {team: {formatter: {value: ''}}}}]",
    want: "error",
    message: "may not be empty",
  },
  {
    name: "negative sampling percentage",
    yaml: "tracing: [{randomSamplingPercentage: -1}]",
    want: "error",
    message: "from 0 to 100",
  },
  {
    name: "access log match mode that doesn't exist",
    yaml: "accessLogging: [{match: {mode: BOTH}}]",
    want: "error",
    message: "CLIENT_AND_SERVER",
  },
  {
    name: "empty filter expression (parses as nothing)",
    yaml: "accessLogging: [{filter: {expression: ''}}]",
    want: "error",
    message: "must be a valid CEL expression",
  },
  {
    name: "filter without an expression (Istio parses the empty string)",
    yaml: "accessLogging: [{filter: {}}]",
    want: "error",
    message: "must be a valid CEL expression",
  },
  {
    name: "filter with an unterminated string",
    yaml: `accessLogging: [{filter: {expression: "request.host == 'a"}}]`,
    want: "error",
    message: "must be a valid CEL expression",
  },
  {
    name: "filter using in, a list, ?: and a map",
    yaml: `
accessLogging:
- filter:
    expression: >-
      response.code in [500, 503] || (request.headers['x-debug'] == "1" ? true : false) ||
      {'a': 1}.size() > 0u`,
    want: "valid",
  },
  {
    name: "selector with an empty label key",
    yaml: `selector: {matchLabels: {"": bar}}`,
    want: "error",
  },
  {
    name: "selector with a wildcard value",
    yaml: `selector: {matchLabels: {app: "bar*"}}`,
    want: "error",
    message: "wildcard",
  },
  {
    name: "selector with a wildcard key",
    yaml: `selector: {matchLabels: {"app*": bar}}`,
    want: "error",
    message: "wildcard",
  },
  {
    name: "selector without labels",
    yaml: "selector: {matchLabels: {}}",
    want: "warning",
    message: "without labels",
  },
  {
    name: "selector with a label value over 63 characters",
    yaml: `selector: {matchLabels: {app: ${"a".repeat(64)}}}`,
    want: "error",
  },
  {
    name: "targetRef to a Service (core group)",
    yaml: "targetRef: {kind: Service, name: reviews}",
    want: "valid",
  },
  {
    name: "targetRefs to a GatewayClass",
    yaml: "targetRefs: [{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio}]",
    want: "valid",
  },
  {
    name: "targetRef to a ServiceEntry",
    yaml: "targetRef: {group: networking.istio.io, kind: ServiceEntry, name: ext}",
    want: "valid",
  },
  {
    name: "17 targetRefs",
    yaml: `targetRefs: [${
      Array.from({ length: 17 }, (_, i) => `{kind: Service, name: s${i}}`).join(", ")
    }]`,
    want: "error",
    message: "at most 16",
  },
  {
    name: "targetRef without a kind",
    yaml: "targetRef: {name: foo}",
    want: "error",
  },
  {
    name: "targetRef and targetRefs together",
    yaml: `
targetRef: {kind: Service, name: a}
targetRefs: [{kind: Service, name: b}]`,
    want: "error",
    message: "can't both be set",
  },
  {
    name: "unknown field",
    yaml: "tracing: [{sampling: 10}]",
    want: "error",
  },
];

tableTest("Telemetry: Istio's validation, case by case", HEADER, CASES);

Deno.test("celProblem: CEL syntax as cel-go parses it", () => {
  const good = [
    "true",
    "response.code >= 400",
    "!(a.b) && -1 < 2",
    "x.exists(y, y > 1)",
    "a[0].b['c'] + 'd' * 2.5e3",
    "r'raw\\d' == b'bytes' || '''multi\nline''' != \"\"\"x\"\"\"",
    "google.protobuf.Int64Value{value: 1}.value == 1",
    "{1: 'a', 2: 'b'}[1] in ['a', 'b',]",
    "0x1F + 07 - 3u % 2",
    ".a.b",
    "a ? b : c ? d : e",
  ];
  for (const e of good) assert.equal(celProblem(e), undefined, e);
  const bad = ["", ")++++", "a +", "a ? b", "'open", "a..b", "f(", "[1, 2", "a === b", "a = b"];
  for (const e of bad) assert.notEqual(celProblem(e), undefined, e);
});

const tree = await istioTreeSamples();

Deno.test({
  name: "Telemetry: Istio's samples (OpenTelemetry tracing and Loki access logs) are accepted",
  ignore: !tree,
  fn: async () => {
    for (
      const file of ["open-telemetry/tracing/telemetry.yaml", "open-telemetry/loki/telemetry.yaml"]
    ) {
      const text = await Deno.readTextFile(`${tree}/${file}`);
      const { resources, diagnostics } = parseResources(text, file);
      assert.ok(resources.some((r) => r.kind === "Telemetry"), file);
      assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], file);
    }
  },
});
