/**
 * Request authentication (Istio's RequestAuthentication, Envoy's `jwt_authn`):
 * finds JWTs in a request, verifies them against the configured issuers'
 * key sets, and turns a valid one into the request identity that
 * AuthorizationPolicies match (`requestPrincipals` = `iss/sub`,
 * `request.auth.*`). A request without a token goes on with no identity; a
 * request with a token that doesn't verify gets 401, with Envoy's messages.
 *
 * jose is loaded on first use, so a proxy without JWT rules never loads it.
 *
 * @example
 * ```ts
 * const jwt = new JwtAuthenticator(config.jwt!);
 * const out = await jwt.authenticate({ path: "/a", header: (n) => headers.get(n) ?? undefined });
 * if (!out.ok) return new Response(out.message, { status: 401 });
 * ```
 * @module
 */
import type { HeaderChanges, JwtProvider } from "../api/proxy_config.ts";

/** The identity a verified token gives a request. */
export interface RequestAuth {
  /** `iss/sub`; none when the token has no `sub` (as Istio). */
  principal?: string;
  audiences: string[];
  /** The `azp` claim. */
  presenter?: string;
  claims: Record<string, unknown>;
  /** Claims whose string value is a space-separated list. */
  spaceDelimited: ReadonlySet<string>;
}

/** What authentication decided. */
export type JwtOutcome =
  | { ok: true; auth?: RequestAuth; headers?: HeaderChanges }
  | { ok: false; message: string };

/** The parts of a request authentication reads. */
export interface JwtRequest {
  /** The path with query. */
  path: string;
  /** A header's value; several values of one header joined with `,`. */
  header(name: string): string | undefined;
}

/** Clock skew allowed on `exp` and `nbf`, as Envoy's default. */
export const CLOCK_SKEW_S = 60;

/** Headers a claim or payload may never be copied into (framing, routing, identity). */
const RESERVED_OUTPUT = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-connection",
  "x-forwarded-client-cert",
]);

const MALFORMED = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";

type Jose = typeof import("jose");
let jose: Promise<Jose> | undefined;
function loadJose(): Promise<Jose> {
  return jose ??= import("jose");
}

interface Location {
  kind: "header" | "param" | "cookie";
  name: string;
  prefix?: string;
}

interface CompiledProvider {
  p: JwtProvider;
  jwks: { keys: unknown[] };
  keySet?: ReturnType<Jose["createLocalJWKSet"]>;
  locations: Location[];
  spaceDelimited: ReadonlySet<string>;
}

const DEFAULT_LOCATIONS: Location[] = [
  { kind: "header", name: "authorization", prefix: "Bearer " },
  { kind: "param", name: "access_token" },
];

function locationsOf(p: JwtProvider): Location[] {
  const out: Location[] = [];
  for (const h of p.fromHeaders ?? []) {
    out.push({ kind: "header", name: h.name.toLowerCase(), prefix: h.prefix || undefined });
  }
  for (const name of p.fromParams ?? []) out.push({ kind: "param", name });
  for (const name of p.fromCookies ?? []) out.push({ kind: "cookie", name });
  return out.length ? out : DEFAULT_LOCATIONS;
}

/** Prefixes of `authorization` are schemes, matched without regard to case. */
function foldPrefix(l: Location): string | undefined {
  return l.name === "authorization" ? l.prefix?.toLowerCase() : l.prefix;
}

function sameLocation(a: Location, b: Location): boolean {
  return a.kind === b.kind && a.name === b.name && foldPrefix(a) === foldPrefix(b);
}

/**
 * Every token the request carries at `loc` (an empty value counts: it is a token that
 * doesn't verify). A header is split at commas (its values joined); a part is a token when
 * it starts with the location's prefix.
 */
export function tokensAt(req: JwtRequest, loc: Location): string[] {
  if (loc.kind === "header") {
    const v = req.header(loc.name);
    if (v === undefined) return [];
    if (!loc.prefix) return [v.trim()];
    const prefix = foldPrefix(loc)!;
    const out: string[] = [];
    for (const part of v.split(",")) {
      const t = part.trim();
      const head = loc.name === "authorization" ? t.slice(0, prefix.length).toLowerCase() : t;
      if (head.startsWith(prefix) || (prefix.endsWith(" ") && head === prefix.trimEnd())) {
        out.push(t.slice(prefix.length).trim());
      }
    }
    return out;
  }
  if (loc.kind === "param") {
    const q = req.path.indexOf("?");
    if (q < 0) return [];
    const hash = req.path.indexOf("#", q);
    return new URLSearchParams(req.path.slice(q + 1, hash < 0 ? undefined : hash)).getAll(loc.name);
  }
  const cookie = req.header("cookie");
  if (!cookie) return [];
  const out: string[] = [];
  for (const part of cookie.split(/[;,]/)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === loc.name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** The unverified `iss` of a compact JWS, or undefined when it isn't one. */
function unverifiedIssuer(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(new TextDecoder().decode(
      Uint8Array.from(atob(b64 + "=".repeat((4 - b64.length % 4) % 4)), (c) => c.charCodeAt(0)),
    ));
    return typeof json?.iss === "string" ? json.iss : undefined;
  } catch {
    return undefined;
  }
}

/** A key set as JWKS JSON text or a single JWK; throws naming the issuer when it is neither. */
function parseKeySet(issuer: string, text: string): { keys: unknown[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`jwt issuer ${issuer}: jwks is not JSON: ${(err as Error).message}`);
  }
  const obj = parsed as { keys?: unknown; kty?: unknown } | null;
  if (obj && typeof obj === "object" && typeof obj.kty === "string") return { keys: [obj] };
  if (!obj || !Array.isArray(obj.keys)) {
    throw new Error(`jwt issuer ${issuer}: jwks has no "keys" array`);
  }
  // Entries that aren't keys can't verify anything; leaving them out keeps the rest usable.
  return {
    keys: obj.keys.filter((k) =>
      typeof k === "object" && k !== null && typeof (k as { kty?: unknown }).kty === "string"
    ),
  };
}

/** A header value a claim may become: text without control characters. */
function headerValue(v: unknown): string | undefined {
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return undefined;
  const s = String(v);
  // deno-lint-ignore no-control-regex
  return /[\x00-\x1f\x7f]/.test(s) ? undefined : s;
}

/** Verifies requests' JWTs against a proxy's RequestAuthentication rules. */
export class JwtAuthenticator {
  readonly #providers: CompiledProvider[];
  /** Every location any provider reads, each once. */
  readonly #locations: Location[] = [];
  /**
   * Headers the proxy writes from tokens: removed from every request first, so a client
   * can't send them itself.
   */
  readonly #outputs: string[];

  /** Compiles the rules; throws when a key set isn't a JWKS or a JWK. */
  constructor(providers: JwtProvider[]) {
    const outputs = new Set<string>();
    this.#providers = providers.map((p) => {
      const locations = locationsOf(p);
      for (const l of locations) {
        if (!this.#locations.some((x) => sameLocation(x, l))) this.#locations.push(l);
      }
      if (p.outputPayloadToHeader) outputs.add(p.outputPayloadToHeader.toLowerCase());
      for (const o of p.outputClaimToHeaders ?? []) outputs.add(o.header.toLowerCase());
      return {
        p,
        jwks: parseKeySet(p.issuer, p.jwks),
        locations,
        spaceDelimited: new Set(["scope", "permission", ...(p.spaceDelimitedClaims ?? [])]),
      };
    });
    this.#outputs = [...outputs].filter((h) => !RESERVED_OUTPUT.has(h));
  }

  /**
   * Finds the request's tokens and verifies them: one valid token is enough (Istio's rules
   * are alternatives) and gives the request its identity; tokens present but none valid
   * get a 401.
   */
  async authenticate(req: JwtRequest): Promise<JwtOutcome> {
    const found: { token: string; loc: Location }[] = [];
    for (const loc of this.#locations) {
      for (const token of tokensAt(req, loc)) found.push({ token, loc });
    }
    const remove = [...this.#outputs];
    if (found.length === 0) return remove.length ? { ok: true, headers: { remove } } : { ok: true };
    let failure: string | undefined;
    let winner: { claims: Record<string, unknown>; c: CompiledProvider; token: string } | undefined;
    for (const { token, loc } of found) {
      const iss = token === "" ? undefined : unverifiedIssuer(token);
      if (iss === undefined) {
        failure ??= MALFORMED;
        continue;
      }
      const candidates = this.#providers.filter((c) =>
        (c.p.issuer === "" || c.p.issuer === iss) && c.locations.some((l) => sameLocation(l, loc))
      );
      if (!candidates.length) failure ??= "Jwt issuer is not configured";
      for (const c of candidates) {
        const verified = await verify(c, token);
        if (typeof verified === "string") failure ??= verified;
        else {
          winner = { claims: verified, c, token };
          break;
        }
      }
      if (winner) break;
    }
    if (!winner) return { ok: false, message: failure ?? "Jwt verification fails" };
    const { claims, c, token } = winner;
    // The token headers go unless the provider that verified it forwards the original.
    if (!c.p.forwardOriginalToken) {
      for (const { loc } of found) {
        if (loc.kind === "header" && !remove.includes(loc.name)) remove.push(loc.name);
      }
    }
    const set: Record<string, string> = {};
    const out = (name: string, v: unknown) => {
      const h = name.toLowerCase();
      const value = headerValue(v);
      if (!RESERVED_OUTPUT.has(h) && value !== undefined) set[h] = value;
    };
    if (c.p.outputPayloadToHeader) out(c.p.outputPayloadToHeader, token.split(".")[1]);
    for (const o of c.p.outputClaimToHeaders ?? []) out(o.header, claimAt(claims, o.claim));
    const headers: HeaderChanges = {};
    if (remove.length) headers.remove = remove;
    if (Object.keys(set).length) headers.set = set;
    return {
      ok: true,
      auth: {
        principal: typeof claims.sub === "string" ? `${claims.iss}/${claims.sub}` : undefined,
        audiences: typeof claims.aud === "string"
          ? [claims.aud]
          : Array.isArray(claims.aud)
          ? claims.aud.filter((a): a is string => typeof a === "string")
          : [],
        presenter: typeof claims.azp === "string" ? claims.azp : undefined,
        claims,
        spaceDelimited: c.spaceDelimited,
      },
      headers: headers.remove || headers.set ? headers : undefined,
    };
  }
}

async function verify(
  c: CompiledProvider,
  token: string,
): Promise<Record<string, unknown> | string> {
  const j = await loadJose();
  try {
    c.keySet ??= j.createLocalJWKSet(c.jwks as Parameters<Jose["createLocalJWKSet"]>[0]);
    const { payload } = await j.jwtVerify(token, c.keySet, {
      issuer: c.p.issuer || undefined,
      audience: c.p.audiences?.length ? c.p.audiences : undefined,
      clockTolerance: CLOCK_SKEW_S,
    });
    return payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof j.errors.JWTExpired) return "Jwt is expired";
    if (err instanceof j.errors.JWTClaimValidationFailed) {
      if (err.claim === "nbf") return "Jwt not yet valid";
      if (err.claim === "aud") return "Audiences in Jwt are not allowed";
      if (err.claim === "iss") return "Jwt issuer is not configured";
    }
    return "Jwt verification fails";
  }
}

/** A claim by name, or by a dotted path into nested objects (`a.b`) when no claim has the name. */
export function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let v: unknown = claims;
  for (const part of name.split(".")) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * The string values of the claim at `path` (`request.auth.claims[a][b]` gives `["a", "b"]`)
 * that an AuthorizationPolicy matches: a string (split on spaces for space-delimited
 * claims), each string of a list, or a number or boolean as text.
 */
export function claimValues(auth: RequestAuth, path: string[]): string[] {
  let v: unknown = auth.claims;
  for (const part of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return [];
    v = (v as Record<string, unknown>)[part];
  }
  const one = (x: unknown): string[] =>
    typeof x === "string"
      ? path.length === 1 && auth.spaceDelimited.has(path[0]) ? x.split(" ").filter(Boolean) : [x]
      : typeof x === "number" || typeof x === "boolean"
      ? [String(x)]
      : [];
  return Array.isArray(v) ? v.flatMap(one) : one(v);
}

/**
 * The 401 answer to a request whose token didn't verify: Envoy's message as the body and a
 * `www-authenticate` challenge naming the request's URL.
 */
export function jwtDenied(
  message: string,
  host: string,
  path: string,
  scheme: "http" | "https",
): { headers: [string, string][]; body: string } {
  const q = path.indexOf("?");
  const realm = `${scheme}://${host}${q < 0 ? path : path.slice(0, q)}`;
  return {
    headers: [
      ["content-type", "text/plain"],
      ["www-authenticate", `Bearer realm="${realm.replace(/["\\]/g, "")}", error="invalid_token"`],
    ],
    body: message,
  };
}
