/**
 * Steps a listener may run on a request before routing it, each answering a
 * {@linkcode Failure} to refuse it: path normalization (MeshConfig `pathNormalization`),
 * request authentication (RequestAuthentication JWTs) and authorization (AuthorizationPolicy).
 * A gateway composes all three; the sidecar's outbound listener none (its destination's
 * inbound side authenticates and authorizes).
 *
 * @example
 * ```ts
 * const steps = [normalizePathStep, authenticateStep, authorizeStep];
 * const refused = await runSteps(steps, admission); // a Failure, or undefined: go on
 * ```
 * @module
 */
import type { HeaderChanges } from "../../api/proxy_config.ts";
import type { RequestAuth } from "../jwt.ts";
import type { Runtime } from "../runtime.ts";
import { normalizePath } from "../path_normalize.ts";
import type { Failure } from "../errors.ts";
import type { Exchange } from "./observe.ts";

/** A request on its way to routing, as the steps read and change it. */
export interface Admission {
  rt: Runtime;
  ex: Exchange;
  /** The client's address. */
  sourceIp: string;
  /** The request's one authority. */
  authority: string;
  /** The path (normalized by {@linkcode normalizePathStep}). */
  path: string;
  /** The listener's port. */
  port: number;
  scheme: "http" | "https";
  /** A verified token's identity (authorization matches it). */
  auth?: RequestAuth;
  /** A verified token's header changes (sent upstream). */
  authHeaders?: HeaderChanges;
}

/** One step: a failure refuses the request. */
export type AdmissionStep = (a: Admission) => Failure | undefined | Promise<Failure | undefined>;

/**
 * Runs `steps` in order until one refuses; synchronous while every step is (no promise for
 * a request no step waits on).
 */
export function runSteps(
  steps: readonly AdmissionStep[],
  a: Admission,
  from = 0,
): Failure | undefined | Promise<Failure | undefined> {
  for (let i = from; i < steps.length; i++) {
    const r = steps[i](a);
    if (r instanceof Promise) return r.then((f) => f ?? runSteps(steps, a, i + 1));
    if (r) return r;
  }
  return undefined;
}

/** The path normalized once, before authorization and routing; upstream gets the same path. */
export const normalizePathStep: AdmissionStep = (a) => {
  const n = normalizePath(a.path, a.rt.config.pathNormalization);
  if (n.reject !== undefined) return { kind: "bad_request", why: n.reject };
  a.path = a.ex.path = n.path;
  return undefined;
};

/** RequestAuthentication: a token must verify; it gives the request an identity. */
export const authenticateStep: AdmissionStep = (a) => {
  const jwt = a.rt.jwt;
  if (!jwt) return undefined;
  const h = a.ex.req.headers;
  return jwt.authenticate({ path: a.path, header: (n) => h.get(n) ?? undefined }).then(
    (out): Failure | undefined => {
      if (!out.ok) {
        return {
          kind: "jwt_denied",
          message: out.message,
          authority: a.authority,
          path: a.path,
          scheme: a.scheme,
        };
      }
      a.auth = out.auth;
      a.authHeaders = out.headers;
      return undefined;
    },
    (err): Failure => ({ kind: "authn_error", detail: (err as Error).message }),
  );
};

/**
 * The AuthorizationPolicies that select this proxy (a gateway's clients have no mesh
 * identity: principals and namespaces never match; a verified JWT gives a request one).
 */
export const authorizeStep: AdmissionStep = (a) => {
  const authorize = a.rt.authorize;
  if (!authorize) return undefined;
  const h = a.ex.req.headers;
  const decision = authorize({
    principal: "",
    sourceIp: a.sourceIp,
    host: a.authority,
    port: a.port,
    method: a.ex.req.method,
    path: a.path,
    header: (name) => name === "host" ? a.authority : h.get(name) ?? undefined,
    auth: a.auth,
  });
  return decision.allowed ? undefined : { kind: "rbac" };
};
