/**
 * VirtualService HTTP route validation, rule by rule as Istio decides it (pkg/config/validation
 * validateHTTPRoute and the checks it calls: conflicts, matches, header operations and values,
 * mirrors, destinations; the parts in http_route_checks_test.ts and http_route_policies_test.ts).
 *
 * Facts from Istio's tables (validation_test.go TestValidateHTTPRoute, TestValidateCORSPolicy,
 * TestValidateHTTPStatus, TestValidateHTTPFaultInjectionAbort/Delay, TestValidateHTTPRetry,
 * TestValidateHTTPRewrite, TestValidateUriRegexRewrite, TestValidateHTTPRedirect,
 * TestValidateHTTPDirectResponse, TestValidateDestination, TestValidateHTTPHeaderName,
 * TestValidateHTTPHeaderValue; virtualservice_test.go TestValidateRootHTTPRoute and
 * TestValidateDelegateHTTPRoute), in mesh's own words.
 */
import { type Case, tableTest } from "./case_table.ts";
import {
  big,
  DELEGATE,
  DEST,
  destHeaders,
  HEADER,
  http,
  inDelegate,
  matching,
  REDIRECT,
  routed,
} from "./http_route_cases.ts";

const CASES: Case[] = [
  // --- TestValidateHTTPRoute
  { name: "an empty route", yaml: "hosts: [foo.bar]\nhttp: [{}]", want: "error", message: "route" },
  { name: "one destination", yaml: http(DEST), want: "valid" },
  { name: "a null destination", yaml: http("route: [{destination: null}]"), want: "error" },
  {
    name: "weights 25 and 75",
    yaml: http(
      "route: [{destination: {host: a.b}, weight: 25}, {destination: {host: c.d}, weight: 75}]",
    ),
    want: "valid",
  },
  {
    name: "weights summing to 1050",
    yaml: http(
      "route: [{destination: {host: a.b}, weight: 550}, {destination: {host: c.d}, weight: 500}]",
    ),
    want: "valid",
  },
  {
    name: "weights summing to 99",
    yaml: http(
      "route: [{destination: {host: a.b}, weight: 49}, {destination: {host: c.d}, weight: 50}]",
    ),
    want: "valid",
  },
  {
    name: "one weighted and one unweighted destination",
    yaml: http("route: [{destination: {host: a.b}, weight: 10}, {destination: {host: c.d}}]"),
    want: "valid",
  },
  {
    name: "a negative weight",
    yaml: http("route: [{destination: {host: a.b}, weight: -1}]"),
    want: "error",
  },
  { name: "a redirect", yaml: http("redirect: {uri: /lerp, authority: foo.biz}"), want: "valid" },
  {
    name: "redirect prefixRewrite with a prefix URI match",
    yaml: matching("{uri: {prefix: /foo}}", "redirect: {prefixRewrite: /bar}"),
    want: "valid",
  },
  {
    name: "redirect prefixRewrite with an exact URI match",
    yaml: matching("{uri: {exact: /foo}}", "redirect: {prefixRewrite: /bar}"),
    want: "error",
    message: "prefix",
  },
  {
    name: "redirect prefixRewrite with a regex URI match",
    yaml: matching("{uri: {regex: /foo.*}}", "redirect: {prefixRewrite: /bar}"),
    want: "error",
    message: "prefix",
  },
  {
    name: "redirect prefixRewrite without URI match",
    yaml: matching("{headers: {x-foo: {exact: bar}}}", "redirect: {prefixRewrite: /bar}"),
    want: "valid",
  },
  { name: "redirect and route", yaml: http(`${DEST}, ${REDIRECT}`), want: "error" },
  {
    name: "header operations with empty values",
    yaml: destHeaders(
      "{request: {add: {name: ''}, set: {name: ''}, remove: [name]}, " +
        "response: {add: {name: ''}, set: {name: ''}, remove: [name]}}",
    ),
    want: "valid",
  },
  {
    name: "empty name in request add",
    yaml: destHeaders("{request: {add: {'': v}}}"),
    want: "error",
  },
  {
    name: "empty name in request set",
    yaml: destHeaders("{request: {set: {'': v}}}"),
    want: "error",
  },
  {
    name: "empty name in request remove",
    yaml: destHeaders("{request: {remove: ['']}}"),
    want: "error",
  },
  {
    name: "empty name in response add",
    yaml: destHeaders("{response: {add: {'': v}}}"),
    want: "error",
  },
  {
    name: "empty name in response set",
    yaml: destHeaders("{response: {set: {'': v}}}"),
    want: "error",
  },
  {
    name: "empty name in response remove",
    yaml: destHeaders("{response: {remove: ['']}}"),
    want: "error",
  },
  {
    name: "an escaped %",
    yaml: destHeaders("{response: {set: {i-love-istio: '100%%'}}}"),
    want: "valid",
  },
  {
    name: "an Envoy variable",
    yaml: destHeaders("{response: {set: {name: '%HOSTNAME%'}}}"),
    want: "valid",
  },
  {
    name: "an unescaped % in set",
    yaml: destHeaders("{response: {set: {name: 'abcd%oijasodifj'}}}"),
    want: "error",
  },
  {
    name: "an escaped % in add",
    yaml: destHeaders("{response: {add: {i-love-istio: '100%% and more'}}}"),
    want: "valid",
  },
  {
    name: "an Envoy variable in add",
    yaml: destHeaders("{response: {add: {name: 'hello %HOSTNAME%'}}}"),
    want: "valid",
  },
  {
    name: "an unescaped % in add",
    yaml: destHeaders("{response: {add: {name: 'abcd%oijasodifj'}}}"),
    want: "error",
  },
  { name: "a null header match", yaml: matching("{headers: {header: null}}"), want: "error" },
  {
    name: "an empty prefix header match",
    yaml: matching("{headers: {emptyprefix: {prefix: ''}}}"),
    want: "error",
    message: "prefix",
  },
  { name: "no match", yaml: http(DEST), want: "valid" },
  { name: "mirrorPercent 101", yaml: routed("mirrorPercent: 101"), want: "error" },
  { name: "mirror_percent 101", yaml: routed("mirror_percent: 101"), want: "error" },
  { name: "mirrorPercentage 101", yaml: routed("mirrorPercentage: {value: 101}"), want: "error" },
  { name: "mirrorPercentage 1", yaml: routed("mirrorPercentage: {value: 1}"), want: "valid" },
  {
    name: "mirrorPercentage 0.00001",
    yaml: routed("mirrorPercentage: {value: 0.00001}"),
    want: "valid",
  },
  { name: "mirrorPercentage -1", yaml: routed("mirrorPercentage: {value: -1}"), want: "error" },
  { name: "mirrors without destination", yaml: routed("mirrors: [{}]"), want: "error" },
  {
    name: "mirrors percentage 101",
    yaml: routed(
      "mirrors: [{destination: {host: a.b}}, {destination: {host: a.b}, percentage: {value: 101}}]",
    ),
    want: "error",
  },
  {
    name: "mirrors percentages 1 and 50",
    yaml: routed(
      "mirrors: [{destination: {host: a.b}, percentage: {value: 1}}, " +
        "{destination: {host: a.b}, percentage: {value: 50}}]",
    ),
    want: "valid",
  },
  {
    name: "mirrors percentage 0.00001",
    yaml: routed("mirrors: [{destination: {host: a.b}, percentage: {value: 0.00001}}]"),
    want: "valid",
  },
  {
    name: "mirrors percentage -1",
    yaml: routed("mirrors: [{destination: {host: a.b}, percentage: {value: -1}}]"),
    want: "error",
  },
  {
    name: "mirror and mirrors",
    yaml: routed("mirror: {host: a.b}, mirrors: [{destination: {host: c.d}}]"),
    want: "error",
    message: "mirror",
  },
  { name: "mirror to host *", yaml: routed("mirror: {host: '*'}"), want: "error" },
  { name: "mirror to a wildcard host", yaml: routed("mirror: {host: '*.foo.com'}"), want: "valid" },

  // --- TestValidateRootHTTPRoute (a route with delegate)
  { name: "root: delegate only", yaml: http(DELEGATE), want: "valid" },
  { name: "root: route and delegate", yaml: http(`${DEST}, ${DELEGATE}`), want: "error" },
  { name: "root: redirect and delegate", yaml: http(`${REDIRECT}, ${DELEGATE}`), want: "error" },
  {
    name: "root: directResponse and delegate (Istio doesn't check)",
    yaml: http(`directResponse: {status: 200}, ${DELEGATE}`),
    want: "valid",
  },
  {
    name: "root: a null header match",
    yaml: matching("{headers: {header: null}}", DELEGATE),
    want: "error",
  },
  {
    name: "root: a prefix header match",
    yaml: matching("{headers: {h: {prefix: test}}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: an empty prefix header match",
    yaml: matching("{headers: {h: {prefix: ''}}}", DELEGATE),
    want: "error",
  },
  {
    name: "root: an exact header match",
    yaml: matching("{headers: {h: {exact: test}}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: a regex header match",
    yaml: matching("{headers: {h: {regex: test}}}", DELEGATE),
    want: "valid",
  },
  {
    name: "withoutHeaders exact",
    yaml: matching("{withoutHeaders: {h: {exact: test}}}", REDIRECT),
    want: "valid",
  },
  {
    name: "withoutHeaders regex",
    yaml: matching("{withoutHeaders: {h: {regex: test}}}", REDIRECT),
    want: "valid",
  },
  {
    name: "withoutHeaders regex ?",
    yaml: matching("{withoutHeaders: {h: {regex: '?'}}}", REDIRECT),
    want: "error",
  },
  {
    name: "withoutHeaders regex * (presence)",
    yaml: matching("{withoutHeaders: {h: {regex: '*'}}}", REDIRECT),
    want: "valid",
  },
  { name: "headers regex *", yaml: matching("{headers: {h: {regex: '*'}}}"), want: "error" },
  {
    name: "root: a regex URI match",
    yaml: matching("{uri: {regex: test}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: a prefix URI match",
    yaml: matching("{uri: {prefix: test}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: an exact URI match",
    yaml: matching("{uri: {exact: test}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: a prefix query match",
    yaml: matching("{queryParams: {q: {prefix: t}}}", DELEGATE),
    want: "valid",
  },
  {
    name: "root: an exact query match",
    yaml: matching("{queryParams: {q: {exact: t}}}", DELEGATE),
    want: "valid",
  },
  {
    name: "an empty prefix method match",
    yaml: matching("{method: {prefix: ''}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty regex method match",
    yaml: matching("{method: {regex: ''}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty prefix URI match",
    yaml: matching("{uri: {prefix: ''}}", REDIRECT),
    want: "valid",
  },
  {
    name: "an empty exact URI match",
    yaml: matching("{uri: {exact: ''}}", REDIRECT),
    want: "valid",
  },
  {
    name: "an empty regex URI match",
    yaml: matching("{uri: {regex: ''}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty regex query match",
    yaml: matching("{queryParams: {q: {regex: ''}}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty prefix query match",
    yaml: matching("{queryParams: {q: {prefix: ''}}}"),
    want: "error",
  },
  {
    name: "an empty regex scheme match",
    yaml: matching("{scheme: {regex: ''}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty prefix scheme match",
    yaml: matching("{scheme: {prefix: ''}}", REDIRECT),
    want: "error",
  },
  {
    name: "an empty prefix authority match",
    yaml: matching("{authority: {prefix: ''}}"),
    want: "error",
  },
  {
    name: "an empty exact authority match",
    yaml: matching("{authority: {exact: ''}}"),
    want: "valid",
  },
  { name: "an empty StringMatch for the method", yaml: matching("{method: {}}"), want: "valid" },
  {
    name: "exact and prefix in one StringMatch (the CRD's oneOf)",
    yaml: matching("{uri: {exact: /a, prefix: /a}}"),
    want: "error",
  },
  {
    name: "a regex of 1025 characters",
    yaml: matching(`{uri: {regex: ${big(1025)}}}`),
    want: "error",
  },
  { name: "an invalid regex", yaml: matching("{uri: {regex: '['}}"), want: "error" },

  // --- TestValidateDelegateHTTPRoute (routes of a delegate VirtualService)
  { name: "delegate: an empty route", yaml: inDelegate(""), want: "error" },
  { name: "delegate: one destination", yaml: inDelegate(DEST), want: "valid" },
  {
    name: "delegate: weights summing to 105",
    yaml: inDelegate(
      "route: [{destination: {host: a.b}, weight: 55}, {destination: {host: c.d}, weight: 50}]",
    ),
    want: "valid",
  },
  { name: "delegate: a redirect", yaml: inDelegate(REDIRECT), want: "valid" },
  { name: "delegate: redirect and route", yaml: inDelegate(`${DEST}, ${REDIRECT}`), want: "error" },
  {
    name: "delegate: mirrorPercent 101",
    yaml: inDelegate(`${DEST}, mirrorPercent: 101`),
    want: "error",
  },
  { name: "delegate: a route with delegate", yaml: inDelegate(DELEGATE), want: "error" },

  // --- Match fields beyond the tables
  { name: "match port 0 (unset)", yaml: matching("{port: 0}"), want: "valid" },
  { name: "match port 65536", yaml: matching("{port: 65536}"), want: "error" },
  { name: "match sourceNamespace ''", yaml: matching("{sourceNamespace: ''}"), want: "valid" },
  { name: "match sourceNamespace bad", yaml: matching("{sourceNamespace: a.b}"), want: "error" },
  {
    name: "match sourceLabels bad key",
    yaml: matching("{sourceLabels: {'-a': b}}"),
    want: "error",
  },
  { name: "match gateways bad", yaml: matching("{gateways: ['ns/x y']}"), want: "error" },
  { name: "match statPrefix", yaml: matching("{statPrefix: foo}"), want: "valid" },

  // --- TestValidateHTTPHeaderName (header match names)
  {
    name: "header name header1",
    yaml: matching("{headers: {header1: {exact: a}}}"),
    want: "valid",
  },
  {
    name: "header name in upper case",
    yaml: matching("{headers: {X-Requested-With: {exact: a}}}"),
    want: "valid",
  },
  {
    name: "header name :authority",
    yaml: matching("{headers: {':authority': {exact: a}}}"),
    want: "valid",
  },
  {
    name: "header name funky!$#_",
    yaml: matching("{headers: {'funky!$#_': {exact: a}}}"),
    want: "valid",
  },
  { name: "header name empty", yaml: matching("{headers: {'': {exact: a}}}"), want: "error" },
  { name: "header name ::", yaml: matching("{headers: {'::': {exact: a}}}"), want: "error" },
  {
    name: "header name with a quote",
    yaml: matching(`{headers: {'illegal"char': {exact: a}}}`),
    want: "error",
  },
  { name: "header name :foo", yaml: matching("{headers: {':foo': {exact: a}}}"), want: "error" },

  // --- TestValidateDestination, subsets and ports
  { name: "destination without host", yaml: http("route: [{destination: {}}]"), want: "error" },
  {
    name: "destination with subset and port",
    yaml: http("route: [{destination: {host: foo.bar, subset: shiny, port: {number: 5000}}}]"),
    want: "valid",
  },
  {
    name: "destination with a port without number",
    yaml: http("route: [{destination: {host: foo.bar, subset: shiny, port: {}}}]"),
    want: "error",
  },
  {
    name: "destination port 0",
    yaml: http("route: [{destination: {host: a.b, port: {number: 0}}}]"),
    want: "error",
  },
  {
    name: "destination subset ''",
    yaml: http("route: [{destination: {host: a.b, subset: ''}}]"),
    want: "valid",
  },
  {
    name: "destination subset in upper case",
    yaml: http("route: [{destination: {host: a.b, subset: V1}}]"),
    want: "valid",
  },
  {
    name: "destination subset a.b",
    yaml: http("route: [{destination: {host: a.b, subset: a.b}}]"),
    want: "error",
  },
  {
    name: "destination host with a trailing dot",
    yaml: http("route: [{destination: {host: a.b.}}]"),
    want: "valid",
  },
  {
    name: "destination host an IP address",
    yaml: http("route: [{destination: {host: 1.2.3.4}}]"),
    want: "error",
  },

  // --- Timeouts (agent.ValidateDuration, the CRD's >= 1ms)
  { name: "timeout 1s", yaml: routed("timeout: 1s"), want: "valid" },
  { name: "timeout 0s", yaml: routed("timeout: 0s"), want: "error" },
  { name: "timeout 1ns", yaml: routed("timeout: 1ns"), want: "error" },
  { name: "timeout 1.000000001s", yaml: routed("timeout: 1.000000001s"), want: "error" },
  { name: "timeout -1s", yaml: routed("timeout: -1s"), want: "error" },
];

tableTest("VirtualService HTTP routes: Istio's rules, case by case", HEADER, CASES);
