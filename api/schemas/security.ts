/**
 * `security.istio.io` kinds: PeerAuthentication, AuthorizationPolicy and RequestAuthentication,
 * one file per kind; this module re-exports them.
 * @module
 */

export * from "./peer_authentication.ts";
export * from "./authorization_policy.ts";
export * from "./request_authentication.ts";
