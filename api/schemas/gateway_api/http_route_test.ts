/**
 * HTTPRoute and GRPCRoute validation as the apiserver decides it (the CRDs' schema and CEL
 * rules, with the CRD defaults the rules depend on; Istio adds no webhook checks).
 */
import { tableTest } from "../case_table.ts";

const HTTP = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" };
const P = "parentRefs: [{name: gw}]\n";

tableTest("Gateway API HTTPRoute: schema and CEL rules", HTTP, [
  { name: "empty spec (the CRD's default rule)", yaml: "", want: "valid" },
  {
    name: "Istio's bookinfo route",
    yaml:
      `${P}rules:\n- matches: [{path: {type: Exact, value: /productpage}}, {path: {type: PathPrefix, value: /static}}]\n  backendRefs: [{name: productpage, port: 9080}]`,
    want: "valid",
  },
  {
    name: "rules: [] is refused (minItems)",
    yaml: `${P}rules: []`,
    want: "error",
    message: "rules may not be empty",
  },
  {
    name: "a Service backend without port",
    yaml: `${P}rules: [{backendRefs: [{name: a}]}]`,
    want: "error",
    message: "Must have port for Service reference",
  },
  {
    name: "a Hostname backend without port",
    yaml:
      `${P}rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: a.example.com}]}]`,
    want: "valid",
  },
  {
    name: "weight over a million",
    yaml: `${P}rules: [{backendRefs: [{name: a, port: 80, weight: 1000001}]}]`,
    want: "error",
    message: "0 to 1000000",
  },
  {
    name: "hostnames with a wildcard",
    yaml: `${P}hostnames: ["*.example.com", a.example.com]`,
    want: "valid",
  },
  {
    name: "a hostname with a port",
    yaml: `${P}hostnames: ["a.example.com:80"]`,
    want: "error",
    message: "invalid hostname",
  },
  {
    name: "17 hostnames",
    yaml: `${P}hostnames: [${
      Array.from({ length: 17 }, (_, i) => `h${i}.example.com`).join(", ")
    }]`,
    want: "error",
    message: "at most 16 hostnames",
  },
  {
    name: "a relative path",
    yaml: `${P}rules: [{matches: [{path: {type: PathPrefix, value: foo}}]}]`,
    want: "error",
    message: "must be an absolute path",
  },
  {
    name: "a path with //",
    yaml: `${P}rules: [{matches: [{path: {type: Exact, value: /a//b}}]}]`,
    want: "error",
    message: "must not contain '//'",
  },
  {
    name: "a path ending in /.",
    yaml: `${P}rules: [{matches: [{path: {type: Exact, value: /a/.}}]}]`,
    want: "error",
    message: "must not end with '/.'",
  },
  {
    name: "a path with %2F",
    yaml: `${P}rules: [{matches: [{path: {type: PathPrefix, value: /a%2Fb}}]}]`,
    want: "error",
    message: "'%2F'",
  },
  {
    name: "a path with a space",
    yaml: `${P}rules: [{matches: [{path: {type: Exact, value: "/a b"}}]}]`,
    want: "error",
    message: "must only contain valid characters",
  },
  {
    name: "a regular expression path is not checked as a path",
    yaml: `${P}rules: [{matches: [{path: {type: RegularExpression, value: "/a(/.*)?"}}]}]`,
    want: "valid",
  },
  {
    name: "an unknown path type",
    yaml: `${P}rules: [{matches: [{path: {type: Glob, value: /a}}]}]`,
    want: "error",
    message: "must be one of Exact, PathPrefix, RegularExpression",
  },
  {
    name: "a header match",
    yaml: `${P}rules: [{matches: [{headers: [{name: x-v, value: v2}]}]}]`,
    want: "valid",
  },
  {
    name: "the same header twice",
    yaml: `${P}rules: [{matches: [{headers: [{name: x-v, value: a}, {name: x-v, value: b}]}]}]`,
    want: "error",
    message: "duplicate name",
  },
  {
    name: "a header value with a newline",
    yaml: `${P}rules: [{matches: [{headers: [{name: x, value: "a\\nb"}]}]}]`,
    want: "error",
    message: "invalid header value",
  },
  { name: "a method match", yaml: `${P}rules: [{matches: [{method: PATCH}]}]`, want: "valid" },
  {
    name: "an unknown method",
    yaml: `${P}rules: [{matches: [{method: FETCH}]}]`,
    want: "error",
    message: "must be one of GET",
  },
  {
    name: "query params",
    yaml:
      `${P}rules: [{matches: [{queryParams: [{name: q, value: "1", type: RegularExpression}]}]}]`,
    want: "valid",
  },
  {
    name: "redirect with backends",
    yaml:
      `${P}rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "RequestRedirect filter must not be used together with backendRefs",
  },
  {
    name: "redirect and rewrite together",
    yaml:
      `${P}rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}, {type: URLRewrite, urlRewrite: {hostname: a.example.com}}]}]`,
    want: "error",
    message: "May specify either",
  },
  {
    name: "a filter type without its field",
    yaml: `${P}rules: [{filters: [{type: RequestHeaderModifier}]}]`,
    want: "error",
    message: "filter.requestHeaderModifier must be specified",
  },
  {
    name: "a filter field of another type",
    yaml: `${P}rules: [{filters: [{type: RequestRedirect, requestRedirect: {}, urlRewrite: {}}]}]`,
    want: "error",
    message: "filter.urlRewrite must be nil",
  },
  {
    name: "two header modifiers",
    yaml:
      `${P}rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}}, {type: RequestHeaderModifier, requestHeaderModifier: {}}]}]`,
    want: "error",
    message: "RequestHeaderModifier filter cannot be repeated",
  },
  {
    name: "a header set twice",
    yaml:
      `${P}rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: "1"}, {name: a, value: "2"}]}}]}]`,
    want: "error",
    message: "duplicate header",
  },
  {
    name: "ReplacePrefixMatch with one PathPrefix match",
    yaml:
      `${P}rules: [{matches: [{path: {type: PathPrefix, value: /old}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "valid",
  },
  {
    name: "ReplacePrefixMatch with the default match",
    yaml:
      `${P}rules: [{filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "valid",
  },
  {
    name: "ReplacePrefixMatch with an Exact match",
    yaml:
      `${P}rules: [{matches: [{path: {type: Exact, value: /old}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "exactly one PathPrefix match",
  },
  {
    name: "redirect ReplacePrefixMatch with two matches",
    yaml:
      `${P}rules: [{matches: [{path: {value: /a}}, {path: {value: /b}}], filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /c}}}]}]`,
    want: "error",
    message: "exactly one PathPrefix match",
  },
  {
    name: "ReplaceFullPath without the field",
    yaml:
      `${P}rules: [{filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "replaceFullPath must be specified",
  },
  {
    name: "redirect status 307",
    yaml: `${P}rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 307}}]}]`,
    want: "valid",
  },
  {
    name: "redirect status 305",
    yaml: `${P}rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]}]`,
    want: "error",
    message: "301, 302, 303, 307, 308",
  },
  {
    name: "mirror with percent and fraction",
    yaml:
      `${P}rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 10, fraction: {numerator: 1}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "Only one of percent or fraction",
  },
  {
    name: "mirror fraction over one",
    yaml:
      `${P}rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, fraction: {numerator: 3, denominator: 2}}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "numerator must be less than or equal to denominator",
  },
  {
    name: "CORS with * and an origin",
    yaml:
      `${P}rules: [{filters: [{type: CORS, cors: {allowOrigins: ["*", "https://a.example.com"]}}], backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "cannot contain '*'",
  },
  {
    name: "timeouts",
    yaml:
      `${P}rules: [{timeouts: {request: 10s, backendRequest: 2s}, backendRefs: [{name: a, port: 80}]}]`,
    want: "valid",
  },
  {
    name: "backendRequest longer than request",
    yaml:
      `${P}rules: [{timeouts: {request: 1s, backendRequest: 2s}, backendRefs: [{name: a, port: 80}]}]`,
    want: "error",
    message: "backendRequest timeout cannot be longer than request timeout",
  },
  {
    name: "request 0s with a backendRequest",
    yaml:
      `${P}rules: [{timeouts: {request: 0s, backendRequest: 2s}, backendRefs: [{name: a, port: 80}]}]`,
    want: "valid",
  },
  {
    name: "a Go duration the Gateway API refuses",
    yaml: `${P}rules: [{timeouts: {request: 1.5s}}]`,
    want: "error",
    message: "invalid duration",
  },
  {
    name: "retry",
    yaml:
      `${P}rules: [{retry: {attempts: 3, codes: [503, 429], backoff: 100ms}, backendRefs: [{name: a, port: 80}]}]`,
    want: "valid",
  },
  {
    name: "retry code 200",
    yaml: `${P}rules: [{retry: {codes: [200]}}]`,
    want: "error",
    message: "400 to 599",
  },
  {
    name: "rule names twice",
    yaml: `${P}rules: [{name: a}, {name: a}]`,
    want: "error",
    message: "Rule name must be unique",
  },
  {
    name: "two refs to one parent without section",
    yaml: "parentRefs: [{name: gw}, {name: gw, sectionName: http}]",
    want: "error",
    message: "sectionName or port must be specified",
  },
  {
    name: "two refs to one parent, same section",
    yaml: "parentRefs: [{name: gw, sectionName: a}, {name: gw, sectionName: a}]",
    want: "error",
    message: "sectionName or port must be unique",
  },
  {
    name: "two sections of one parent",
    yaml: "parentRefs: [{name: gw, sectionName: a}, {name: gw, sectionName: b}]",
    want: "valid",
  },
  {
    name: "a Service parent (mesh)",
    yaml: "parentRefs: [{group: '', kind: Service, name: reviews, port: 9080}]",
    want: "valid",
  },
  {
    name: "sessionPersistence without cookie",
    yaml: `${P}rules: [{sessionPersistence: {type: Cookie}}]`,
    want: "error",
    message: "cookie must be specified for Cookie type",
  },
  {
    name: "an unknown rule field",
    yaml: `${P}rules: [{backends: []}]`,
    want: "error",
    message: "unknown field",
  },
]);

const GRPC = { apiVersion: "gateway.networking.k8s.io/v1", kind: "GRPCRoute" };

tableTest("Gateway API GRPCRoute: schema and CEL rules", GRPC, [
  {
    name: "a service and method",
    yaml:
      `${P}rules: [{matches: [{method: {service: helloworld.Greeter, method: SayHello}}], backendRefs: [{name: a, port: 50051}]}]`,
    want: "valid",
  },
  {
    name: "a type without service or method",
    yaml: `${P}rules: [{matches: [{method: {type: Exact}}]}]`,
    want: "error",
    message: "One or both of 'service' or 'method' must be specified",
  },
  {
    name: "a service with a slash",
    yaml: `${P}rules: [{matches: [{method: {service: "a/b"}}]}]`,
    want: "error",
    message: "service must only contain valid characters",
  },
  {
    name: "a method with a dot",
    yaml: `${P}rules: [{matches: [{method: {method: a.b}}]}]`,
    want: "error",
    message: "method must only contain valid characters",
  },
  {
    name: "regular expression service",
    yaml: `${P}rules: [{matches: [{method: {type: RegularExpression, service: "hello.*"}}]}]`,
    want: "valid",
  },
  {
    name: "a URLRewrite filter is HTTPRoute's only",
    yaml: `${P}rules: [{filters: [{type: URLRewrite}]}]`,
    want: "error",
    message: "must be one of",
  },
  {
    name: "header modifiers",
    yaml:
      `${P}rules: [{filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x, value: y}]}}]}]`,
    want: "valid",
  },
  { name: "empty rules are allowed", yaml: `${P}rules: []`, want: "valid" },
]);
