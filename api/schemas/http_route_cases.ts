/**
 * Builders of VirtualService specs for the HTTP route case tables (http_route*_test.ts): each
 * returns the YAML of a spec with one HTTP route.
 * @module
 */

export const HEADER = { apiVersion: "networking.istio.io/v1", kind: "VirtualService" };
export const DEST = "route: [{destination: {host: foo.baz}}]";
export const REDIRECT = "redirect: {uri: /, authority: foo.biz}";
export const DELEGATE = "delegate: {name: test, namespace: test}";

/** A spec with one HTTP route (`fields` are the route's, flow style without braces). */
export function http(fields: string): string {
  return `hosts: [foo.bar]\nhttp: [{${fields}}]`;
}

/** A route with a destination and `fields`. */
export function routed(fields: string): string {
  return http(`${DEST}, ${fields}`);
}

/** A route with a destination and one match. */
export function matching(match: string, action = DEST): string {
  return http(`match: [${match}], ${action}`);
}

/** A route in a delegate VirtualService (no hosts). */
export function inDelegate(fields: string): string {
  return `http: [{${fields}}]`;
}

/** A destination's header operations. */
export function destHeaders(ops: string): string {
  return http(`route: [{destination: {host: foo.baz}, headers: ${ops}}]`);
}

/** A route with a fault (and a destination). */
export function fault(f: string): string {
  return routed(`fault: ${f}`);
}

/** A route with retries. */
export function retries(r: string): string {
  return routed(`retries: ${r}`);
}

export const big = (n: number) => "a".repeat(n);
export const KB = 1024;
