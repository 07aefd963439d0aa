/**
 * The concrete stage: a routed request to one cluster (the backend its route picked), across
 * that cluster's endpoints. It picks an endpoint (balancing, outlier ejection, consistent
 * hashing, original destination), admits the attempt through the cluster's circuit breaker,
 * bounds it by the route's timeout and per-try timeout, retries what the route's policy says
 * with jittered backoff, reports outcomes to outlier detection, and mirrors. It sends through
 * an {@linkcode EndpointClient} (the endpoint stage) and reads time from a {@linkcode Clock},
 * so it is tested in process against a fake upstream and a fake clock.
 *
 * It answers an upstream response (its body released to the breaker when it ends, and cut off
 * at the route deadline) or a {@linkcode Failure}; the logical stage turns either into the
 * client's response.
 *
 * @example
 * ```ts
 * const concrete = new ConcreteStage({ endpoints, clusters, clock: realClock, balancer });
 * const out = await concrete.send({ lb, route, method: "GET", path: "/", headers, body: null });
 * if (!out.ok) return errorResponse(out.failure);
 * ```
 * @module
 */
import type { Cluster, Endpoint, Route } from "../../api/proxy_config.ts";
import type { Balancer } from "../balancer.ts";
import {
  backoffMs,
  type CompiledRetry,
  compileRetryPolicy,
  retriableFailure,
  retriableResponse,
} from "../retry.ts";
import { originationOf } from "../runtime.ts";
import { isOwnListener } from "../loop.ts";
import { attemptAnswer, attemptFailure, type Failure } from "../errors.ts";
import type { EndpointClient, EndpointResponse } from "./endpoint.ts";
import type { ClusterStates } from "./clusters.ts";
import { type Clock, sleep } from "../../util/clock.ts";
import { originalDestination, pickEndpoint } from "./pick.ts";
import { onEnd, untilDeadline } from "./bodies.ts";
import { mirror } from "./mirror.ts";

/** Request bodies up to this size are buffered so that a retry or a mirror can send them again. */
export const MAX_REPLAY_BYTES = 64 * 1024;

/** What the concrete stage works with. */
export interface ConcreteContext {
  endpoints: EndpointClient;
  clusters: ClusterStates;
  clock: Clock;
  /** Random draws in [0, 1) (balancing, backoff jitter, mirror shares). */
  random?: () => number;
  /** A cluster's balancer in the config serving now (mirror clusters). */
  balancer(name: string): Balancer | undefined;
}

/** A request for one cluster, its headers final (the logical stage's changes made). */
export interface ConcreteRequest {
  /** The cluster's balancer; undefined when the config has no such cluster. */
  lb: Balancer | undefined;
  /** The route (retries, timeouts, mirrors). */
  route: Route;
  method: string;
  path: string;
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** The body's length (`content-length`), when known. */
  length?: number;
  /** The consistent-hash key, for a cluster that hashes. */
  hashKey?: string;
  /**
   * The authority the client asked for, before a rewrite: where an original-destination
   * cluster sends. Without it such a cluster has no endpoint (a gateway refuses them).
   */
  originalAuthority?: string;
  /** This proxy's listener ports: an endpoint outside the mesh on one of them is a loop. */
  ownPorts?: readonly number[];
  /** The request asks for a protocol upgrade (never mirrored). */
  upgrade?: boolean;
  /** The client spoke HTTP/2 (a `CLIENT`-protocol cluster keeps it). */
  downstreamHttp2?: boolean;
  /**
   * A gRPC request's `grpc-timeout` (ms): it replaces the route timeout, capped by it, as
   * Envoy does with the `max_grpc_timeout` Istio sets to the route's timeout.
   */
  grpcTimeoutMs?: number;
  /**
   * Aborted when the client went away (reset its stream, closed its connection): the attempt
   * in flight is cancelled upstream (RST_STREAM CANCEL, or its connection closed) and nothing
   * is retried.
   */
  signal?: AbortSignal;
}

/** What the concrete stage answers. */
export type ConcreteResult =
  | { ok: true; res: EndpointResponse; ep: Endpoint }
  | { ok: false; failure: Failure; ep?: Endpoint };

const compiledRetries = new WeakMap<Route, CompiledRetry>();
function retryOf(route: Route): CompiledRetry {
  let p = compiledRetries.get(route);
  if (!p) compiledRetries.set(route, p = compileRetryPolicy(route.retries));
  return p;
}

/** The concrete stage over a cluster's endpoints. */
export class ConcreteStage {
  #c: ConcreteContext;
  constructor(ctx: ConcreteContext) {
    this.#c = ctx;
  }

  /**
   * Sends `r` to its cluster: the route timeout covers the whole exchange until the response
   * head (retries included) and, for a streamed body, its end; a request whose body can't be
   * replayed (streamed, or over {@linkcode MAX_REPLAY_BYTES}) is tried once.
   */
  async send(r: ConcreteRequest): Promise<ConcreteResult> {
    const { clock, endpoints, clusters } = this.#c;
    const random = this.#c.random ?? Math.random;
    const route = r.route;
    const policy = retryOf(route);
    let body = r.body;
    const keep = policy.attempts > 0 || route.mirrors !== undefined;
    if (
      body instanceof ReadableStream && keep && r.length !== undefined &&
      r.length <= MAX_REPLAY_BYTES
    ) {
      body = new Uint8Array(await new Response(body).arrayBuffer());
    }
    const replayable = !(body instanceof ReadableStream);
    if (route.mirrors && !(body instanceof ReadableStream) && !r.upgrade) {
      mirror({ endpoints, balancer: this.#c.balancer, random }, {
        mirrors: route.mirrors,
        method: r.method,
        path: r.path,
        headers: r.headers,
        body,
      });
    }
    const lb = r.lb;
    const timeoutMs = effectiveTimeout(route.timeoutMs, r.grpcTimeoutMs);
    const deadline = timeoutMs !== undefined ? clock.now() + timeoutMs : undefined;
    const tried: Endpoint[] = [];
    for (let attempt = 0;; attempt++) {
      const ep = lb?.cluster.originalDst
        ? (r.originalAuthority === undefined
          ? undefined
          : originalDestination(r.originalAuthority, lb.cluster))
        : lb && pickEndpoint(lb, {
          tried,
          avoidTried: policy.ignorePreviousHosts,
          outliers: clusters.outliers,
          hashKey: r.hashKey,
          random,
        });
      if (!ep || !lb) return { ok: false, failure: { kind: "no_healthy_upstream" } };
      if (!ep.sidecar && !ep.mtls && r.ownPorts && isOwnListener(ep.address, ep.port, r.ownPorts)) {
        return {
          ok: false,
          ep,
          failure: {
            kind: "loop",
            why: `the endpoint ${ep.address}:${ep.port} is this proxy's own listener`,
          },
        };
      }
      tried.push(ep);
      const cluster = lb.cluster;
      // Circuit breaking: wait for a slot, or fail at once past the pending limit.
      const slot = clusters.breakers.acquire(cluster);
      if (slot === undefined) return { ok: false, ep, failure: { kind: "overflow" } };
      const slotRelease = typeof slot === "function" ? slot : await slot;
      const done = cluster.lb === "LEAST_REQUEST" ? lb.begin(ep) : undefined;
      const release = done
        ? () => {
          slotRelease();
          done();
        }
        : slotRelease;
      // Held until the body ends: a streamed body keeps its slot and LEAST_REQUEST count, as
      // Envoy counts a request until its stream is done.
      const holds = cluster.limits !== undefined || done !== undefined;
      let limit = policy.perTryTimeoutMs;
      if (deadline !== undefined) {
        const left = deadline - clock.now();
        if (left <= 0) {
          // The route timeout passed while waiting for a slot: don't send, don't blame the endpoint.
          release();
          return { ok: false, ep, failure: { kind: "timeout" } };
        }
        limit = limit === undefined ? left : Math.min(limit, left);
      }
      if (r.signal?.aborted) {
        release();
        return { ok: false, ep, failure: { kind: "downstream_reset" } };
      }
      const abort = limit !== undefined ? new AbortController() : undefined;
      const timer = abort ? clock.setTimeout(() => abort.abort(), limit!) : undefined;
      // The attempt ends when its time is up or the client is gone, whichever comes first
      // (a listener, removed after the attempt: `AbortSignal.any` would leave a dependent
      // signal on a connection's long-lived one for every request).
      const clientLeft = abort && r.signal ? () => abort.abort() : undefined;
      if (clientLeft) r.signal!.addEventListener("abort", clientLeft, { once: true });
      const signal = abort?.signal ?? r.signal;
      // Retry only while attempts and time remain; the backoff must fit before the deadline.
      const retryAfter = (): number | undefined => {
        if (!replayable || attempt >= policy.attempts) return undefined;
        const wait = backoffMs(policy, attempt + 1, random);
        if (deadline !== undefined && clock.now() + wait >= deadline) return undefined;
        return wait;
      };
      let res: EndpointResponse;
      try {
        res = await endpoints.send({
          method: r.method,
          path: r.path,
          headers: r.headers,
          body,
          length: body instanceof Uint8Array ? body.length : r.length,
        }, {
          endpoint: ep,
          origination: originationOf(cluster),
          connectTimeoutMs: cluster.connectTimeoutMs,
          maxRequestsPerConnection: cluster.limits?.maxRequestsPerConnection,
          maxStreamsPerConnection: cluster.limits?.maxConcurrentStreams,
          ...(upstreamHttp2(cluster, r) ? { protocol: "http2" as const } : {}),
        }, signal);
        clock.clearTimeout(timer);
        if (clientLeft) r.signal!.removeEventListener("abort", clientLeft);
        if (res.full || !holds) release();
      } catch (err) {
        clock.clearTimeout(timer);
        if (clientLeft) r.signal!.removeEventListener("abort", clientLeft);
        release();
        if (r.signal?.aborted) return { ok: false, ep, failure: { kind: "downstream_reset" } };
        const failure = attemptFailure(err, abort?.signal.aborted === true);
        clusters.outliers.report(cluster, ep, failure);
        if (retriableFailure(policy, failure)) {
          const wait = retryAfter();
          if (wait !== undefined) {
            await sleep(clock, wait);
            continue;
          }
        }
        return { ok: false, ep, failure: attemptAnswer(failure, err) };
      }
      clusters.outliers.report(cluster, ep, res.status);
      if (retriableResponse(policy, res.status, res.headers)) {
        const wait = retryAfter();
        if (wait !== undefined) {
          if (!res.full) await res.body.cancel().catch(() => {});
          release();
          await sleep(clock, wait);
          continue;
        }
      }
      if (!res.full && holds) res = { ...res, body: onEnd(res.body, release) };
      // The route timeout covers the whole response, as Envoy's: a body still streaming at the
      // deadline is cut off (the client sees the response reset). An upgrade's tunnel isn't.
      if (!res.full && !res.upgrade && deadline !== undefined) {
        res = { ...res, body: untilDeadline(res.body, { ms: deadline - clock.now(), clock }) };
      }
      return { ok: true, res, ep };
    }
  }
}

/** The route timeout, or a gRPC request's `grpc-timeout` capped by it. */
export function effectiveTimeout(
  routeMs: number | undefined,
  grpcMs: number | undefined,
): number | undefined {
  if (grpcMs === undefined) return routeMs;
  return routeMs === undefined ? grpcMs : Math.min(routeMs, grpcMs);
}

/**
 * HTTP/2 upstream: the cluster says so (`HTTP2`), or keeps the client's version (`CLIENT`)
 * and the client spoke HTTP/2. An upgrade request (WebSocket) then goes as an extended
 * CONNECT (RFC 8441), or as HTTP/1.1 when the peer doesn't announce it (`h2_endpoint.ts`).
 */
export function upstreamHttp2(
  cluster: Pick<Cluster, "protocol">,
  r: Pick<ConcreteRequest, "downstreamHttp2">,
): boolean {
  return cluster.protocol === "HTTP2" || (cluster.protocol === "CLIENT" && !!r.downstreamHttp2);
}
