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
  {
    name: "a null destination",
    yaml: http("route: [{destination: null}]"),
    want: "error",
    message: 'missing required field "destination"',
  },
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
    message: "weight -1 is negative",
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
  {
    name: "redirect and route",
    yaml: http(`${DEST}, ${REDIRECT}`),
    want: "error",
    message: "redirect and route can't both be set; redirect",
  },
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
    message: "header names may not be empty",
  },
  {
    name: "empty name in request set",
    yaml: destHeaders("{request: {set: {'': v}}}"),
    want: "error",
    message: "header names may not be empty",
  },
  {
    name: "empty name in request remove",
    yaml: destHeaders("{request: {remove: ['']}}"),
    want: "error",
    message: "header names may not be empty",
  },
  {
    name: "empty name in response add",
    yaml: destHeaders("{response: {add: {'': v}}}"),
    want: "error",
    message: "header names may not be empty",
  },
  {
    name: "empty name in response set",
    yaml: destHeaders("{response: {set: {'': v}}}"),
    want: "error",
    message: "header names may not be empty",
  },
  {
    name: "empty name in response remove",
    yaml: destHeaders("{response: {remove: ['']}}"),
    want: "error",
    message: "header names may not be empty",
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
    message: "a %VARIABLE% is not closed",
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
    message: "a %VARIABLE% is not closed",
  },
  {
    name: "a null header match",
    yaml: matching("{headers: {header: null}}"),
    want: "error",
    message: "expected a mapping, got null",
  },
  {
    name: "an empty prefix header match",
    yaml: matching("{headers: {emptyprefix: {prefix: ''}}}"),
    want: "error",
    message: "prefix",
  },
  { name: "no match", yaml: http(DEST), want: "valid" },
  {
    name: "mirrorPercent 101",
    yaml: routed("mirrorPercent: 101"),
    want: "error",
    message: "must be at most 100; got 101",
  },
  {
    name: "mirror_percent 101",
    yaml: routed("mirror_percent: 101"),
    want: "error",
    message: "must be at most 100; got 101",
  },
  {
    name: "mirrorPercentage 101",
    yaml: routed("mirrorPercentage: {value: 101}"),
    want: "error",
    message: "must be a number from 0 to 100; got 101",
  },
  { name: "mirrorPercentage 1", yaml: routed("mirrorPercentage: {value: 1}"), want: "valid" },
  {
    name: "mirrorPercentage 0.00001",
    yaml: routed("mirrorPercentage: {value: 0.00001}"),
    want: "valid",
  },
  {
    name: "mirrorPercentage -1",
    yaml: routed("mirrorPercentage: {value: -1}"),
    want: "error",
    message: "must be a number from 0 to 100; got -1",
  },
  {
    name: "mirrors without destination",
    yaml: routed("mirrors: [{}]"),
    want: "error",
    message: 'missing required field "destination"',
  },
  {
    name: "mirrors percentage 101",
    yaml: routed(
      "mirrors: [{destination: {host: a.b}}, {destination: {host: a.b}, percentage: {value: 101}}]",
    ),
    want: "error",
    message: "must be a number from 0 to 100; got 101",
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
    message: "must be a number from 0 to 100; got -1",
  },
  {
    name: "mirror and mirrors",
    yaml: routed("mirror: {host: a.b}, mirrors: [{destination: {host: c.d}}]"),
    want: "error",
    message: "mirror",
  },
  {
    name: "mirror to host *",
    yaml: routed("mirror: {host: '*'}"),
    want: "error",
    message: 'invalid destination host "*": it is *; use a',
  },
  { name: "mirror to a wildcard host", yaml: routed("mirror: {host: '*.foo.com'}"), want: "valid" },

  // --- TestValidateRootHTTPRoute (a route with delegate)
  { name: "root: delegate only", yaml: http(DELEGATE), want: "valid" },
  {
    name: "root: route and delegate",
    yaml: http(`${DEST}, ${DELEGATE}`),
    want: "error",
    message: "a route with delegate can't have destinations",
  },
  {
    name: "root: redirect and delegate",
    yaml: http(`${REDIRECT}, ${DELEGATE}`),
    want: "error",
    message: "a route with delegate can't redirect",
  },
  {
    name: "root: directResponse and delegate (Istio doesn't check)",
    yaml: http(`directResponse: {status: 200}, ${DELEGATE}`),
    want: "valid",
  },
  {
    name: "root: a null header match",
    yaml: matching("{headers: {header: null}}", DELEGATE),
    want: "error",
    message: "expected a mapping, got null",
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
    message: "an empty prefix matches everything; set a",
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
    message: "invalid regular expression: Nothing to repeat",
  },
  {
    name: "withoutHeaders regex * (presence)",
    yaml: matching("{withoutHeaders: {h: {regex: '*'}}}", REDIRECT),
    want: "valid",
  },
  {
    name: "headers regex *",
    yaml: matching("{headers: {h: {regex: '*'}}}"),
    want: "error",
    message: "invalid regular expression: Nothing to repeat",
  },
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
    message: "an empty prefix matches everything; set a",
  },
  {
    name: "an empty regex method match",
    yaml: matching("{method: {regex: ''}}", REDIRECT),
    want: "error",
    message: "empty regular expression; write a pattern or",
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
    message: "empty regular expression; write a pattern or",
  },
  {
    name: "an empty regex query match",
    yaml: matching("{queryParams: {q: {regex: ''}}}", REDIRECT),
    want: "error",
    message: "empty regular expression; write a pattern or",
  },
  {
    name: "an empty prefix query match",
    yaml: matching("{queryParams: {q: {prefix: ''}}}"),
    want: "error",
    message: "an empty prefix matches everything; set a",
  },
  {
    name: "an empty regex scheme match",
    yaml: matching("{scheme: {regex: ''}}", REDIRECT),
    want: "error",
    message: "empty regular expression; write a pattern or",
  },
  {
    name: "an empty prefix scheme match",
    yaml: matching("{scheme: {prefix: ''}}", REDIRECT),
    want: "error",
    message: "an empty prefix matches everything; set a",
  },
  {
    name: "an empty prefix authority match",
    yaml: matching("{authority: {prefix: ''}}"),
    want: "error",
    message: "an empty prefix matches everything; set a",
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
    message: "set only one of exact, prefix or regex; found",
  },
  {
    name: "a regex of 1025 characters",
    yaml: matching(`{uri: {regex: ${big(1025)}}}`),
    want: "error",
    message: "regular expression is 1025 characters long; the",
  },
  {
    name: "an invalid regex",
    yaml: matching("{uri: {regex: '['}}"),
    want: "error",
    message: "invalid regular expression: Unterminated",
  },

  // --- TestValidateDelegateHTTPRoute (routes of a delegate VirtualService)
  {
    name: "delegate: an empty route",
    yaml: inDelegate(""),
    want: "error",
    message: "no destination; add at least one entry under",
  },
  { name: "delegate: one destination", yaml: inDelegate(DEST), want: "valid" },
  {
    name: "delegate: weights summing to 105",
    yaml: inDelegate(
      "route: [{destination: {host: a.b}, weight: 55}, {destination: {host: c.d}, weight: 50}]",
    ),
    want: "valid",
  },
  { name: "delegate: a redirect", yaml: inDelegate(REDIRECT), want: "valid" },
  {
    name: "delegate: redirect and route",
    yaml: inDelegate(`${DEST}, ${REDIRECT}`),
    want: "error",
    message: "redirect and route can't both be set; redirect",
  },
  {
    name: "delegate: mirrorPercent 101",
    yaml: inDelegate(`${DEST}, mirrorPercent: 101`),
    want: "error",
    message: "must be at most 100; got 101",
  },
  {
    name: "delegate: a route with delegate",
    yaml: inDelegate(DELEGATE),
    want: "error",
    message: "no destination; add at least one entry under",
  },

  // --- Match fields beyond the tables
  { name: "match port 0 (unset)", yaml: matching("{port: 0}"), want: "valid" },
  {
    name: "match port 65536",
    yaml: matching("{port: 65536}"),
    want: "error",
    message: "port number 65536 must be in the range 1..65535",
  },
  { name: "match sourceNamespace ''", yaml: matching("{sourceNamespace: ''}"), want: "valid" },
  {
    name: "match sourceNamespace bad",
    yaml: matching("{sourceNamespace: a.b}"),
    want: "error",
    message: 'invalid namespace "a.b"',
  },
  {
    name: "match sourceLabels bad key",
    yaml: matching("{sourceLabels: {'-a': b}}"),
    want: "error",
    message: 'invalid label key "-a"; use [prefix/]name',
  },
  {
    name: "match gateways bad",
    yaml: matching("{gateways: ['ns/x y']}"),
    want: "error",
    message: 'invalid gateway name "x y"; a Gateway name is a',
  },
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
  {
    name: "header name empty",
    yaml: matching("{headers: {'': {exact: a}}}"),
    want: "error",
    message: "header names may not be empty",
  },
  {
    name: "header name ::",
    yaml: matching("{headers: {'::': {exact: a}}}"),
    want: "error",
    message: 'invalid header name "::"',
  },
  {
    name: "header name with a quote",
    yaml: matching(`{headers: {'illegal"char': {exact: a}}}`),
    want: "error",
    message: 'invalid header name "illegal\\"char"; use',
  },
  {
    name: "header name :foo",
    yaml: matching("{headers: {':foo': {exact: a}}}"),
    want: "error",
    message: 'invalid header name ":foo"; use letters, digits',
  },

  // --- TestValidateDestination, subsets and ports
  {
    name: "destination without host",
    yaml: http("route: [{destination: {}}]"),
    want: "error",
    message: 'missing required field "host"',
  },
  {
    name: "destination with subset and port",
    yaml: http("route: [{destination: {host: foo.bar, subset: shiny, port: {number: 5000}}}]"),
    want: "valid",
  },
  {
    name: "destination with a port without number",
    yaml: http("route: [{destination: {host: foo.bar, subset: shiny, port: {}}}]"),
    want: "error",
    message: 'missing required field "number"',
  },
  {
    name: "destination port 0",
    yaml: http("route: [{destination: {host: a.b, port: {number: 0}}}]"),
    want: "error",
    message: "must be an integer from 1 to 65535; got 0",
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
    message: 'invalid subset name "a.b"; subset names are DNS',
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
    message: 'invalid destination host "1.2.3.4": the',
  },

  // --- Timeouts (agent.ValidateDuration, the CRD's >= 1ms)
  { name: "timeout 1s", yaml: routed("timeout: 1s"), want: "valid" },
  {
    name: "timeout 0s",
    yaml: routed("timeout: 0s"),
    want: "error",
    message: 'duration "0s" is too short; it must be at least',
  },
  {
    name: "timeout 1ns",
    yaml: routed("timeout: 1ns"),
    want: "error",
    message: 'duration "1ns" is too short; it must be at',
  },
  {
    name: "timeout 1.000000001s",
    yaml: routed("timeout: 1.000000001s"),
    want: "error",
    message: 'duration "1.000000001s" is finer than a',
  },
  {
    name: "timeout -1s",
    yaml: routed("timeout: -1s"),
    want: "error",
    message: 'negative duration "-1s"; durations must be',
  },
];

tableTest("VirtualService HTTP routes: Istio's rules, case by case", HEADER, CASES);

// TestValidateDelegateHTTPRoute runs TestValidateHTTPRoute's cases for the routes of a delegate
// VirtualService (no hosts): every one is decided the same way there.
const FIRST_ROOT = CASES.findIndex((c) => c.name.startsWith("root: "));
const IN_DELEGATE: Case[] = CASES.slice(0, FIRST_ROOT).map((c) => ({
  ...c,
  name: `in a delegate VirtualService, ${c.name}`,
  yaml: c.yaml.replace(/^hosts: \[foo\.bar\]\n/, ""),
}));
tableTest("VirtualService HTTP routes of a delegate: Istio's rules", HEADER, IN_DELEGATE);
