/**
 * The shape every load tool's result is reduced to, so rows measured with
 * fortio, h2load or wrk can be summarized the same way.
 * @module
 */

/** One load run, whatever the tool. */
export interface LoadResult {
  tool: "fortio" | "h2load" | "wrk" | "wsclient";
  /** Requests (or TCP round trips) per second actually achieved. */
  rps: number;
  /** Completed calls, successful or not. */
  requests: number;
  /** Calls that did not end with the expected status (200, SERVING, OK). */
  errors: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  /** Per status code (HTTP code, gRPC health status, "OK"/"-1" for TCP/socket errors). */
  codes?: Record<string, number>;
  /** TCP connections the client used, when the tool reports it. */
  sockets?: number;
  /** The first error message the tool printed, if any. */
  error_sample?: string;
}
