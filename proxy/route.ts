/**
 * Pure route matching: a {@linkcode RouteTable} is compiled once when config
 * arrives, then answers "which cluster?" for each request without I/O and
 * without per-request allocation beyond the result.
 *
 * @example
 * ```ts
 * const table = new RouteTable(config.virtualHosts);
 * const hit = table.match({ authority: "reviews:9080", port: 9080, method: "GET", path: "/", header: () => undefined });
 * hit?.cluster; // "outbound|9080|v1|reviews.default.svc.cluster.local"
 * ```
 * @module
 */
import type {
  Route,
  RouteMatch,
  StringMatch,
  VirtualHost,
  WeightedCluster,
} from "../api/proxy_config.ts";
import { splitHostPort } from "../api/host.ts";
import { type Re2Translation, translateRe2 } from "../api/re2.ts";
import { logger } from "../util/log.ts";

const log = logger("route");

/** What route matching reads of a request. */
export interface RequestView {
  method: string;
  /** The request target's path, with query. */
  path: string;
  /** Host header or absolute-form authority, as sent. */
  authority: string;
  /** The authority's host, lowercase, without the port; derived from `authority` when absent. */
  host?: string;
  /** The destination port the client addressed (from the authority, or the listener's default). */
  port: number;
  /** A request header by lowercase name. */
  header(name: string): string | undefined;
  /** `http` or `https`; `http` when absent. */
  scheme?: string;
}

/** The first value of query parameter `name` in `path`, decoded; undefined when absent. */
export function queryParam(path: string, name: string): string | undefined {
  const q = path.indexOf("?");
  if (q < 0) return undefined;
  return new URLSearchParams(path.slice(q + 1)).get(name) ?? undefined;
}

/** The result of matching: the virtual host, the route and the picked cluster. */
export interface RouteHit {
  virtualHost: VirtualHost;
  route: Route;
  /** The picked cluster; "" for a route that answers itself (redirect, direct response). */
  cluster: string;
  /** The picked destination (for its header changes). */
  destination?: WeightedCluster;
  /** The match entry that matched, when the route rewrites the URI (its prefix is replaced). */
  matched?: RouteMatch;
}

type Pred = (req: RequestView) => boolean;

/** Translations of the config's RE2 regexes, by source; null for one that can't be. */
const re2Translations = new Map<string, Re2Translation | null>();
/** Past this many distinct regexes the cache starts over (config churn can't grow it). */
const RE2_CACHE_LIMIT = 4096;

/**
 * A regex from pushed config (RE2 syntax, as Envoy's `safe_regex`) as a JavaScript RegExp:
 * `full` for a full match (StringMatch), `global` for every match (`uriRegexRewrite`).
 * Undefined for one that isn't valid RE2 or can't be translated (config from an older or
 * foreign control plane): one warning names it and its match never matches; nothing throws,
 * so the rest of the config still applies.
 */
export function re2RegExp(re: string, mode: "full" | "global"): RegExp | undefined {
  let t = re2Translations.get(re);
  if (t === undefined) {
    t = translateRe2(re);
    if ("error" in t) {
      log.warn("a regex in the config is not valid RE2; its match never matches", {
        regex: re,
        error: t.error,
      });
      t = null;
    }
    if (re2Translations.size >= RE2_CACHE_LIMIT) re2Translations.clear();
    re2Translations.set(re, t);
  }
  if (t === null || "error" in t) return undefined;
  return mode === "full"
    ? new RegExp(`^(?:${t.source})$`, t.flags)
    : new RegExp(t.source, t.flags + "g");
}

/** Compiles a StringMatch into a predicate over a possibly-missing value. */
export function compileStringMatch(m: StringMatch): (value: string | undefined) => boolean {
  if (m.exact !== undefined) {
    const e = m.exact;
    return (v) => v === e;
  }
  if (m.prefix !== undefined) {
    const p = m.prefix;
    return (v) => v !== undefined && v.startsWith(p);
  }
  if (m.regex !== undefined) {
    const re = re2RegExp(m.regex, "full");
    if (!re) return () => false;
    return (v) => v !== undefined && re.test(v);
  }
  // An empty StringMatch matches presence, as Istio's header match with no value.
  return (v) => v !== undefined;
}

/** `path` without its query. */
export function stripQuery(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}

/**
 * How a header match reads its header: by lowercase name, or for the pseudo-headers Istio
 * matches (`:authority`, `:method`, `:path`, `:scheme`) from the request line; `:status`, and
 * names that can't be headers (JWT claim keys, which mesh doesn't route on), are never there.
 */
export function headerGetter(name: string): (r: RequestView) => string | undefined {
  switch (name) {
    case ":authority":
      return (r) => r.authority;
    case ":method":
      return (r) => r.method;
    case ":path":
      return (r) => r.path;
    case ":scheme":
      return (r) => r.scheme ?? "http";
    case ":status":
      return () => undefined;
  }
  // A name that can't be a header (an `@request.auth.claims...` key) is on no request.
  if (!/^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/.test(name)) return () => undefined;
  const lname = name.toLowerCase();
  return (r) => r.header(lname);
}

function compileMatch(m: RouteMatch): Pred {
  const preds: Pred[] = [];
  if (m.uri) {
    // ignoreUriCase: Envoy's case-insensitive exact and prefix path matches.
    const fold = m.ignoreUriCase === true && m.uri.regex === undefined;
    const f = compileStringMatch(
      fold
        ? Object.fromEntries(Object.entries(m.uri).map(([k, v]) => [k, v.toLowerCase()]))
        : m.uri,
    );
    // Envoy matches exact and regex paths without the query string, prefixes on the whole path.
    const prefix = m.uri.prefix !== undefined;
    preds.push(
      fold
        ? (r) => f((prefix ? r.path : stripQuery(r.path)).toLowerCase())
        : prefix
        ? (r) => f(r.path)
        : (r) => f(stripQuery(r.path)),
    );
  }
  if (m.method) {
    const f = compileStringMatch(m.method);
    preds.push((r) => f(r.method));
  }
  if (m.authority) {
    const f = compileStringMatch(m.authority);
    preds.push((r) => f(r.authority));
  }
  if (m.port !== undefined) {
    const port = m.port;
    preds.push((r) => r.port === port);
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const f = compileStringMatch(sm);
    const get = headerGetter(name);
    preds.push((r) => f(get(r)));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    // A regex that can't be used fails the whole match, not just its header test: the
    // inverted test would otherwise let every request through.
    if (sm.regex !== undefined && !re2RegExp(sm.regex, "full")) return () => false;
    const f = compileStringMatch(sm);
    const get = headerGetter(name);
    preds.push((r) => !f(get(r)));
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    // Istio: an empty exact value tests that the parameter is present.
    const f = sm.exact === "" ? (v: string | undefined) => v !== undefined : compileStringMatch(sm);
    preds.push((r) => f(queryParam(r.path, name)));
  }
  if (m.scheme) {
    const f = compileStringMatch(m.scheme);
    preds.push((r) => f(r.scheme ?? "http"));
  }
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0];
  return (r) => {
    for (const p of preds) if (!p(r)) return false;
    return true;
  };
}

/** Picks a destination by weight given a number in [0, 1); undefined when there is none. */
export function pickDestination<D extends { weight: number }>(
  dests: D[],
  rand: number,
): D | undefined {
  if (dests.length <= 1) return dests[0];
  let total = 0;
  for (const d of dests) total += d.weight;
  let x = rand * total;
  for (const d of dests) {
    if (x < d.weight) return d;
    x -= d.weight;
  }
  return dests[dests.length - 1];
}

interface CompiledRoute {
  route: Route;
  match: Pred;
  /** One predicate per match entry, to tell which matched (for URI rewrites). */
  each: Pred[];
}

interface CompiledHost {
  vh: VirtualHost;
  routes: CompiledRoute[];
}

/** Virtual hosts indexed by domain, with their routes compiled. */
export class RouteTable {
  #exact = new Map<string, CompiledHost>();
  #wildcards: Array<{ suffix: string; withPort: boolean; host: CompiledHost }> = [];
  #catchAll?: CompiledHost;

  constructor(virtualHosts: VirtualHost[]) {
    for (const vh of virtualHosts) {
      const compiled: CompiledHost = {
        vh,
        routes: vh.routes.map((route) => {
          const each = route.match.map(compileMatch);
          const match: Pred = each.length === 0
            ? () => true
            : each.length === 1
            ? each[0]
            : (r) => each.some((p) => p(r));
          return { route, each, match };
        }),
      };
      for (const d of vh.domains) {
        const domain = d.toLowerCase();
        if (domain === "*") {
          this.#catchAll ??= compiled;
        } else if (domain.startsWith("*")) {
          this.#wildcards.push({
            suffix: domain.slice(1),
            withPort: domain.includes(":"),
            host: compiled,
          });
        } else if (!this.#exact.has(domain)) {
          this.#exact.set(domain, compiled);
        }
      }
    }
    // Longest wildcard suffix first, as Envoy's most specific match.
    this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  #findHost(host: string, port: number): CompiledHost | undefined {
    const withPort = `${host}:${port}`;
    const hit = this.#exact.get(withPort) ?? this.#exact.get(host);
    if (hit) return hit;
    for (const w of this.#wildcards) {
      if ((w.withPort ? withPort : host).endsWith(w.suffix)) return w.host;
    }
    return this.#catchAll;
  }

  /** The virtual host for an authority, if any. */
  virtualHost(authority: string, port: number): VirtualHost | undefined {
    return this.#findHost(splitHostPort(authority).host, port)?.vh;
  }

  /**
   * Matches a request: `undefined` when no virtual host takes its authority,
   * `null` when one does but none of its routes match (a 404).
   */
  match(req: RequestView, rand: number = Math.random()): RouteHit | null | undefined {
    const h = this.#findHost(req.host ?? splitHostPort(req.authority).host, req.port);
    if (!h) return undefined;
    for (const cr of h.routes) {
      if (cr.match(req)) {
        const destination = pickDestination(cr.route.destinations, rand);
        const hit: RouteHit = {
          virtualHost: h.vh,
          route: cr.route,
          cluster: destination?.cluster ?? "",
          destination,
        };
        if (cr.route.rewrite?.uri !== undefined || cr.route.redirect?.prefixRewrite !== undefined) {
          const i = cr.each.findIndex((p) => p(req));
          if (i >= 0) hit.matched = cr.route.match[i];
        }
        return hit;
      }
    }
    return null;
  }
}
