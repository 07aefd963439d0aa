/**
 * Bootstrap tokens: short-lived JWTs (ES256) signed by the control plane that
 * let a new proxy obtain its first certificate for exactly one identity. The
 * token also pins the mesh root (`root_sha256`), so a proxy can trust the
 * control plane without a root file (as kubeadm's CA hash).
 *
 * @example
 * ```ts
 * const issuer = await TokenIssuer.loadOrCreate("/var/lib/mesh");
 * const token = await issuer.create({ namespace: "default", serviceAccount: "reviews", rootSha256 });
 * const claims = await issuer.verify(token); // { namespace: "default", serviceAccount: "reviews", ... }
 *
 * // Admin tokens (for the admin API: `mesh apply`, `mesh get`, ...) use another audience and
 * // carry `admin: true`; neither kind of token is accepted in place of the other.
 * const admin = await issuer.createAdmin({ ttlSeconds: 3600 });
 * await issuer.verifyAdmin(admin); // { subject: "mesh-admin", expiresAt }
 * ```
 * @module
 */
import * as jose from "jose";
import { atomicWrite } from "../util/atomic_write.ts";

/** Issuer claim of bootstrap tokens. */
export const TOKEN_ISSUER = "mesh-control";
/** Audience claim of bootstrap tokens. */
export const TOKEN_AUDIENCE = "mesh-bootstrap";

/** Audience claim of admin tokens. */
export const ADMIN_AUDIENCE = "mesh-admin";

/** What a valid token allows. */
export interface TokenClaims {
  namespace: string;
  serviceAccount: string;
  rootSha256?: string;
  expiresAt: Date;
  /** The token's id (`jti`). */
  id?: string;
  /** Whether the token may obtain one certificate only. */
  singleUse: boolean;
}

/** Options for a new token. */
export interface CreateTokenOptions {
  namespace: string;
  serviceAccount: string;
  /** Lifetime in seconds. Default 3600. */
  ttlSeconds?: number;
  /** Hex SHA-256 of the root certificate's DER, for proxies to pin. */
  rootSha256?: string;
  /** The token obtains one certificate only; the control plane refuses it after that. */
  singleUse?: boolean;
}

/** Options for a new admin token. */
export interface CreateAdminTokenOptions {
  /** Lifetime in seconds. Default 3600. */
  ttlSeconds?: number;
  /** Who holds it, for audit logs (`sub`). Default `mesh-admin`. */
  subject?: string;
}

/** What a valid admin token says. */
export interface AdminClaims {
  subject: string;
  expiresAt: Date;
}

/** Rejection of a token; the message says why and what to do. */
export class TokenError extends Error {
  override name = "TokenError";
}

/** Signs and verifies bootstrap tokens with a key kept in the data dir. */
export class TokenIssuer {
  #privateKey: CryptoKey;
  #publicKey: CryptoKey;

  private constructor(privateKey: CryptoKey, publicKey: CryptoKey) {
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
  }

  /** Loads `<dir>/token-key.pem`, creating it (mode 0600) when missing. */
  static async loadOrCreate(dir: string, create = true): Promise<TokenIssuer> {
    const path = `${dir}/token-key.pem`;
    let pem: string;
    try {
      const st = await Deno.stat(path);
      if (st.mode !== null && (st.mode & 0o077) !== 0) {
        throw new Error(`token key ${path} is readable by others; run: chmod 600 ${path}`);
      }
      pem = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (!create) {
        throw new Error(
          `no token key at ${path}: start the control plane with --data-dir ${dir} first, or pass the right --data-dir`,
        );
      }
      const { privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
      pem = await jose.exportPKCS8(privateKey);
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      await atomicWrite(path, pem, { mode: 0o600 });
    }
    const privateKey = await jose.importPKCS8(pem, "ES256", { extractable: true }) as CryptoKey;
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    delete jwk.d;
    jwk.key_ops = ["verify"];
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      jwk,
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["verify"],
    );
    return new TokenIssuer(privateKey, publicKey);
  }

  /** Creates a signed token for one identity. */
  create(options: CreateTokenOptions): Promise<string> {
    const ttl = options.ttlSeconds ?? 3600;
    const claims: Record<string, unknown> = {
      ns: options.namespace,
      sa: options.serviceAccount,
    };
    if (options.rootSha256) claims.root_sha256 = options.rootSha256;
    if (options.singleUse) claims.single_use = true;
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", typ: "JWT" })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(`system:serviceaccount:${options.namespace}:${options.serviceAccount}`)
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .sign(this.#privateKey);
  }

  /** Verifies signature, issuer, audience and expiry; returns the identity it allows. */
  async verify(token: string): Promise<TokenClaims> {
    if (audienceOf(token) === ADMIN_AUDIENCE) {
      throw new TokenError(
        `token claim "aud" is not valid: this is an admin token (for \`mesh apply\`); a proxy ` +
          "needs a bootstrap token from `mesh token create --namespace NS --service-account SA`",
      );
    }
    try {
      const { payload } = await jose.jwtVerify(token, this.#publicKey, {
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        algorithms: ["ES256"],
        requiredClaims: ["exp"],
      });
      if (payload.admin !== undefined) {
        throw new TokenError("token carries an admin claim; it is not a bootstrap token");
      }
      if (typeof payload.ns !== "string" || typeof payload.sa !== "string") {
        throw new TokenError(
          "token lacks the ns and sa claims; create one with `mesh token create`",
        );
      }
      return {
        namespace: payload.ns,
        serviceAccount: payload.sa,
        rootSha256: typeof payload.root_sha256 === "string" ? payload.root_sha256 : undefined,
        expiresAt: new Date((payload.exp ?? 0) * 1000),
        id: typeof payload.jti === "string" ? payload.jti : undefined,
        singleUse: payload.single_use === true,
      };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof jose.errors.JWTExpired) {
        throw new TokenError("token has expired; create a new one with `mesh token create`");
      }
      if (err instanceof jose.errors.JWTClaimValidationFailed) {
        throw new TokenError(`token claim "${err.claim}" is not valid: ${err.reason}`);
      }
      throw new TokenError(
        `token is not valid (${(err as Error).message}); create one with \`mesh token create\``,
      );
    }
  }

  /** Creates an admin token: audience `mesh-admin`, claim `admin: true`, no workload identity. */
  createAdmin(options: CreateAdminTokenOptions = {}): Promise<string> {
    const ttl = options.ttlSeconds ?? 3600;
    return new jose.SignJWT({ admin: true })
      .setProtectedHeader({ alg: "ES256", typ: "JWT" })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(ADMIN_AUDIENCE)
      .setSubject(options.subject ?? "mesh-admin")
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .sign(this.#privateKey);
  }

  /**
   * Verifies an admin token: signature, issuer, audience `mesh-admin`, expiry and `admin: true`.
   * A bootstrap token is refused with a message that says so.
   */
  async verifyAdmin(token: string): Promise<AdminClaims> {
    const create = "create one with `mesh token create --admin`";
    if (audienceOf(token) === TOKEN_AUDIENCE) {
      throw new TokenError(
        `this is a bootstrap token (for proxies), not an admin token; ${create}`,
      );
    }
    try {
      const { payload } = await jose.jwtVerify(token, this.#publicKey, {
        issuer: TOKEN_ISSUER,
        audience: ADMIN_AUDIENCE,
        algorithms: ["ES256"],
        requiredClaims: ["exp"],
      });
      if (payload.admin !== true) {
        throw new TokenError(`token lacks the admin claim; ${create}`);
      }
      return {
        subject: typeof payload.sub === "string" ? payload.sub : "mesh-admin",
        expiresAt: new Date((payload.exp ?? 0) * 1000),
      };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof jose.errors.JWTExpired) {
        throw new TokenError(`admin token has expired; ${create}`);
      }
      if (err instanceof jose.errors.JWTClaimValidationFailed) {
        throw new TokenError(`admin token claim "${err.claim}" is not valid: ${err.reason}`);
      }
      throw new TokenError(`admin token is not valid (${(err as Error).message}); ${create}`);
    }
  }
}

/** The `aud` claim of a token, unverified (only to explain a rejection). */
function audienceOf(token: string): string | undefined {
  const aud = peekClaims(token)?.aud;
  return typeof aud === "string"
    ? aud
    : Array.isArray(aud) && aud.length === 1
    ? aud[0]
    : undefined;
}

import { peekClaims } from "./token_claims.ts";
export { peekClaims };
