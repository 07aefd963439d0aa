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
  },
  { name: "CORS: method *", yaml: routed("corsPolicy: {allowMethods: ['*']}"), want: "valid" },
  {
    name: "CORS: an empty header",
    yaml: routed("corsPolicy: {exposeHeaders: ['']}"),
    want: "error",
  },
  { name: "CORS: header *", yaml: routed("corsPolicy: {allowHeaders: ['*']}"), want: "valid" },
  { name: "CORS: header x!y", yaml: routed("corsPolicy: {allowHeaders: ['x!y']}"), want: "valid" },
  {
    name: "CORS: header with a space",
    yaml: routed("corsPolicy: {allowHeaders: ['x y']}"),
    want: "error",
  },
  {
    name: "CORS: max age 2.000000042s",
    yaml: routed("corsPolicy: {maxAge: 2.000000042s}"),
    want: "error",
  },
  { name: "CORS: max age 1500ms", yaml: routed("corsPolicy: {maxAge: 1500ms}"), want: "error" },
  {
    name: "CORS: empty allowOrigins matches",
    yaml: routed("corsPolicy: {allowOrigins: [{exact: ''}, {prefix: ''}, {regex: ''}]}"),
    want: "error",
  },
  {
    name: "CORS: an allowOrigins {}",
    yaml: routed("corsPolicy: {allowOrigins: [{}]}"),
    want: "error",
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
  },
  {
    name: "abort status 100",
    yaml: fault("{abort: {httpStatus: 100, percentage: {value: 20}}}"),
    want: "error",
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
  },
  {
    name: "abort at -10%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: -10}}}"),
    want: "error",
  },
  {
    name: "abort at 101%",
    yaml: fault("{abort: {httpStatus: 200, percentage: {value: 101}}}"),
    want: "error",
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
  },
  {
    name: "abort gRPC at -10%",
    yaml: fault("{abort: {grpcStatus: INTERNAL, percentage: {value: -10}}}"),
    want: "error",
  },
  { name: "abort http2Error", yaml: fault("{abort: {http2Error: CANCEL}}"), want: "error" },
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
  },
  { name: "delay 3.000000042s", yaml: fault("{delay: {fixedDelay: 3.000000042s}}"), want: "error" },
  {
    name: "delay at 0.001%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: 0.001}}}"),
    want: "valid",
  },
  {
    name: "delay at -10%",
    yaml: fault("{delay: {fixedDelay: 3s, percentage: {value: -10}}}"),
    want: "error",
  },
  {
    name: "delay without a type",
    yaml: fault("{delay: {percentage: {value: 10}}}"),
    want: "valid",
  },
  { name: "delay exponential", yaml: fault("{delay: {exponentialDelay: 1s}}"), want: "error" },
  {
    name: "delay with both types",
    yaml: fault("{delay: {fixedDelay: 1s, exponentialDelay: 1s}}"),
    want: "error",
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
  },
  { name: "retries 10 alone", yaml: retries("{attempts: 10}"), want: "valid" },
  {
    name: "retryOn a status code",
    yaml: retries("{attempts: 10, retryOn: '503,connect-failure'}"),
    want: "valid",
  },
  { name: "retries -1", yaml: retries("{attempts: -1, perTryTimeout: 2s}"), want: "error" },
  {
    name: "perTryTimeout 2.000000001s",
    yaml: retries("{attempts: 10, perTryTimeout: 2.000000001s}"),
    want: "error",
  },
  {
    name: "perTryTimeout 999ns",
    yaml: retries("{attempts: 10, perTryTimeout: 999ns}"),
    want: "error",
  },
  { name: "backoff 999ns", yaml: retries("{attempts: 10, backoff: 999ns}"), want: "error" },
  {
    name: "retryOn an unknown condition",
    yaml: retries("{attempts: 10, retryOn: '5xx,invalid policy'}"),
    want: "error",
  },
  {
    name: "retryOn 600",
    yaml: retries("{attempts: 10, retryOn: '600,connect-failure'}"),
    want: "error",
  },
  {
    name: "retryOn 499 (no such status)",
    yaml: retries("{attempts: 10, retryOn: '499'}"),
    want: "error",
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
  },
];

tableTest("VirtualService HTTP route policies: Istio's rules, case by case", HEADER, CASES);
