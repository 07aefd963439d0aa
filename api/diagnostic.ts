/**
 * Diagnostics: problems found in user configuration, each tied to a file position and a field
 * path, printed in the familiar `file:line:column: severity: ...` shape.
 *
 * @example
 * ```ts
 * import { formatDiagnostic } from "./diagnostic.ts";
 *
 * formatDiagnostic({
 *   severity: "error",
 *   file: "bookinfo.yaml",
 *   line: 12,
 *   column: 9,
 *   kind: "VirtualService",
 *   namespace: "default",
 *   name: "reviews",
 *   path: "spec.http[0].route",
 *   message: "weights sum to 90; they must sum to 100",
 * });
 * // "bookinfo.yaml:12:9: error: VirtualService default/reviews: spec.http[0].route: weights sum to 90; they must sum to 100"
 * ```
 * @module
 */

/** `error` rejects the resource; `warning` accepts it but flags something. */
export type Severity = "error" | "warning";

/** One problem found in configuration. */
export interface Diagnostic {
  severity: Severity;
  /** File name as given by the caller. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Resource kind, when known. */
  kind?: string;
  /** Resource namespace, when known. */
  namespace?: string;
  /** Resource name, when known. */
  name?: string;
  /** Field path such as `spec.http[0].route[1].weight`; `""` for the whole document. */
  path: string;
  /** What is wrong and what to do about it. */
  message: string;
}

/** Renders `file:line:column: severity: Kind namespace/name: path: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  let out = `${d.file}:${d.line}:${d.column}: ${d.severity}: `;
  const subject = subjectOf(d);
  if (subject) out += `${subject}: `;
  if (d.path) out += `${d.path}: `;
  return out + d.message;
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

function subjectOf(d: Diagnostic): string {
  const ref = d.name ? (d.namespace ? `${d.namespace}/${d.name}` : d.name) : "";
  if (d.kind && ref) return `${d.kind} ${ref}`;
  return d.kind ?? ref;
}
