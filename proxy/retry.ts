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
}

/** How an attempt failed without a response: couldn't connect, reset, or per-try timeout. */
export type UpstreamFailure = "connect" | "reset" | "timeout";

/** Envoy's default base interval between retries (25 ms; the cap is 10 times that). */
export const DEFAULT_BACKOFF_MS = 25;

/** Compiles a pushed policy; conditions mesh can't observe (HTTP/2, gRPC) are ignored. */
export function compileRetryPolicy(p: RetryPolicy | undefined): CompiledRetry {
  const out: CompiledRetry = {
    attempts: Math.max(0, p?.attempts ?? 0),
    perTryTimeoutMs: p?.perTryTimeoutMs,
    backoffBaseMs: p?.backoffMs ?? DEFAULT_BACKOFF_MS,
    ignorePreviousHosts: p?.ignorePreviousHosts ?? true,
    failures: new Set(),
    statuses: new Set(),
    any5xx: false,
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
    switch (cond) {
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
