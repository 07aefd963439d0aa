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
  /** `iss/sub`. */
  principal: string;
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
  header(name: string): string | undefined;
}

/** Clock skew allowed on `exp` and `nbf`, as Envoy's default. */
export const CLOCK_SKEW_S = 60;

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
    out.push({ kind: "header", name: h.name.toLowerCase(), prefix: h.prefix });
  }
  for (const name of p.fromParams ?? []) out.push({ kind: "param", name });
  for (const name of p.fromCookies ?? []) out.push({ kind: "cookie", name });
  return out.length ? out : DEFAULT_LOCATIONS;
}

function sameLocation(a: Location, b: Location): boolean {
  return a.kind === b.kind && a.name === b.name;
}

/** The token at `loc`, if the request carries one there. */
export function tokenAt(req: JwtRequest, loc: Location): string | undefined {
  if (loc.kind === "header") {
    const v = req.header(loc.name);
    if (v === undefined) return undefined;
    if (!loc.prefix) return v.trim() || undefined;
    // The default `Bearer ` prefix is matched without regard to case, as Envoy does.
    const head = v.slice(0, loc.prefix.length);
    const match = loc === DEFAULT_LOCATIONS[0]
      ? head.toLowerCase() === loc.prefix.toLowerCase()
      : head === loc.prefix;
    return match ? v.slice(loc.prefix.length).trim() || undefined : undefined;
  }
  if (loc.kind === "param") {
    const q = req.path.indexOf("?");
    if (q < 0) return undefined;
    const v = new URLSearchParams(req.path.slice(q + 1)).get(loc.name);
    return v || undefined;
  }
  const cookie = req.header("cookie");
  if (!cookie) return undefined;
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === loc.name) {
      return part.slice(eq + 1).trim() || undefined;
    }
  }
  return undefined;
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

/** Verifies requests' JWTs against a proxy's RequestAuthentication rules. */
export class JwtAuthenticator {
  readonly #providers: CompiledProvider[];
  /** Every location any provider reads, each once. */
  readonly #locations: Location[] = [];

  /** Compiles the rules; throws when a key set isn't JSON with a `keys` array. */
  constructor(providers: JwtProvider[]) {
    this.#providers = providers.map((p) => {
      let jwks: { keys: unknown[] };
      try {
        jwks = JSON.parse(p.jwks);
      } catch (err) {
        throw new Error(`jwt issuer ${p.issuer}: jwks is not JSON: ${(err as Error).message}`);
      }
      if (!Array.isArray(jwks?.keys)) {
        throw new Error(`jwt issuer ${p.issuer}: jwks has no "keys" array`);
      }
      const locations = locationsOf(p);
      for (const l of locations) {
        if (!this.#locations.some((x) => sameLocation(x, l))) this.#locations.push(l);
      }
      return {
        p,
        jwks,
        locations,
        spaceDelimited: new Set(["scope", "permission", ...(p.spaceDelimitedClaims ?? [])]),
      };
    });
  }

  /**
   * Finds the request's tokens and verifies each: every token found must be valid
   * (a 401 otherwise); the first gives the request its identity.
   */
  async authenticate(req: JwtRequest): Promise<JwtOutcome> {
    let auth: RequestAuth | undefined;
    const remove: string[] = [];
    const set: Record<string, string> = {};
    const seen = new Set<string>();
    for (const loc of this.#locations) {
      const token = tokenAt(req, loc);
      if (token === undefined || seen.has(token)) continue;
      seen.add(token);
      const iss = unverifiedIssuer(token);
      if (iss === undefined) {
        return {
          ok: false,
          message:
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        };
      }
      const provider = this.#providers.find((c) =>
        c.p.issuer === iss && c.locations.some((l) => sameLocation(l, loc))
      );
      if (!provider) return { ok: false, message: "Jwt issuer is not configured" };
      const verified = await verify(provider, token);
      if (typeof verified === "string") return { ok: false, message: verified };
      const claims = verified;
      auth ??= {
        principal: `${claims.iss}/${claims.sub ?? ""}`,
        audiences: typeof claims.aud === "string"
          ? [claims.aud]
          : Array.isArray(claims.aud)
          ? claims.aud.filter((a): a is string => typeof a === "string")
          : [],
        presenter: typeof claims.azp === "string" ? claims.azp : undefined,
        claims,
        spaceDelimited: provider.spaceDelimited,
      };
      if (loc.kind === "header" && !provider.p.forwardOriginalToken) remove.push(loc.name);
      if (provider.p.outputPayloadToHeader) {
        set[provider.p.outputPayloadToHeader.toLowerCase()] = token.split(".")[1];
      }
      for (const o of provider.p.outputClaimToHeaders ?? []) {
        const v = claimAt(claims, o.claim);
        if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
          set[o.header.toLowerCase()] = String(v);
        }
      }
    }
    if (!auth) return { ok: true };
    const headers: HeaderChanges = {};
    if (remove.length) headers.remove = remove;
    if (Object.keys(set).length) headers.set = set;
    return {
      ok: true,
      auth,
      headers: remove.length || Object.keys(set).length ? headers : undefined,
    };
  }
}

async function verify(
  c: CompiledProvider,
  token: string,
): Promise<Record<string, unknown> | string> {
  const j = await loadJose();
  c.keySet ??= j.createLocalJWKSet(c.jwks as Parameters<Jose["createLocalJWKSet"]>[0]);
  try {
    const { payload } = await j.jwtVerify(token, c.keySet, {
      issuer: c.p.issuer,
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
