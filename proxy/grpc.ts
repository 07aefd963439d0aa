/**
 * What the proxy knows of gRPC: which requests are gRPC, its status codes by number and by
 * the names Istio's config uses, how Envoy maps an HTTP status of a local reply to a gRPC
 * status, the `grpc-timeout` header, and `grpc-message` encoding.
 *
 * @example
 * ```ts
 * isGrpc("application/grpc+proto"); // true
 * grpcStatusCode("UNAVAILABLE"); // 14
 * httpToGrpcStatus(403); // 7 (PERMISSION_DENIED)
 * grpcTimeoutMs("250m"); // 250
 * ```
 * @module
 */

import { GRPC_STATUS } from "../api/grpc_status.ts";

export { GRPC_STATUS };

/**
 * Whether a request with this `content-type` is gRPC (`application/grpc`, or
 * `application/grpc+<codec>`), as Envoy decides it; gRPC-Web is not.
 */
export function isGrpc(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const ct = contentType.toLowerCase();
  if (!ct.startsWith("application/grpc")) return false;
  const rest = ct.slice(16);
  return rest === "" || rest[0] === "+" || rest[0] === ";";
}

/** A status by name (`UNAVAILABLE`, case-insensitive) or number (`"14"`); undefined if neither. */
export function grpcStatusCode(s: string | number): number | undefined {
  if (typeof s === "number") return Number.isInteger(s) && s >= 0 ? s : undefined;
  if (/^\d+$/.test(s)) return Number(s);
  return GRPC_STATUS[s.toUpperCase().replaceAll("-", "_")];
}

/** Envoy's mapping of a local reply's HTTP status to the gRPC status a gRPC client gets. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return GRPC_STATUS.INTERNAL;
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return GRPC_STATUS.UNKNOWN;
  }
}

const UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * The `grpc-timeout` header (1 to 8 digits and a unit `H M S m u n`) in milliseconds;
 * undefined when it isn't one (then it is ignored, as Envoy ignores it).
 */
export function grpcTimeoutMs(v: string | null | undefined): number | undefined {
  const m = v ? /^(\d{1,8})([HMSmun])$/.exec(v) : null;
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** A `grpc-timeout` value for `ms` milliseconds (rounded up to whole milliseconds). */
export function formatGrpcTimeout(ms: number): string {
  return `${Math.max(0, Math.ceil(ms))}m`;
}

/** `grpc-message` as the protocol encodes it: percent-encoding outside printable ASCII and `%`. */
export function encodeGrpcMessage(msg: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(msg)) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
