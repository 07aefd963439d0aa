/**
 * The embedded certificate authority, workload identities and bootstrap tokens.
 * @module
 */
export * from "./ca.ts";
export * from "./csr.ts";
export * from "./spiffe.ts";
export * from "./token.ts";
