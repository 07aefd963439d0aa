/**
 * Retry decisions for a route, as Envoy makes them for Istio's
 * `HTTPRetry`: which outcomes are retried (`retryOn`), how many times, how
 * long to back off in between. Pure: the concrete stage (`stages/concrete.ts`)
 * asks, this module answers.
 *
 * @example
 * ```ts
 * const p = compileRetryPolicy({ attempts: 2, retryOn: ["connect-failure", "503"] });
 * retriableStatus(p, 503); // true
 * retriableFailure(p, "reset"); // false: only connect failures are retried
 * ```
 * @module
 */
import type { RetryPolicy } from "../api/proxy_config.ts";
import { GRPC_STATUS } from "../api/grpc_status.ts";

/** A compiled retry policy. */
export interface CompiledRetry {
  /** Retries allowed after the first attempt. */
  attempts: number;
  perTryTimeoutMs?: number;
  backoffBaseMs: number;
  ignorePreviousHosts: boolean;
  /** Failures (no response head) that are retried. */
  failures: Set<UpstreamFailure>;
  /** Response statuses that are retried. */
  statuses: Set<number>;
  /** Any 5xx is retried (`5xx`). */
  any5xx: boolean;
  /** gRPC statuses retried (`cancelled`, `deadline-exceeded`, ...; a trailers-only response's). */
  grpcStatuses: Set<number>;
}

/** The gRPC conditions of `retryOn`, by the status each retries. */
const GRPC_CONDITIONS: Record<string, number> = {
  "cancelled": GRPC_STATUS.CANCELLED,
  "deadline-exceeded": GRPC_STATUS.DEADLINE_EXCEEDED,
  "internal": GRPC_STATUS.INTERNAL,
  "resource-exhausted": GRPC_STATUS.RESOURCE_EXHAUSTED,
  "unavailable": GRPC_STATUS.UNAVAILABLE,
};

/** How an attempt failed without a response: couldn't connect, reset, or per-try timeout. */
export type UpstreamFailure = "connect" | "reset" | "timeout";

/** Envoy's default base interval between retries (25 ms; the cap is 10 times that). */
export const DEFAULT_BACKOFF_MS = 25;

/**
 * Compiles a pushed policy. The gRPC conditions retry a response whose head carries that
 * `grpc-status` (a trailers-only response: Envoy doesn't wait for trailers either).
 */
export function compileRetryPolicy(p: RetryPolicy | undefined): CompiledRetry {
  const out: CompiledRetry = {
    attempts: Math.max(0, p?.attempts ?? 0),
    perTryTimeoutMs: p?.perTryTimeoutMs,
    backoffBaseMs: p?.backoffMs ?? DEFAULT_BACKOFF_MS,
    ignorePreviousHosts: p?.ignorePreviousHosts ?? true,
    failures: new Set(),
    statuses: new Set(),
    any5xx: false,
    grpcStatuses: new Set(),
  };
  const gateway = () => {
    for (const s of [502, 503, 504]) out.statuses.add(s);
  };
  const failures = (...f: UpstreamFailure[]) => f.forEach((x) => out.failures.add(x));
  const explicitCodes: number[] = [];
  let retriableCodes = false;
  for (const raw of p?.retryOn ?? []) {
    const cond = raw.trim();
    if (/^\d{3}$/.test(cond)) {
      explicitCodes.push(Number(cond));
      retriableCodes = true;
      continue;
    }
    const grpc = GRPC_CONDITIONS[cond];
    if (grpc !== undefined) {
      out.grpcStatuses.add(grpc);
      continue;
    }
    switch (cond) {
      case "refused-stream":
        // A stream the peer refused (REFUSED_STREAM, or past its GOAWAY): never processed.
        failures("connect");
        break;
      case "5xx":
        out.any5xx = true;
        failures("connect", "reset", "timeout");
        break;
      case "gateway-error":
        gateway();
        failures("connect", "reset", "timeout");
        break;
      case "reset":
        failures("reset", "timeout");
        break;
      case "reset-before-request":
      case "connect-failure":
        failures("connect");
        break;
      case "retriable-4xx":
        out.statuses.add(409);
        break;
      case "retriable-status-codes":
        retriableCodes = true;
        break;
    }
  }
  if (retriableCodes) {
    for (const s of p?.retriableStatusCodes ?? []) out.statuses.add(s);
    for (const s of explicitCodes) out.statuses.add(s);
  }
  return out;
}

/** Whether a response with `status` is retried under `p`. */
export function retriableStatus(p: CompiledRetry, status: number): boolean {
  return (p.any5xx && status >= 500 && status <= 599) || p.statuses.has(status);
}

/** Whether a response (status and head) is retried under `p`, its gRPC status included. */
export function retriableResponse(
  p: CompiledRetry,
  status: number,
  headers: readonly (readonly [string, string])[],
): boolean {
  if (retriableStatus(p, status)) return true;
  if (p.grpcStatuses.size === 0) return false;
  const g = headers.find(([k]) => k === "grpc-status")?.[1];
  return g !== undefined && p.grpcStatuses.has(Number(g));
}

/** Whether an attempt that failed with `f` is retried under `p`. */
export function retriableFailure(p: CompiledRetry, f: UpstreamFailure): boolean {
  return p.failures.has(f);
}

/**
 * Milliseconds to wait before retry number `retry` (1-based): Envoy's fully
 * jittered exponential backoff, a random value in [0, base × 2^(retry-1)),
 * capped at 10 × base.
 */
export function backoffMs(
  p: CompiledRetry,
  retry: number,
  rand: () => number = Math.random,
): number {
  const ceiling = Math.min(p.backoffBaseMs * 2 ** (retry - 1), p.backoffBaseMs * 10);
  return Math.floor(rand() * ceiling);
}
