/**
 * The one place a failure on the request path becomes what Envoy answers: status, body,
 * headers and the response flag the access log prints (`UF`, `UO`, `UT`, `UC`, `UH`, `NR`,
 * `DPE`, `RBAC`, `FI`, `UPE`). Every stage reports a {@linkcode Failure}; the sidecar's
 * outbound and inbound listeners and the gateway answer it through {@linkcode failureAnswer}.
 *
 * @example
 * ```ts
 * const a = failureAnswer({ kind: "timeout" });
 * a.status; // 504
 * a.flags; // "UT"
 * a.body; // "upstream request timeout"
 * errorResponse({ kind: "overflow" }).headers.get("x-envoy-overloaded"); // "true"
 * ```
 * @module
 */
import { UpstreamError } from "./h1_client.ts";
import { jwtDenied } from "./jwt.ts";
import { encodeGrpcMessage, httpToGrpcStatus } from "./grpc.ts";

/** What went wrong, by kind; `detail` is the underlying error's message. */
export type Failure =
  | { kind: "no_config" }
  | { kind: "connect_method" }
  | { kind: "loop"; why: string }
  | { kind: "bad_request"; why: string }
  | {
    kind: "jwt_denied";
    message: string;
    authority: string;
    path: string;
    scheme: "http" | "https";
  }
  | { kind: "authn_error"; detail: string }
  | { kind: "rbac" }
  | { kind: "no_authority" }
  | { kind: "no_route"; status?: 404 | 502 }
  | { kind: "no_healthy_upstream" }
  | { kind: "overflow" }
  | { kind: "timeout" }
  | { kind: "connect_failure"; detail: string }
  | { kind: "reset"; detail: string }
  | { kind: "unreachable"; detail: string }
  | { kind: "bad_upstream_response"; detail: string }
  | { kind: "fault_abort"; status: number; grpcStatus?: number }
  | { kind: "downstream_reset" };

/** How a failure is answered and logged. */
export interface Answer {
  status: number;
  body: string;
  headers: [string, string][];
  /** Envoy's response flag, as the access log prints it. */
  flags?: string;
  /** The `grpc-status` of a gRPC-shaped answer. */
  grpcStatus?: string;
}

/** How the request that failed is answered. */
export interface AnswerOptions {
  /**
   * The request is gRPC (`grpc.ts` `isGrpc`): answered as Envoy answers gRPC locally, a
   * trailers-only response (status 200, `grpc-status` mapped from the HTTP status,
   * `grpc-message` the text) that gRPC clients read as a status.
   */
  grpc?: boolean;
}

const PLAIN: [string, string][] = [["content-type", "text/plain"]];
const RESET = "upstream connect error or disconnect/reset before headers. reset reason:";

/** The status, body, headers and flag of `f`. */
export function failureAnswer(f: Failure, o: AnswerOptions = {}): Answer {
  const a = httpAnswer(f);
  const code = f.kind === "fault_abort" && f.grpcStatus !== undefined ? f.grpcStatus : undefined;
  if (!o.grpc && code === undefined) return a;
  return grpcAnswer(a, code ?? httpToGrpcStatus(a.status));
}

/** `a` as a gRPC trailers-only answer with status `code`. */
function grpcAnswer(a: Answer, code: number): Answer {
  const headers: [string, string][] = [
    ["content-type", "application/grpc"],
    ["grpc-status", String(code)],
  ];
  if (a.body) headers.push(["grpc-message", encodeGrpcMessage(a.body)]);
  for (const h of a.headers) if (h[0] !== "content-type") headers.push(h);
  return { status: 200, body: "", headers, flags: a.flags, grpcStatus: String(code) };
}

function httpAnswer(f: Failure): Answer {
  const plain = (status: number, body: string, flags?: string): Answer => ({
    status,
    body,
    headers: PLAIN,
    flags,
  });
  switch (f.kind) {
    case "no_config":
      return plain(503, "proxy has no configuration yet");
    case "connect_method":
      return plain(501, "CONNECT tunnels are not supported yet; send plain HTTP");
    case "loop":
      // 508 Loop Detected (RFC 5842) says what happened better than a 502; no connection made.
      return plain(508, `loop detected: ${f.why}`);
    case "bad_request":
      return plain(400, `bad request: ${f.why}`, "DPE");
    case "jwt_denied": {
      const d = jwtDenied(f.message, f.authority, f.path, f.scheme);
      return { status: 401, body: d.body, headers: d.headers };
    }
    case "authn_error":
      return plain(500, `request authentication failed: ${f.detail}`);
    case "rbac":
      return plain(403, "RBAC: access denied", "RBAC");
    case "no_authority":
      return plain(404, "no authority (Host header) in the request: no route", "NR");
    case "no_route":
      return plain(f.status ?? 404, "", "NR");
    case "no_healthy_upstream":
      return plain(503, "no healthy upstream", "UH");
    case "overflow":
      return {
        status: 503,
        body: `${RESET} overflow`,
        headers: [...PLAIN, ["x-envoy-overloaded", "true"]],
        flags: "UO",
      };
    case "timeout":
      return plain(504, "upstream request timeout", "UT");
    case "connect_failure":
      return plain(
        503,
        `${RESET} connection failure, transport failure reason: ${f.detail}`,
        "UF",
      );
    case "reset":
      return plain(
        503,
        `${RESET} connection termination, transport failure reason: ${f.detail}`,
        "UC",
      );
    case "unreachable":
      // One attempt, no route policy (passthrough, the local app): the error as it came.
      return plain(503, `${RESET} ${f.detail}`, "UF");
    case "bad_upstream_response":
      return plain(502, `upstream sent a response mesh can't forward: ${f.detail}`, "UPE");
    case "fault_abort":
      return plain(f.status, "fault filter abort", "FI");
    case "downstream_reset":
      // The client went away before the response: nobody reads this answer; the access log
      // and metrics record 499 with Envoy's DC (downstream connection termination).
      return plain(499, "downstream connection termination", "DC");
  }
}

/** `f` as a `Response` (the routed listeners); an empty body is none (gRPC's trailers-only). */
export function errorResponse(f: Failure, o: AnswerOptions = {}): Response {
  return answerResponse(failureAnswer(f, o));
}

/** An {@linkcode Answer} as a `Response`. */
export function answerResponse(a: Answer): Response {
  return new Response(a.body === "" ? null : a.body, { status: a.status, headers: a.headers });
}

/** How an attempt upstream failed before a response head. */
export type AttemptFailure = "connect" | "reset" | "timeout";

/**
 * Classifies an endpoint client's rejection: `timeout` when the attempt's own deadline
 * aborted it, `connect` when no connection was ever established (an error with
 * `connected === false`, as {@linkcode UpstreamError} has), `reset` otherwise.
 */
export function attemptFailure(err: unknown, timedOut: boolean): AttemptFailure {
  if (timedOut) return "timeout";
  const connected = err instanceof UpstreamError
    ? err.connected
    : (err as { connected?: unknown } | null)?.connected;
  return connected === false ? "connect" : "reset";
}

/** The failure an attempt that ended as `a` is answered with. */
export function attemptAnswer(a: AttemptFailure, err: unknown): Failure {
  const detail = (err as Error)?.message ?? String(err);
  return a === "timeout"
    ? { kind: "timeout" }
    : a === "connect"
    ? { kind: "connect_failure", detail }
    : { kind: "reset", detail };
}
