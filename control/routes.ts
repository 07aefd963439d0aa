/**
 * VirtualService → routes. Translates Istio HTTP routes into the pushed
 * {@linkcode Route} form, resolving short hosts, ports and subsets to cluster names.
 * @module
 */
import { GRPC_STATUS } from "../api/grpc_status.ts";
import type {
  HeaderChanges,
  HeaderOps,
  RetryPolicy,
  Route,
  RouteFault,
  RouteMatch,
  SniRoute,
  TcpDestination,
  VirtualHost,
  WeightedCluster,
} from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import { fqdn, hostAliases, hostMatches } from "../api/host.ts";
import type { HTTPMatchRequest, HTTPRoute, VirtualService } from "../api/resources.ts";
import type { StringMatch } from "../api/schemas/networking.ts";
import { resolveGatewayName } from "../api/schemas/http_route_checks.ts";
import type { HTTPRetry } from "../api/schemas/networking.ts";
import { durationMs as parseMs } from "../api/schemas/common.ts";

/** The longest timer the runtime keeps (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A duration in ms for a proxy timer: longer ones are capped (a timeout that
 * long is, in effect, none; see the callers).
 */
function durationMs(d: string | undefined): number | undefined {
  const ms = parseMs(d);
  return ms === undefined ? undefined : Math.min(ms, MAX_TIMER_MS);
}
import type { Service, ServiceRegistry } from "./registry.ts";
import { exportedTo } from "./visibility.ts";

/** Translates one Istio match into the pushed form. */
export function translateMatch(m: HTTPMatchRequest): RouteMatch {
  const out: RouteMatch = {};
  if (m.uri) out.uri = { ...m.uri };
  if (m.method) out.method = { ...m.method };
  if (m.authority) out.authority = { ...m.authority };
  if (m.port) out.port = m.port; // 0 is unset (proto3)
  if (m.headers) {
    out.headers = {};
    for (const [k, v] of Object.entries(m.headers)) out.headers[k.toLowerCase()] = { ...v };
  }
  if (m.withoutHeaders) {
    out.withoutHeaders = {};
    for (const [k, v] of Object.entries(m.withoutHeaders)) {
      // Istio: regex "*" in withoutHeaders is no pattern but "the header is present".
      out.withoutHeaders[k.toLowerCase()] = v.regex === "*" ? {} : { ...v };
    }
  }
  if (m.queryParams) {
    out.queryParams = {};
    for (const [k, v] of Object.entries(m.queryParams)) out.queryParams[k] = { ...v };
  }
  if (m.ignoreUriCase) out.ignoreUriCase = true;
  if (m.scheme) out.scheme = { ...m.scheme };
  return out;
}

/** The proxy a route table is generated for, for per-client match conditions. */
export interface RouteClient {
  namespace: string;
  labels: Record<string, string>;
  /** `namespace/name` of the Gateway being served; undefined for a sidecar (`mesh`). */
  gateway?: string;
}

/**
 * Whether a match's per-client conditions hold for `client`, as Istio decides
 * them when it generates each proxy's routes: `sourceLabels`,
 * `sourceNamespace` and the match's own `gateways` (which override the
 * VirtualService's; `mesh` stands for sidecars).
 */
export function matchesClient(
  m: Pick<HTTPMatchRequest, "sourceLabels" | "sourceNamespace" | "gateways">,
  client: RouteClient,
  vsNamespace: string,
): boolean {
  for (const [k, v] of Object.entries(m.sourceLabels ?? {})) {
    if (client.labels[k] !== v) return false;
  }
  if (m.sourceNamespace && m.sourceNamespace !== client.namespace) return false;
  if (m.gateways?.length) {
    const names = m.gateways.map((g) => resolveGatewayName(g, vsNamespace));
    if (!names.includes(client.gateway ?? "mesh")) return false;
  }
  return true;
}

/**
 * Translates the HTTP routes of `vs` for requests addressed to `port`
 * (`undefined` on gateways, where any port goes). Routes whose every match
 * names another port are left out, as Istio does.
 */
export function translateRoutes(
  vs: VirtualService,
  port: number | undefined,
  registry: ServiceRegistry,
  selfHost?: string,
  client?: RouteClient,
): Route[] {
  const ns = vs.metadata.namespace;
  const source = `${ns}/${vs.metadata.name}`;
  const routes: Route[] = [];
  for (const [i, http] of (vs.spec.http ?? []).entries()) {
    if (http.delegate) {
      // The delegate's routes take this route's place, their matches ANDed with its own;
      // a delegate route whose match conflicts with it is left out (Istio's merge).
      const d = registry.virtualService(http.delegate.name ?? "", http.delegate.namespace ?? ns);
      if (!d || d.spec.hosts.length) continue; // not a delegate VirtualService
      if (!exportedTo(d.spec.exportTo, d.metadata.namespace, ns)) continue; // not visible here
      // What the root route sets besides its match applies where the delegate's routes don't
      // set it (Istio's merge); the root's short gateway names keep meaning the root's.
      const {
        match: rootMatch,
        delegate: _d,
        name: _n,
        route: _r,
        redirect: _rd,
        directResponse: _dr,
        ...rootRest
      } = http;
      const qualified = rootMatch?.map((m) =>
        m.gateways
          ? {
            ...m,
            gateways: m.gateways.map((g) => resolveGatewayName(g, ns)),
          }
          : m
      );
      const merged: HTTPRoute[] = [];
      for (const dr of d.spec.http ?? []) {
        if (dr.delegate) continue; // one level only
        const match = mergeMatches(qualified, dr.match);
        if (match) merged.push({ ...rootRest, ...dr, match });
      }
      const expanded = { ...d, spec: { ...d.spec, hosts: vs.spec.hosts, http: merged } };
      routes.push(...translateRoutes(expanded, port, registry, selfHost, client));
      continue;
    }
    const matches = (http.match ?? []).filter((m) =>
      (port === undefined || !m.port || m.port === port) &&
      (client === undefined || matchesClient(m, client, ns))
    );
    if ((http.match ?? []).length > 0 && matches.length === 0) continue;
    const destinations = destinationsOf(http, ns, port, registry, selfHost);
    const acts = http.redirect !== undefined || http.directResponse !== undefined;
    if (destinations.length === 0 && !acts) continue;
    const route: Route = {
      source,
      name: http.name ?? `${vs.metadata.name}.${i}`,
      match: matches.map(translateMatch),
      destinations: acts ? [] : destinations,
    };
    if (http.redirect) {
      const rd = http.redirect;
      // Empty strings and port 0 are unset (proto3), as Istio reads them; code 0 is 301.
      route.redirect = { code: rd.redirectCode || 301 };
      if (rd.uri) route.redirect.uri = rd.uri;
      if (rd.prefixRewrite) route.redirect.prefixRewrite = rd.prefixRewrite;
      if (rd.authority) route.redirect.authority = rd.authority;
      if (rd.port) route.redirect.port = rd.port;
      if (rd.derivePort !== undefined) route.redirect.derivePort = rd.derivePort;
      if (rd.scheme) route.redirect.scheme = rd.scheme;
    } else if (http.directResponse) {
      const dr = http.directResponse;
      route.directResponse = { status: dr.status };
      const body = dr.body?.bytes ??
        (dr.body?.string !== undefined ? base64(dr.body.string) : undefined);
      if (body !== undefined) route.directResponse.bodyBase64 = body;
    }
    if (http.rewrite) {
      const rw = http.rewrite;
      route.rewrite = {};
      if (rw.uri) route.rewrite.uri = rw.uri; // "" is unset (proto3)
      if (rw.authority) route.rewrite.authority = rw.authority;
      if (rw.uriRegexRewrite?.match !== undefined && rw.uriRegexRewrite.rewrite !== undefined) {
        route.rewrite.regex = {
          match: rw.uriRegexRewrite.match,
          rewrite: rw.uriRegexRewrite.rewrite,
        };
      }
    }
    const headers = headerOps(http.headers);
    if (headers) route.headers = headers;
    const mirrors = mirrorsOf(http, ns, registry);
    if (mirrors.length) route.mirrors = mirrors;
    if (http.corsPolicy) {
      const c = http.corsPolicy;
      route.cors = {
        allowOrigins: [
          ...(c.allowOrigins ?? []).map((m) => ({ ...m })),
          ...(c.allowOrigin ?? []).map((o) => ({ exact: o })),
        ],
        unmatchedPreflights: c.unmatchedPreflights === "IGNORE" ? "IGNORE" : "FORWARD",
      };
      if (c.allowMethods) route.cors.allowMethods = [...c.allowMethods];
      if (c.allowHeaders) route.cors.allowHeaders = [...c.allowHeaders];
      if (c.exposeHeaders) route.cors.exposeHeaders = [...c.exposeHeaders];
      const maxAge = durationMs(c.maxAge);
      if (maxAge !== undefined) route.cors.maxAge = Math.floor(maxAge / 1000);
      if (c.allowCredentials !== undefined) route.cors.allowCredentials = c.allowCredentials;
    }
    const timeoutMs = durationMs(http.timeout);
    // Istio: a zero timeout means none; so, in effect, does one of weeks.
    if (timeoutMs && timeoutMs < MAX_TIMER_MS) route.timeoutMs = timeoutMs;
    const fault = translateFault(http);
    if (fault) route.fault = fault;
    route.retries = translateRetries(http, registry.mesh.defaultRetries);
    routes.push(route);
  }
  return routes;
}

/**
 * Istio's default retry policy for every HTTP route without `retries`: two
 * retries on connect failures and 503s (the rest is HTTP/2 and gRPC), on
 * another endpoint than the ones tried.
 */
export function defaultRetryPolicy(): RetryPolicy {
  return {
    attempts: 2,
    retryOn: [
      "connect-failure",
      "refused-stream",
      "unavailable",
      "cancelled",
      "retriable-status-codes",
    ],
    retriableStatusCodes: [503],
  };
}

/** VirtualService `retries` → {@linkcode RetryPolicy}, with Istio's defaults for what's unset. */
function translateRetries(http: HTTPRoute, meshDefault?: HTTPRetry): RetryPolicy {
  const r = http.retries ?? meshDefault;
  if (!r) return defaultRetryPolicy();
  const attempts = r.attempts ?? 0;
  if (attempts <= 0) return { attempts: 0, retryOn: [] };
  const out = defaultRetryPolicy();
  out.attempts = attempts;
  if (r.retryOn) {
    const conditions = r.retryOn.split(",").map((c) => c.trim()).filter((c) => c);
    const codes = conditions.filter((c) => /^\d{3}$/.test(c)).map(Number);
    out.retryOn = conditions.filter((c) => !/^\d{3}$/.test(c));
    out.retriableStatusCodes = codes;
    // Status codes alone imply retriable-status-codes, as Istio adds it.
    if (codes.length && !out.retryOn.includes("retriable-status-codes")) {
      out.retryOn.push("retriable-status-codes");
    }
  }
  const perTry = durationMs(r.perTryTimeout);
  if (perTry && perTry < MAX_TIMER_MS) out.perTryTimeoutMs = perTry;
  const backoff = durationMs(r.backoff);
  if (backoff) out.backoffMs = Math.min(backoff, MAX_TIMER_MS / 10);
  if (r.retryIgnorePreviousHosts === false) out.ignorePreviousHosts = false;
  return out;
}

/**
 * `mirror` (with `mirrorPercentage`, or the deprecated integer forms) and
 * `mirrors` → clusters and shares. As in Istio, a mirror without a
 * percentage gets every request.
 */
function mirrorsOf(
  http: HTTPRoute,
  ns: string,
  registry: ServiceRegistry,
): { cluster: string; percent: number }[] {
  const clusterOf = (d: { host: string; subset?: string; port?: { number?: number } }) => {
    const host = fqdn(d.host, ns);
    const svc = registry.service(host);
    const port = d.port?.number ?? svc?.ports[0]?.number ?? 80;
    return clusterName(port, d.subset, host);
  };
  const out: { cluster: string; percent: number }[] = [];
  if (http.mirror) {
    out.push({
      cluster: clusterOf(http.mirror),
      percent: http.mirrorPercentage?.value ?? http.mirrorPercent ?? http.mirror_percent ?? 100,
    });
  }
  for (const m of http.mirrors ?? []) {
    out.push({ cluster: clusterOf(m.destination), percent: m.percentage?.value ?? 100 });
  }
  return out;
}

function base64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function headerChanges(
  ops:
    | { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] }
    | undefined,
): HeaderChanges | undefined {
  if (!ops) return undefined;
  const lower = (m: Record<string, string>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
  const out: HeaderChanges = {};
  if (ops.set && Object.keys(ops.set).length) out.set = lower(ops.set);
  if (ops.add && Object.keys(ops.add).length) out.add = lower(ops.add);
  if (ops.remove?.length) out.remove = ops.remove.map((h) => h.toLowerCase());
  return out.set || out.add || out.remove ? out : undefined;
}

/** VirtualService `headers` → {@linkcode HeaderOps}, names lowercased; undefined when empty. */
function headerOps(h: HTTPRoute["headers"]): HeaderOps | undefined {
  if (!h) return undefined;
  const out: HeaderOps = {};
  const request = headerChanges(h.request);
  const response = headerChanges(h.response);
  if (request) out.request = request;
  if (response) out.response = response;
  return request || response ? out : undefined;
}

/**
 * VirtualService `fault` → {@linkcode RouteFault}. As in Istio (Envoy's fault
 * filter), a fault without `percentage` applies to no request; the deprecated
 * integer `percent` of a delay is honoured when `percentage` is absent. A gRPC
 * abort answers status 200 with its `grpc-status`.
 */
function translateFault(http: HTTPRoute): RouteFault | undefined {
  const f = http.fault;
  if (!f) return undefined;
  const out: RouteFault = {};
  const ms = durationMs(f.delay?.fixedDelay);
  if (f.delay && ms !== undefined) {
    out.delay = { ms, percent: f.delay.percentage?.value ?? f.delay.percent ?? 0 };
  }
  const percent = f.abort?.percentage?.value ?? 0;
  if (f.abort?.httpStatus !== undefined) {
    out.abort = { status: f.abort.httpStatus, percent };
  } else if (f.abort?.grpcStatus !== undefined) {
    const code = GRPC_STATUS[f.abort.grpcStatus];
    if (code !== undefined) out.abort = { status: 200, percent, grpcStatus: code };
  }
  return out.delay || out.abort ? out : undefined;
}

function destinationsOf(
  http: Pick<HTTPRoute, "route">,
  ns: string,
  port: number | undefined,
  registry: ServiceRegistry,
  selfHost: string | undefined,
): WeightedCluster[] {
  const out: WeightedCluster[] = [];
  const list = http.route ?? [];
  for (const d of list) {
    const host = fqdn(d.destination.host, ns);
    const svc = registry.service(host);
    const p = d.destination.port?.number ??
      (svc?.ports.length === 1 ? svc.ports[0].number : undefined) ??
      (host === selfHost ? port : undefined) ?? svc?.ports[0]?.number ?? port ?? 80;
    const weight = d.weight ?? (list.length === 1 ? 100 : 0);
    if (weight <= 0 && list.length > 1) continue;
    const w: WeightedCluster = {
      cluster: clusterName(p, d.destination.subset, host),
      weight: weight || 100,
    };
    const headers = headerOps(d.headers);
    if (headers) w.headers = headers;
    out.push(w);
  }
  return out;
}

/** The implicit route of a service without a VirtualService: all its endpoints. */
export function defaultRoute(svc: Service, port: number, meshDefault?: HTTPRetry): Route {
  return {
    source: "default",
    name: "default",
    match: [],
    destinations: [{ cluster: clusterName(port, undefined, svc.host), weight: 100 }],
    retries: meshDefault ? translateRetries({ retries: meshDefault }) : defaultRetryPolicy(),
  };
}

/** Whether a VirtualService applies to sidecars (the reserved `mesh` gateway). */
export function boundToMesh(vs: VirtualService): boolean {
  const gws = vs.spec.gateways;
  return !gws || gws.length === 0 || gws.includes("mesh");
}

/**
 * The outbound virtual hosts of a sidecar in `clientNamespace`: one per
 * service port, with domains for every name the client may use.
 */
export function sidecarVirtualHosts(
  registry: ServiceRegistry,
  virtualServices: readonly VirtualService[],
  clientNamespace: string,
  clientLabels: Record<string, string> = {},
  visible?: (svc: Service) => boolean,
): VirtualHost[] {
  const client: RouteClient = { namespace: clientNamespace, labels: clientLabels };
  const meshVs = virtualServices.filter((vs) =>
    boundToMesh(vs) && exportedTo(vs.spec.exportTo, vs.metadata.namespace, clientNamespace)
  );
  const out: VirtualHost[] = [];
  for (const svc of registry.services.values()) {
    if (!exportedTo(svc.exportTo, svc.namespace, clientNamespace)) continue;
    if (visible && !visible(svc)) continue;
    const vs = meshVs.find((v) =>
      v.spec.hosts.some((h) => hostMatches(fqdn(h, v.metadata.namespace), svc.host))
    );
    const aliases = hostAliases(svc.host, clientNamespace);
    for (const p of svc.ports) {
      const domains = aliases.map((a) => `${a}:${p.number}`);
      if (p.number === 80) domains.push(...aliases);
      let routes = vs ? translateRoutes(vs, p.number, registry, svc.host, client) : [];
      if (!vs) routes = [defaultRoute(svc, p.number, registry.mesh.defaultRetries)];
      out.push({ name: `${svc.host}:${p.number}`, domains, routes });
    }
  }
  return out;
}

/**
 * The `tcp` route weighted clusters of the first of `virtualServices` (mesh-bound ones) with
 * `tcp` routes for `host`, for connections to `port` from `client`; undefined without one.
 */
export function tcpRouteFor(o: {
  virtualServices: readonly VirtualService[];
  host: string;
  port: number;
  registry: ServiceRegistry;
  client: RouteClient;
}): TcpDestination[] | undefined {
  const vs = o.virtualServices.find((v) =>
    v.spec.tcp?.length && boundToMesh(v) &&
    v.spec.hosts.some((h) => hostMatches(fqdn(h, v.metadata.namespace), o.host))
  );
  return vs && tcpDestinations(vs, o.port, o.registry, o.host, o.client);
}

/**
 * The weighted clusters of the first `tcp` route of `vs` that matches connections to `port`
 * from `client` (its matches' `port`, `sourceLabels`, `sourceNamespace` and `gateways`);
 * undefined when none does.
 */
export function tcpDestinations(
  vs: VirtualService,
  port: number,
  registry: ServiceRegistry,
  selfHost: string | undefined,
  client: RouteClient,
): TcpDestination[] | undefined {
  const ns = vs.metadata.namespace;
  for (const r of vs.spec.tcp ?? []) {
    const matched = !r.match?.length ||
      r.match.some((m) => (!m.port || m.port === port) && matchesClient(m, client, ns));
    if (!matched) continue;
    const out = destinationsOf(r, ns, port, registry, selfHost)
      .map(({ cluster, weight }) => ({ cluster, weight }));
    return out.length ? out : undefined;
  }
  return undefined;
}

/**
 * The `tls` routes of `vs` for connections to `port` from `client`, each with its SNI hosts
 * (a match's `sniHosts`; its `port`, `sourceLabels`, `sourceNamespace` and `gateways` decided
 * here) and weighted clusters.
 */
export function sniRoutes(
  vs: VirtualService,
  port: number,
  registry: ServiceRegistry,
  client: RouteClient,
): SniRoute[] {
  const ns = vs.metadata.namespace;
  const out: SniRoute[] = [];
  for (const r of vs.spec.tls ?? []) {
    const hosts = r.match
      .filter((m) => (!m.port || m.port === port) && matchesClient(m, client, ns))
      .flatMap((m) => m.sniHosts.map((h) => h.toLowerCase()));
    if (!hosts.length) continue;
    const destinations = destinationsOf(r, ns, port, registry, undefined)
      .map(({ cluster, weight }) => ({ cluster, weight }));
    if (destinations.length) out.push({ sniHosts: [...new Set(hosts)], destinations });
  }
  return out;
}

/**
 * A root route's matches ANDed with a delegate route's (each pair merged; undefined when
 * every pair conflicts). A delegate's `uri` must lie within the root's; other conditions
 * must agree where both set them.
 */
export function mergeMatches(
  root: HTTPMatchRequest[] | undefined,
  delegate: HTTPMatchRequest[] | undefined,
): HTTPMatchRequest[] | undefined {
  if (!root?.length) return delegate ?? [];
  if (!delegate?.length) return root;
  const out: HTTPMatchRequest[] = [];
  for (const d of delegate) {
    // Each of the delegate route's matches must fit one of the root's, or the whole
    // delegate route is left out (Istio's rule).
    const fits = root.map((r) => mergeMatch(r, d)).filter((m): m is HTTPMatchRequest => !!m);
    if (!fits.length) return undefined;
    out.push(...fits);
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a delegate's `uri` match lies within the root's. */
function uriWithin(root: StringMatch, d: StringMatch): boolean {
  if (root.prefix !== undefined) {
    const v = d.exact ?? d.prefix;
    return v !== undefined && v.startsWith(root.prefix);
  }
  return sameJson(root, d);
}

function mergeMap<T>(
  a: Record<string, T> | undefined,
  b: Record<string, T> | undefined,
): Record<string, T> | undefined | null {
  if (!a) return b;
  if (!b) return a;
  for (const [k, v] of Object.entries(b)) if (k in a && !sameJson(a[k], v)) return null;
  return { ...a, ...b };
}

function mergeMatch(r: HTTPMatchRequest, d: HTTPMatchRequest): HTTPMatchRequest | undefined {
  const out: HTTPMatchRequest = { ...r, ...d };
  if (r.uri && d.uri && !uriWithin(r.uri, d.uri)) return undefined;
  for (const k of ["scheme", "method", "authority", "port", "sourceNamespace"] as const) {
    if (r[k] !== undefined && d[k] !== undefined && !sameJson(r[k], d[k])) return undefined;
  }
  for (const k of ["headers", "queryParams", "withoutHeaders", "sourceLabels"] as const) {
    const m = mergeMap<unknown>(r[k], d[k]);
    if (m === null) return undefined;
    if (m) (out as Record<string, unknown>)[k] = m;
  }
  if (r.uri && d.uri && !!r.ignoreUriCase !== !!d.ignoreUriCase) return undefined;
  if (r.ignoreUriCase || d.ignoreUriCase) out.ignoreUriCase = true;
  return out;
}
