/**
 * Reading a JWT's claims without verifying it (the proxy looks up the root
 * pin this way), with no JOSE library loaded.
 *
 * @example
 * ```ts
 * peekClaims(token)?.root_sha256;
 * ```
 * @module
 */

/** The claims of a compact JWT, unverified; undefined when it isn't one. */
export function peekClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}
