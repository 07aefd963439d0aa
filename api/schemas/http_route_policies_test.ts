/**
 * VirtualService HTTP route policies, as Istio decides them: CORS, fault injection and retries
 * (validation_test.go TestValidateCORSPolicy, TestValidateHTTPFaultInjectionAbort/Delay,
 * TestValidateHTTPRetry), in mesh's own words.
 */
import { type Case, tableTest } from "./case_table.ts";
import { fault, HEADER, http, REDIRECT, retries, routed } from "./http_route_cases.ts";

const CASES: Case[] = [
  // --- TestValidateCORSPolicy
  {
    name: "CORS: methods, headers and max age",
    yaml: routed(
      "corsPolicy: {allowMethods: [GET, POST], allowHeaders: [header1, header2], " +
        "exposeHeaders: [header3], maxAge: 2s}",
    ),
    want: "valid",
  },
  {
    name: "CORS: method PUTT",
    yaml: routed("corsPolicy: {allowMethods: [GET, PUTT]}"),
    want: "error",
    message: '"PUTT" is not an HTTP method; use upper case',
  },
  { name: "CORS: method *", yaml: routed("corsPolicy: {allowMethods: ['*']}"), want: "valid" },
  {
    name: "CORS: an empty header",
    yaml: routed("corsPolicy: {exposeHeaders: ['']}"),
    want: "error",
    message: 'invalid header name ""',
  },
  { name: "CORS: header *", yaml: routed("corsPolicy: {allowHeaders: ['*']}"), want: "valid" },
  { name: "CORS: header x!y", yaml: routed("corsPolicy: {allowHeaders: ['x!y']}"), want: "valid" },
  {
    name: "CORS: header with a space",
    yaml: routed("corsPolicy: {allowHeaders: ['x y']}"),
    want: "error",
    message: 'invalid header name "x y"',
  },
  {
    name: "CORS: max age 2.000000042s",
    yaml: routed("corsPolicy: {maxAge: 2.000000042s}"),
    want: "error",
    message: 'duration "2.000000042s" is finer than a second',
  },
  {
    name: "CORS: max age 1500ms",
    yaml: routed("corsPolicy: {maxAge: 1500ms}"),
    want: "error",
    message: 'duration "1500ms" is finer than a second; round',
  },
  {
    name: "CORS: empty allowOrigins matches",
    yaml: routed("corsPolicy: {allowOrigins: [{exact: ''}, {prefix: ''}, {regex: ''}]}"),
    want: "error",
    message: "each allowOrigins entry sets a non-empty exact",
  },
  {
    name: "CORS: an allowOrigins {}",
    yaml: routed("corsPolicy: {allowOrigins: [{}]}"),
    want: "error",
    message: "each allowOrigins entry sets a non-empty exact",
  },
  {
    name: "CORS: allowOrigins exact, prefix and regex",
    yaml: routed("corsPolicy: {allowOrigins: [{exact: exact}, {prefix: prefix}, {regex: regex}]}"),
    want: "valid",
  },
  {
    name: "CORS: allowOrigins bad regex",
    yaml: routed("corsPolicy: {allowOrigins: [{regex: '('}]}"),
    want: "error",
    message: "invalid regular expression: Unterminated group",
  },
  {
    name: "CORS: deprecated allowOrigin",
    yaml: routed("corsPolicy: {allowOrigin: ['*']}"),
    want: "valid",
  },

  // --- TestValidateHTTPFaultInjectionAbort / Delay
  {
    name: "abort 500 at 20%",
    yaml: fault("{abort: {httpStatus: 500, percentage: {value: 20}}}"),
    want: "valid",
  },
  { name: "abort without percentage", yaml: fault("{abort: {httpStatus: 200}}"), want: "valid" },
  {
    name: "abort status 9000",
    yaml: fault("{abort: {httpStatus: 9000, percentage: {value: 20}}}"),
    want: "error",
    message: "HTTP status 9000 is not in the range 200..599",
  },
  {
    name: "abort status 100",
    yaml: fault("{abort: {httpStatus: 100, percentage: {value: 20}}}"),
    want: "error",
    message: "HTTP status 100 is not in the range 200..599",
  },
  {
    name: "abort at 0.001%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: 0.001}}}"),
    want: "valid",
  },
  {
    name: "abort at 0.00001%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: 0.00001}}}"),
    want: "error",
    message: "percentage 0.00001 is too small; use 0 or a",
  },
  {
    name: "abort at -10%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: -10}}}"),
    want: "error",
    message: "must be a number from 0 to 100; got -10",
  },
  {
    name: "abort at 101%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: 101}}}"),
    want: "error",
    message: "must be a number from 0 to 100; got 101",
  },
  {
    name: "abort gRPC DEADLINE_EXCEEDED",
    yaml: fault("{abort: {grpcStatus: DEADLINE_EXCEEDED, percentage: {value: 20}}}"),
    want: "valid",
  },
  {
    name: "abort gRPC without percentage",
    yaml: fault("{abort: {grpcStatus: DEADLINE_EXCEEDED}}"),
    want: "valid",
  },
  {
    name: "abort gRPC BAD_STATUS",
    yaml: fault("{abort: {grpcStatus: BAD_STATUS}}"),
    want: "error",
    message: 'unknown gRPC status "BAD_STATUS"; use a name',
  },
  {
    name: "abort gRPC at -10%",
    yaml: fault("{abort: {grpcStatus: INTERNAL, percentage: {value: -10}}}"),
    want: "error",
    message: "must be a number from 0 to 100; got -10",
  },
  {
    name: "abort http2Error",
    yaml: fault("{abort: {http2Error: CANCEL}}"),
    want: "error",
    message: "http2Error aborts are not supported by Istio",
  },
  {
    name: "abort without error type",
    yaml: fault("{abort: {percentage: {value: 5}}}"),
    want: "warning",
    message: "error type",
  },
  {
    name: "abort with two error types",
    yaml: fault("{abort: {httpStatus: 500, grpcStatus: INTERNAL}}"),
    want: "error",
    message: "httpStatus and grpcStatus can't both be set",
  },
  { name: "an empty fault", yaml: fault("{}"), want: "error", message: "abort" },
  {
    name: "delay 3s at 20%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: 20}}}"),
    want: "valid",
  },
  { name: "delay without percentage", yaml: fault("{delay: {fixedDelay: 3s}}"), want: "valid" },
  {
    name: "delay at 101%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: 101}}}"),
    want: "error",
    message: "must be a number from 0 to 100; got 101",
  },
  {
    name: "delay 3.000000042s",
    yaml: fault("{delay: {fixedDelay: 3.000000042s}}"),
    want: "error",
    message: 'duration "3.000000042s" is finer than a',
  },
  {
    name: "delay at 0.001%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: 0.001}}}"),
    want: "valid",
  },
  {
    name: "delay at -10%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: -10}}}"),
    want: "error",
    message: "must be a number from 0 to 100; got -10",
  },
  {
    name: "delay without a type",
    yaml: fault("{delay: {percentage: {value: 10}}}"),
    want: "valid",
  },
  {
    name: "delay exponential",
    yaml: fault("{delay: {exponentialDelay: 1s}}"),
    want: "error",
    message: "exponentialDelay is not supported by Istio; use",
  },
  {
    name: "delay with both types",
    yaml: fault("{delay: {fixedDelay: 1s, exponentialDelay: 1s}}"),
    want: "error",
    message: "fixedDelay and exponentialDelay can't both be",
  },
  {
    name: "delay with percent 150 (not checked)",
    yaml: fault("{delay: {fixedDelay: 1s, percent: 150}}"),
    want: "valid",
  },
  {
    name: "redirect and fault",
    yaml: http(`${REDIRECT}, fault: {abort: {httpStatus: 500}}`),
    want: "error",
    message: "redirect and fault can't both be set; redirect",
  },

  // --- TestValidateHTTPRetry
  {
    name: "retries 10 with timeout and conditions",
    yaml: retries("{attempts: 10, perTryTimeout: 2s, retryOn: '5xx,gateway-error'}"),
    want: "valid",
  },
  { name: "retries disabled", yaml: retries("{attempts: 0}"), want: "valid" },
  {
    name: "retry settings with attempts 0",
    yaml: retries("{attempts: 0, perTryTimeout: 2s, retryOn: 5xx}"),
    want: "error",
    message: "retry settings are set but attempts is 0",
  },
  { name: "retries 10 alone", yaml: retries("{attempts: 10}"), want: "valid" },
  {
    name: "retryOn a status code",
    yaml: retries("{attempts: 10, retryOn: '503,connect-failure'}"),
    want: "valid",
  },
  {
    name: "retries -1",
    yaml: retries("{attempts: -1, perTryTimeout: 2s}"),
    want: "error",
    message: "attempts may not be negative",
  },
  {
    name: "perTryTimeout 2.000000001s",
    yaml: retries("{attempts: 10, perTryTimeout: 2.000000001s}"),
    want: "error",
    message: 'duration "2.000000001s" is finer than a',
  },
  {
    name: "perTryTimeout 999ns",
    yaml: retries("{attempts: 10, perTryTimeout: 999ns}"),
    want: "error",
    message: 'duration "999ns" is too short; it must be at',
  },
  {
    name: "backoff 999ns",
    yaml: retries("{attempts: 10, backoff: 999ns}"),
    want: "error",
    message: 'duration "999ns" is too short; it must be at',
  },
  {
    name: "retryOn an unknown condition",
    yaml: retries("{attempts: 10, retryOn: '5xx,invalid policy'}"),
    want: "error",
    message: '"invalid policy" is not a retry condition; use',
  },
  {
    name: "retryOn 600",
    yaml: retries("{attempts: 10, retryOn: '600,connect-failure'}"),
    want: "error",
    message: '"600" is not a retry condition; use e.g. 5xx',
  },
  {
    name: "retryOn 499 (no such status)",
    yaml: retries("{attempts: 10, retryOn: '499'}"),
    want: "error",
    message: '"499" is not a retry condition; use e.g. 5xx',
  },
  { name: "retryOn 418", yaml: retries("{attempts: 10, retryOn: '418'}"), want: "valid" },
  {
    name: "retryOn empty with attempts 0",
    yaml: retries("{attempts: 0, retryOn: ''}"),
    want: "valid",
  },
  { name: "retryOn empty", yaml: retries("{attempts: 3, retryOn: ''}"), want: "valid" },
  {
    name: "retryRemoteLocalities with attempts 0",
    yaml: retries("{attempts: 0, retryRemoteLocalities: false}"),
    want: "error",
    message: "retry settings are set but attempts is 0",
  },
];

tableTest("VirtualService HTTP route policies: Istio's rules, case by case", HEADER, CASES);
