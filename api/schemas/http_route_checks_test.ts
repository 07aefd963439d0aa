/**
 * VirtualService HTTP route parts, as Istio decides them: header values (Envoy's header parser)
 * and header operations, the authority set once, direct responses, rewrites and redirects
 * (validation_test.go TestValidateHTTPHeaderValue, TestValidateHTTPStatus,
 * TestValidateHTTPDirectResponse, TestValidateHTTPRewrite, TestValidateUriRegexRewrite,
 * TestValidateHTTPRedirect), in mesh's own words.
 */
import { type Case, tableTest } from "./case_table.ts";
import { big, DEST, fault, HEADER, http, KB, REDIRECT, routed } from "./http_route_cases.ts";

const CASES: Case[] = [
  // --- TestValidateHTTPHeaderValue
  { name: "value foo", yaml: routed("headers: {request: {set: {x: foo}}}"), want: "valid" },
  {
    name: "value with a variable in the middle",
    yaml: routed("headers: {request: {set: {x: 'prefix %HOSTNAME% suffix'}}}"),
    want: "valid",
  },
  {
    name: "value with a variable and % inside its arguments",
    yaml: routed(
      "headers: {request: {set: {x: '%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%'}}}",
    ),
    want: "valid",
  },
  {
    name: "value with DYNAMIC_METADATA",
    yaml: routed("headers: {request: {set: {x: '%DYNAMIC_METADATA(com.test.my_filter)%'}}}"),
    want: "valid",
  },
  {
    name: "value with a JSON array argument",
    yaml: routed(`headers: {request: {set: {x: '%UPSTREAM_METADATA(["a", "b"])%'}}}`),
    want: "valid",
  },
  {
    name: "value %START_TIME%%",
    yaml: routed("headers: {request: {set: {x: '%START_TIME%%'}}}"),
    want: "error",
    message: 'invalid header value "%START_TIME%%": a % ends',
  },
  {
    name: "value abc%123",
    yaml: routed("headers: {request: {set: {x: 'abc%123'}}}"),
    want: "error",
    message: 'invalid header value "abc%123": a %VARIABLE% is',
  },
  {
    name: "value with a newline",
    yaml: routed(`headers: {request: {set: {x: "a\\nb"}}}`),
    want: "error",
    message: "header values may not contain control characters",
  },

  // --- Header operation names and the authority
  {
    name: "set :authority on a route",
    yaml: routed("headers: {request: {set: {':authority': foo}}}"),
    want: "valid",
  },
  {
    name: "set host on a route",
    yaml: routed("headers: {request: {set: {host: foo}}}"),
    want: "valid",
  },
  {
    name: "set :path",
    yaml: routed("headers: {request: {set: {':path': /x}}}"),
    want: "error",
    message: 'pseudo-header ":path" can\'t be changed',
  },
  {
    name: "remove host",
    yaml: routed("headers: {request: {remove: [Host]}}"),
    want: "error",
    message: "the Host header can't be changed here",
  },
  {
    name: "response set host",
    yaml: routed("headers: {response: {set: {host: x}}}"),
    want: "error",
    message: "the Host header can't be changed here",
  },
  {
    name: "response add :status",
    yaml: routed("headers: {response: {add: {':status': '1'}}}"),
    want: "error",
    message: 'pseudo-header ":status" can\'t be changed',
  },
  {
    name: "authority in rewrite and a header",
    yaml: routed("rewrite: {authority: bar}, headers: {request: {set: {':authority': foo}}}"),
    want: "error",
    message: "authority",
  },
  {
    name: "authority set twice by headers",
    yaml: routed("headers: {request: {set: {':authority': foo}, add: {host: bar}}}"),
    want: "error",
    message: "authority",
  },
  {
    name: "authority in rewrite and a destination's header",
    yaml: http(
      "rewrite: {authority: bar}, route: [{destination: {host: a.b}, " +
        "headers: {request: {set: {':authority': foo}}}}]",
    ),
    want: "valid",
  },

  // --- What Istio refuses in header operations, and what it lets through
  // (ValidateHTTPHeaderWithAuthorityOperationName, ValidateHTTPHeaderOperationName and
  // ValidateHTTPHeaderValue: names are only checked for emptiness, Host and a ':' prefix, never
  // for token characters; values for control characters and Envoy's % syntax; all errors).
  {
    name: "set a name with a space (Istio doesn't check name characters)",
    yaml: routed("headers: {request: {set: {'bad name': v}}}"),
    want: "valid",
  },
  {
    name: "response add a name with a colon inside",
    yaml: routed("headers: {response: {add: {'x-a:b': v}}}"),
    want: "valid",
  },
  {
    name: "remove a non-ASCII name",
    yaml: routed("headers: {request: {remove: ['x-caf\u00e9']}}"),
    want: "valid",
  },
  {
    name: "set a name with a newline",
    yaml: routed(`headers: {response: {set: {"x-a\\nb": v}}}`),
    want: "valid",
  },
  {
    name: "set :Authority in another case",
    yaml: routed("headers: {request: {set: {':Authority': foo}}}"),
    want: "valid",
  },
  {
    name: "add HOST on a request",
    yaml: routed("headers: {request: {add: {HOST: foo}}}"),
    want: "valid",
  },
  {
    name: "remove :authority",
    yaml: routed("headers: {request: {remove: [':authority']}}"),
    want: "error",
    message: 'pseudo-header ":authority" can\'t be changed',
  },
  {
    name: "response set :authority",
    yaml: routed("headers: {response: {set: {':authority': x}}}"),
    want: "error",
    message: 'pseudo-header ":authority" can\'t be changed',
  },
  {
    name: "request add :method",
    yaml: routed("headers: {request: {add: {':method': GET}}}"),
    want: "error",
    message: 'pseudo-header ":method" can\'t be changed',
  },
  {
    name: "response remove HoSt",
    yaml: routed("headers: {response: {remove: [HoSt]}}"),
    want: "error",
    message: "the Host header can't be changed here",
  },
  {
    name: "value with a tab",
    yaml: routed(`headers: {request: {set: {x: "a\\tb"}}}`),
    want: "valid",
  },
  {
    name: "non-ASCII value",
    yaml: routed(`headers: {response: {set: {x: "caf\\u00e9 \\u65e5\\u672c"}}}`),
    want: "valid",
  },
  {
    name: "value 100%%",
    yaml: routed("headers: {response: {add: {x: '100%%'}}}"),
    want: "valid",
  },
  {
    name: "value with a NUL",
    yaml: routed(`headers: {response: {set: {x: "a\\0b"}}}`),
    want: "error",
    message: "header values may not contain control characters",
  },
  {
    name: "value with a carriage return",
    yaml: routed(`headers: {request: {add: {x: "a\\rb"}}}`),
    want: "error",
    message: "header values may not contain control characters",
  },
  {
    name: "value with DEL",
    yaml: routed(`headers: {request: {set: {x: "a\\x7fb"}}}`),
    want: "error",
    message: "header values may not contain control characters",
  },
  {
    name: "value ending in a lone %",
    yaml: routed("headers: {response: {set: {x: '100%'}}}"),
    want: "error",
    message: "a % ends the value",
  },
  {
    name: "destination response value with a newline",
    yaml: http(
      'route: [{destination: {host: foo.baz}, headers: {response: {set: {x: "a\\nb"}}}}]',
    ),
    want: "error",
    message: "header values may not contain control characters",
  },
  {
    name: "destination request value abc%123",
    yaml: http("route: [{destination: {host: foo.baz}, headers: {request: {add: {x: 'abc%1'}}}}]"),
    want: "error",
    message: 'invalid header value "abc%1"',
  },
  {
    // Istio reports the name and the value alike.
    name: "a bad name and a bad value: the value is reported too",
    yaml: routed("headers: {response: {set: {':status': '50%'}}}"),
    want: "error",
    message: 'invalid header value "50%"',
  },

  // --- TestValidateHTTPStatus and TestValidateHTTPDirectResponse
  {
    name: "abort status -100",
    yaml: fault("{abort: {httpStatus: -100, percentage: {value: 1}}}"),
    want: "error",
    message: "HTTP status -100 is not in the range 200..599",
  },
  {
    name: "abort status 0",
    yaml: fault("{abort: {httpStatus: 0, percentage: {value: 1}}}"),
    want: "error",
    message: "HTTP status 0 is not in the range 200..599",
  },
  {
    name: "abort status 200",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: 1}}}"),
    want: "valid",
  },
  {
    // Istio accepts 600; mesh deliberately refuses it (docs/compatibility.md).
    name: "abort status 600 (deliberately refused; Istio accepts it, Envoy doesn't)",
    yaml: fault("{abort: {httpStatus: 600, percentage: {value: 1}}}"),
    want: "error",
    message: "HTTP status 600",
  },
  {
    name: "abort status 601",
    yaml: fault("{abort: {httpStatus: 601, percentage: {value: 1}}}"),
    want: "error",
    message: "HTTP status 601 is not in the range 200..599",
  },
  { name: "direct response 200", yaml: http("directResponse: {status: 200}"), want: "valid" },
  {
    name: "direct response 199",
    yaml: http("directResponse: {status: 199}"),
    want: "error",
    message: "HTTP status 199 is not in the range 200..599",
  },
  {
    // Istio accepts 600; mesh deliberately refuses it (docs/compatibility.md).
    name: "direct response 600 (deliberately refused; Istio accepts it, Envoy doesn't)",
    yaml: http("directResponse: {status: 600}"),
    want: "error",
    message: "HTTP status 600 is not in the range 200..599",
  },
  {
    name: "direct response 601",
    yaml: http("directResponse: {status: 601}"),
    want: "error",
    message: "HTTP status 601 is not in the range 200..599",
  },
  {
    name: "direct response with a string",
    yaml: http("directResponse: {status: 200, body: {string: hello}}"),
    want: "valid",
  },
  {
    name: "direct response string over 100 KB",
    yaml: http(`directResponse: {status: 200, body: {string: ${big(101 * KB)}}}`),
    want: "warning",
    message: "100",
  },
  {
    name: "direct response string over 1 MB",
    yaml: http(`directResponse: {status: 200, body: {string: ${big(2 * 1024 * KB)}}}`),
    want: "error",
    message: "the limit is 1048576",
  },
  {
    name: "direct response with bytes",
    yaml: http("directResponse: {status: 200, body: {bytes: aGVsbG8=}}"),
    want: "valid",
  },
  {
    name: "direct response bytes over 100 KB",
    yaml: http(`directResponse: {status: 200, body: {bytes: ${btoa(big(100 * KB + 1))}}}`),
    want: "warning",
    message: "bodies over 100 KB may slow the control plane",
  },
  {
    name: "direct response bytes of 100 KB (the base64 is longer)",
    yaml: http(`directResponse: {status: 200, body: {bytes: ${btoa(big(100 * KB))}}}`),
    want: "valid",
  },
  {
    name: "direct response bytes over 1 MB",
    yaml: http(`directResponse: {status: 200, body: {bytes: ${btoa(big(1024 * KB + 1))}}}`),
    want: "error",
    message: "the limit is 1048576",
  },
  {
    name: "direct response bytes not base64",
    yaml: http("directResponse: {status: 200, body: {bytes: '%%'}}"),
    want: "error",
    message: "bytes must be base64",
  },
  {
    name: "direct response with string and bytes",
    yaml: http("directResponse: {status: 200, body: {string: a, bytes: YQ==}}"),
    want: "error",
    message: "string and bytes can't both be set; keep one",
  },
  {
    name: "direct response without status",
    yaml: http("directResponse: {body: {string: a}}"),
    want: "error",
    message: 'missing required field "status"',
  },
  {
    name: "direct response and fault",
    yaml: http("directResponse: {status: 200}, fault: {abort: {httpStatus: 500}}"),
    want: "error",
    message: "directResponse and fault can't both be set",
  },
  {
    name: "direct response and rewrite",
    yaml: http("directResponse: {status: 200}, rewrite: {uri: /a}"),
    want: "error",
    message: "directResponse and rewrite can't both be set",
  },
  {
    name: "direct response and redirect",
    yaml: http(`directResponse: {status: 200}, ${REDIRECT}`),
    want: "error",
    message: "redirect and directResponse can't both be set",
  },
  {
    name: "direct response and route",
    yaml: http(`directResponse: {status: 200}, ${DEST}`),
    want: "error",
    message: "directResponse and route can't both be set",
  },

  // --- TestValidateHTTPRewrite / TestValidateUriRegexRewrite
  {
    name: "rewrite uri and authority",
    yaml: routed("rewrite: {uri: /path/to/resource, authority: foobar.org}"),
    want: "valid",
  },
  { name: "rewrite uri", yaml: routed("rewrite: {uri: /path/to/resource}"), want: "valid" },
  { name: "rewrite authority", yaml: routed("rewrite: {authority: foobar.org}"), want: "valid" },
  {
    name: "rewrite uriRegexRewrite",
    yaml: routed(
      `rewrite: {uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1'}}`,
    ),
    want: "valid",
  },
  {
    name: "rewrite uriRegexRewrite and authority",
    yaml: routed(
      `rewrite: {authority: a.b, uriRegexRewrite: {match: '^/s/(.*)$', rewrite: '/\\1'}}`,
    ),
    want: "valid",
  },
  {
    name: "rewrite uriRegexRewrite and uri",
    yaml: routed(`rewrite: {uri: /p, uriRegexRewrite: {match: '^/s/(.*)$', rewrite: '/\\1'}}`),
    want: "error",
    message: "uri and uriRegexRewrite can't both be set; keep",
  },
  {
    name: "rewrite uri '' and uriRegexRewrite",
    yaml: routed(`rewrite: {uri: '', uriRegexRewrite: {match: '^/s/(.*)$', rewrite: '/\\1'}}`),
    want: "valid",
  },
  {
    name: "an empty rewrite",
    yaml: routed("rewrite: {}"),
    want: "error",
    message: "empty rewrite; set uri, uriRegexRewrite or",
  },
  {
    name: "a rewrite of empty strings",
    yaml: routed("rewrite: {uri: '', authority: ''}"),
    want: "error",
    message: "empty rewrite; set uri, uriRegexRewrite or",
  },
  {
    name: "uriRegexRewrite without match",
    yaml: routed(`rewrite: {uriRegexRewrite: {rewrite: '/\\1'}}`),
    want: "error",
    message: "uriRegexRewrite needs both match and rewrite",
  },
  {
    name: "uriRegexRewrite without rewrite",
    yaml: routed("rewrite: {uriRegexRewrite: {match: '^/s$'}}"),
    want: "error",
    message: "uriRegexRewrite needs both match and rewrite",
  },
  {
    name: "uriRegexRewrite with rewrite ''",
    yaml: routed("rewrite: {uriRegexRewrite: {match: '^/s$', rewrite: ''}}"),
    want: "error",
    message: "uriRegexRewrite needs both match and rewrite",
  },
  {
    name: "uriRegexRewrite with a bad regex",
    yaml: routed("rewrite: {uriRegexRewrite: {match: '[', rewrite: '['}}"),
    want: "error",
    message: "invalid regular expression: Unterminated",
  },
  {
    name: "redirect and rewrite",
    yaml: http(`${REDIRECT}, rewrite: {uri: /a}`),
    want: "error",
    message: "redirect and rewrite can't both be set",
  },

  // --- TestValidateHTTPRedirect
  {
    name: "redirect of empty uri and authority",
    yaml: http("redirect: {uri: '', authority: ''}"),
    want: "error",
    message: "empty redirect; set uri, prefixRewrite",
  },
  {
    name: "redirect code 299",
    yaml: http("redirect: {uri: t, redirectCode: 299}"),
    want: "error",
    message: "299 is not a redirect code; use a 3xx code like",
  },
  {
    name: "redirect code 400",
    yaml: http("redirect: {uri: t, redirectCode: 400}"),
    want: "error",
    message: "400 is not a redirect code; use a 3xx code like",
  },
  { name: "redirect uri only", yaml: http("redirect: {uri: t, authority: ''}"), want: "valid" },
  {
    name: "redirect authority only",
    yaml: http("redirect: {uri: '', authority: t}"),
    want: "valid",
  },
  {
    name: "redirect code 0",
    yaml: http("redirect: {uri: t, authority: t, redirectCode: 0}"),
    want: "valid",
  },
  {
    name: "redirect code 308",
    yaml: http("redirect: {uri: t, authority: t, redirectCode: 308}"),
    want: "valid",
  },
  {
    name: "redirect prefixRewrite only",
    yaml: http("redirect: {prefixRewrite: /bar}"),
    want: "valid",
  },
  {
    name: "redirect prefixRewrite and authority",
    yaml: http("redirect: {authority: foo.example.com, prefixRewrite: /}"),
    want: "valid",
  },
  {
    name: "redirect uri and prefixRewrite",
    yaml: http("redirect: {uri: /old, prefixRewrite: /new}"),
    want: "error",
    message: "uri and prefixRewrite can't both be set; keep",
  },
  {
    name: "redirect scheme ftp",
    yaml: http("redirect: {scheme: ftp}"),
    want: "error",
    message: 'scheme must be "http" or "https"; got "ftp"',
  },
  { name: "redirect scheme https only", yaml: http("redirect: {scheme: https}"), want: "valid" },
  { name: "redirect port only", yaml: http("redirect: {port: 8443}"), want: "valid" },
  { name: "redirect port 0", yaml: http("redirect: {port: 0}"), want: "valid" },
  {
    name: "redirect port 70000",
    yaml: http("redirect: {port: 70000}"),
    want: "error",
    message: "port number 70000 must be in the range 1..65535",
  },
  {
    name: "redirect derivePort only",
    yaml: http("redirect: {derivePort: FROM_REQUEST_PORT}"),
    want: "valid",
  },
  {
    name: "redirect port and derivePort",
    yaml: http("redirect: {port: 1, derivePort: FROM_REQUEST_PORT}"),
    want: "error",
    message: "port and derivePort can't both be set; keep one",
  },
];

tableTest(
  "VirtualService HTTP route actions and headers: Istio's rules, case by case",
  HEADER,
  CASES,
);
