/**
 * gRPC status codes by the names Istio's config uses (`abort.grpcStatus`, and in lower-case
 * kebab form the gRPC conditions of `retryOn`), shared by validation, the control plane and
 * the proxy.
 *
 * @example
 * ```ts
 * GRPC_STATUS.UNAVAILABLE; // 14
 * ```
 * @module
 */

/** gRPC status codes by name. */
export const GRPC_STATUS: Readonly<Record<string, number>> = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});
