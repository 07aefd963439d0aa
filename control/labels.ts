/**
 * Label selectors, as Kubernetes and Istio match them.
 * @module
 */

/**
 * Whether `labels` carry every key/value of `selector` (no selector matches all).
 *
 * @example
 * ```ts
 * import { labelsMatch } from "./labels.ts";
 * labelsMatch({ app: "reviews" }, { app: "reviews", version: "v2" }); // true
 * ```
 */
export function labelsMatch(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
