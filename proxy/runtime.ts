/**
 * A pushed config compiled for serving: route tables and balancers built once
 * when the config arrives, so the request path only looks things up.
 *
 * @example
 * ```ts
 * const rt = Runtime.compile(config); // throws on config it can't serve (the proxy NACKs it)
 * rt.outbound.match(req);
 * ```
 * @module
 */
import type { Cluster, Endpoint, NameEntry, ProxyConfig } from "../api/proxy_config.ts";
import { RouteTable } from "./route.ts";
import { Balancer } from "./balancer.ts";
import type { LocalNode } from "./locality.ts";
import { type AuthzDecision, type AuthzRequest, compileAuthz } from "./authz.ts";
import { JwtAuthenticator } from "./jwt.ts";
import { logger } from "../util/log.ts";
import type { Origination } from "./forward.ts";

/** Serving state derived from one config. */
export class Runtime {
  readonly config: ProxyConfig;
  readonly outbound: RouteTable;
  /** Gateway route tables by listener port. */
  readonly gateway: Map<number, RouteTable>;
  /** Route tables of Sidecar HTTP egress listeners, by port. */
  readonly egress: Map<number, RouteTable>;
  readonly balancers: Map<string, Balancer>;
  /**
   * The inbound authorization decision (AuthorizationPolicies that select this
   * workload); undefined when none does, so the request path skips it.
   */
  readonly authorize?: (r: AuthzRequest) => AuthzDecision;
  /** Request authentication (RequestAuthentications that select this proxy); none without. */
  readonly jwt?: JwtAuthenticator;
  /** The name table's services by address (a captured connection's destination). */
  readonly byAddress: Map<string, NameEntry>;

  private constructor(config: ProxyConfig, local?: LocalNode) {
    if (config.authz?.length) this.authorize = logDryRuns(compileAuthz(config.authz));
    if (config.jwt?.length) this.jwt = new JwtAuthenticator(config.jwt);
    this.config = config;
    this.outbound = new RouteTable(config.virtualHosts);
    this.gateway = new Map(config.listeners.map((l) => [l.port, new RouteTable(l.virtualHosts)]));
    this.egress = new Map(
      (config.egressListeners ?? []).filter((l) => l.virtualHosts)
        .map((l) => [l.port, new RouteTable(l.virtualHosts!)]),
    );
    this.byAddress = new Map();
    for (const e of config.names ?? []) {
      for (const a of e.addresses) if (!this.byAddress.has(a)) this.byAddress.set(a, e);
    }
    this.balancers = new Map();
    for (const [name, cluster] of Object.entries(config.clusters)) {
      // A random start spreads proxies over endpoints instead of all hitting the first.
      // Locality load balancing orders endpoints from this proxy's locality and labels.
      const b = new Balancer(cluster, Math.floor(Math.random() * 1024), local);
      // A consistent-hash ring is built here, when config arrives, not by a request.
      if (cluster.hash) b.pickByKey("");
      this.balancers.set(name, b);
    }
  }

  /** Every endpoint of every cluster, with its TLS origination (for pruning connection pools). */
  *endpoints(): Iterable<[Endpoint, Origination | undefined]> {
    for (const c of Object.values(this.config.clusters)) {
      const o = originationOf(c);
      for (const ep of c.endpoints) yield [ep, o];
    }
  }

  /**
   * Compiles a config; throws with a message naming the bad part. `local` is this proxy's
   * locality and labels (`--locality`, `--labels`), for locality load balancing.
   */
  static compile(config: ProxyConfig, local?: LocalNode): Runtime {
    return new Runtime(config, local);
  }
}

const originations = new WeakMap<Cluster, Origination>();

/** A cluster's TLS origination (DestinationRule SIMPLE or MUTUAL), made once per config. */
export function originationOf(c: Cluster): Origination | undefined {
  if (!c.tls) return undefined;
  let o = originations.get(c);
  if (!o) originations.set(c, o = { tls: c.tls, host: c.host });
  return o;
}

const dryRunLog = logger("authz");

/**
 * Logs what dry-run AuthorizationPolicies would have decided (`istio.io/dry-run`; Istio records
 * it as the RBAC filter's shadow result): a would-be denial at info, a would-be allow at debug.
 */
function logDryRuns(
  authorize: (r: AuthzRequest) => AuthzDecision,
): (r: AuthzRequest) => AuthzDecision {
  return (r) => {
    const decision = authorize(r);
    for (const d of decision.dryRun ?? []) {
      const fields = {
        action: d.action,
        policy: d.policy ?? "(none matched)",
        principal: r.principal || "(none)",
        source: r.sourceIp,
        ...(r.tcp ? { tcp: true } : { method: r.method, path: r.path.split("?")[0] }),
      };
      if (d.allowed) dryRunLog.debug("dry-run policy would allow", fields);
      else dryRunLog.info("dry-run policy would deny", fields);
    }
    return decision;
  };
}
