/**
 * mesh: a service mesh in the spirit of Istio, for Deno. This module is the
 * public API for embedding the control plane or a proxy, or for using the
 * config contracts.
 *
 * @example
 * ```ts
 * import { startControl, startProxy } from "./mod.ts";
 * const control = await startControl({ configDir: "./config", dataDir: "./data", listen: "127.0.0.1:15012" });
 * ```
 * @module
 */
export * from "./api/mod.ts";
export { type Control, type ControlOptions, startControl } from "./control/control.ts";
export { type Proxy, type ProxyOptions, startProxy } from "./proxy/proxy.ts";
export { CertificateAuthority } from "./ca/ca.ts";
export { TokenIssuer } from "./ca/token.ts";
export { VERSION } from "./version.ts";
