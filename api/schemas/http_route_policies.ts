/**
 * The checks of a VirtualService HTTP route's policies as Istio states them: retries
 * (agent.ValidateHTTPRetry, shared with MeshConfig's default retry policy), fault injection and
 * CORS.
 * @module
 */

import { GRPC_STATUS as GRPC_STATUS_CODES } from "../grpc_status.ts";
import { countSet, NOT_SUPPORTED, type Path, quote, type Reporter } from "./common.ts";
import { checkHttpStatus, checkRegex, HEADER_TOKEN } from "./http_route_checks.ts";
import type { CorsPolicy, HTTPFaultInjection, HTTPRetry } from "./http_route.ts";

/** Retry conditions Envoy knows, besides HTTP status codes. */
const RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);
/** HTTP retry conditions mesh doesn't detect. */
const UNSUPPORTED_RETRY_ON = new Set(["retriable-headers", "envoy-ratelimited"]);
/** The status codes Go's net/http has a text for (Istio takes those in `retryOn`). */
const GO_STATUS_CODES = new Set(
  "100-103,200-208,226,300-305,307,308,400-418,421-426,428,429,431,451,500-508,510,511"
    .split(",")
    .flatMap((range) => {
      const [from, to = from] = range.split("-").map(Number);
      return Array.from({ length: to - from + 1 }, (_, k) => from + k);
    }),
);

/** Checks retry settings (a route's `retries`, MeshConfig `defaultHttpRetryPolicy`). */
export function checkRetries(rt: HTTPRetry, at: Path, r: Reporter): void {
  const attempts = rt.attempts ?? 0;
  if (attempts < 0) r.error([...at, "attempts"], "attempts may not be negative");
  if (rt.retryRemoteLocalities !== undefined) {
    r.warn([...at, "retryRemoteLocalities"], `localities are ${NOT_SUPPORTED}`);
  }
  if (
    attempts === 0 &&
    (rt.perTryTimeout !== undefined || rt.retryOn || rt.retryRemoteLocalities !== undefined)
  ) {
    r.error(
      [...at, "attempts"],
      "retry settings are set but attempts is 0 (retries disabled); set attempts",
    );
  }
  if (!rt.retryOn) return;
  for (const policy of rt.retryOn.split(",")) {
    const status = /^[+-]?\d{1,10}$/.test(policy) ? Number(policy) : 0;
    if (UNSUPPORTED_RETRY_ON.has(policy)) {
      r.warn([...at, "retryOn"], `retry condition ${quote(policy)} is ${NOT_SUPPORTED}`);
    }
    if (!GO_STATUS_CODES.has(status) && !RETRY_ON.has(policy)) {
      r.error(
        [...at, "retryOn"],
        `${quote(policy)} is not a retry condition; use e.g. 5xx, gateway-error, reset, ` +
          "connect-failure, retriable-4xx or an HTTP status code",
      );
    }
  }
}

const GRPC_STATUS = new Set(Object.keys(GRPC_STATUS_CODES));

function checkFaultPercentage(value: number | undefined, path: Path, r: Reporter): void {
  if (value !== undefined && value > 0 && value < 0.0001) {
    r.error(path, `percentage ${value} is too small; use 0 or a value from 0.0001 to 100`);
  }
}

/** Checks fault injection: a delay and/or an abort, each with one type. */
export function checkFault(fault: HTTPFaultInjection, path: Path, r: Reporter): void {
  if (!fault.delay && !fault.abort) r.error(path, "empty fault; set delay and/or abort");
  if (fault.delay) {
    const at = [...path, "delay"];
    const d = fault.delay;
    checkFaultPercentage(d.percentage?.value, [...at, "percentage", "value"], r);
    if (d.fixedDelay !== undefined && d.exponentialDelay !== undefined) {
      r.error([...at, "exponentialDelay"], "fixedDelay and exponentialDelay can't both be set");
    } else if (d.exponentialDelay !== undefined) {
      r.error(
        [...at, "exponentialDelay"],
        "exponentialDelay is not supported by Istio; use fixedDelay",
      );
    }
  }
  if (fault.abort) {
    const at = [...path, "abort"];
    const { httpStatus, grpcStatus, http2Error, percentage } = fault.abort;
    checkFaultPercentage(percentage?.value, [...at, "percentage", "value"], r);
    const set = countSet(fault.abort, ["httpStatus", "grpcStatus", "http2Error"]);
    if (set.length > 1) {
      r.error([...at, set[1]], `${set.join(" and ")} can't both be set; keep one`);
    } else if (set.length === 0) {
      r.warn(at, "abort has no error type; set httpStatus or grpcStatus");
    } else if (grpcStatus !== undefined) {
      if (!GRPC_STATUS.has(grpcStatus)) {
        r.error(
          [...at, "grpcStatus"],
          `unknown gRPC status ${quote(grpcStatus)}; use a name like NOT_FOUND or UNAVAILABLE`,
        );
      }
    } else if (http2Error !== undefined) {
      r.error(
        [...at, "http2Error"],
        "http2Error aborts are not supported by Istio; use httpStatus",
      );
    } else if (httpStatus !== undefined) {
      checkHttpStatus(httpStatus, [...at, "httpStatus"], r);
    }
  }
}

const CORS_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "*",
]);

/** Checks a CORS policy: origins, methods and header names (`*` or tokens). */
export function checkCors(cors: CorsPolicy, path: Path, r: Reporter): void {
  cors.allowOrigins?.forEach((sm, i) => {
    const at = [...path, "allowOrigins", i];
    const set = countSet(sm, ["exact", "prefix", "regex"]);
    if (set.length > 1) {
      r.error(at, `set only one of exact, prefix or regex; found ${set.join(" and ")}`);
    } else if ((sm.exact ?? sm.prefix ?? sm.regex ?? "") === "") {
      r.error(at, "each allowOrigins entry sets a non-empty exact, prefix or regex");
    } else if (sm.regex !== undefined) checkRegex(sm.regex, [...at, "regex"], r);
  });
  cors.allowMethods?.forEach((m, i) => {
    if (!CORS_METHODS.has(m)) {
      r.error(
        [...path, "allowMethods", i],
        `${quote(m)} is not an HTTP method; use upper case like GET or POST, or *`,
      );
    }
  });
  for (const field of ["allowHeaders", "exposeHeaders"] as const) {
    cors[field]?.forEach((h, i) => {
      if (h !== "*" && !HEADER_TOKEN.test(h)) {
        r.error([...path, field, i], `invalid header name ${quote(h)}`);
      }
    });
  }
}
