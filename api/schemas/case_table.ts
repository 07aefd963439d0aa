/**
 * Table-driven validation tests for the schema files: each case is a YAML `spec` (or a whole
 * document) with what Istio decides about it, `valid`, `warning` or `error`, and a substring of
 * the message mesh gives. Used by the `*_test.ts` files beside the schemas.
 *
 * mesh's own notes about fields it doesn't enforce ("not supported by mesh ...") are not
 * warnings in this sense: Istio doesn't give them, so a `valid` case may have them.
 * @module
 */

import { type Diagnostic, formatDiagnostic } from "../diagnostic.ts";
import { parseResources } from "../resources.ts";

/** What Istio decides about a document. */
export type Verdict = "valid" | "warning" | "error";

/** One row of a table. */
export interface Case {
  name: string;
  /** The `spec` of the resource (indented as under `spec:`, or not), or a whole document. */
  yaml: string;
  want: Verdict;
  /** A substring of the expected warning or error (for `warning` and `error`). */
  message?: string;
}

/** The document header a table's specs are put under. */
export interface DocHeader {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
  /** Warnings every document of the kind gets, which say nothing about a case. */
  alwaysWarns?: RegExp;
}

/** Whether a diagnostic is mesh's own "not supported / not enforced" note. */
export function isMeshNote(d: Diagnostic): boolean {
  return d.severity === "warning" &&
    /not supported by mesh|not enforced by mesh|mesh's proxy|not used by mesh/.test(d.message);
}

/** The document a case stands for. */
export function documentOf(c: Case, header: DocHeader): string {
  if (/^\s*apiVersion:/.test(c.yaml)) return c.yaml;
  const lines = c.yaml.replace(/^\n+|\s+$/g, "").split("\n");
  const indent = Math.min(
    ...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length),
  );
  const body = lines.map((l) => `  ${l.slice(Number.isFinite(indent) ? indent : 0)}`).join("\n");
  return [
    `apiVersion: ${header.apiVersion}`,
    `kind: ${header.kind}`,
    "metadata:",
    `  name: ${header.name ?? "test"}`,
    `  namespace: ${header.namespace ?? "default"}`,
    c.yaml.trim() === "" ? "spec: {}" : `spec:\n${body}`,
  ].join("\n");
}

/** What mesh decides about a case: its verdict and diagnostics. */
export function decide(c: Case, header: DocHeader): { got: Verdict; diagnostics: Diagnostic[] } {
  const { diagnostics } = parseResources(documentOf(c, header), "case.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  const warnings = diagnostics.filter((d) =>
    d.severity === "warning" && !isMeshNote(d) && !header.alwaysWarns?.test(d.message)
  );
  const got: Verdict = errors.length ? "error" : warnings.length ? "warning" : "valid";
  return { got, diagnostics };
}

/** Why a case fails, or undefined when mesh decides as Istio does. */
export function caseProblem(c: Case, header: DocHeader): string | undefined {
  const { got, diagnostics } = decide(c, header);
  const shown = diagnostics.map(formatDiagnostic).join("\n    ") || "(no diagnostics)";
  if (got !== c.want) return `want ${c.want}, got ${got}:\n    ${shown}`;
  if (c.message !== undefined && c.want !== "valid") {
    const severity = c.want === "error" ? "error" : "warning";
    const found = diagnostics.some((d) =>
      d.severity === severity && d.message.includes(c.message!)
    );
    if (!found) return `no ${severity} containing ${JSON.stringify(c.message)}:\n    ${shown}`;
  }
  return undefined;
}

/** Registers one Deno test that checks every case of a table (all failures reported together). */
export function tableTest(title: string, header: DocHeader, cases: readonly Case[]): void {
  Deno.test(title, () => {
    const names = new Set<string>();
    const failures: string[] = [];
    for (const c of cases) {
      if (names.has(c.name)) failures.push(`duplicate case name ${JSON.stringify(c.name)}`);
      names.add(c.name);
      const problem = caseProblem(c, header);
      if (problem) failures.push(`${c.name}: ${problem}`);
    }
    if (failures.length) {
      throw new Error(`${failures.length} of ${cases.length} cases fail:\n${failures.join("\n")}`);
    }
  });
}
