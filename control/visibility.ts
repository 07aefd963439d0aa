/**
 * `exportTo`: which namespaces see a VirtualService, DestinationRule or
 * ServiceEntry. `.` is the resource's own namespace, `*` every namespace, `~`
 * none; other entries name namespaces. No `exportTo` exports everywhere (as
 * Istio's default `defaultServiceExportTo` and friends).
 *
 * @example
 * ```ts
 * import { exportedTo } from "./visibility.ts";
 * exportedTo(["."], "shop", "web"); // false
 * ```
 * @module
 */

/** Whether a resource of namespace `own` with `exportTo` is visible in namespace `client`. */
export function exportedTo(
  exportTo: readonly string[] | undefined,
  own: string,
  client: string,
): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === "*" || e === client || (e === "." && own === client));
}
