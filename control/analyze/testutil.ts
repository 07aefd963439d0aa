/**
 * Helpers for the analyzer tests: run analysis over YAML text, pick messages by code, and
 * read Istio's Bookinfo samples.
 * @module
 */
import { type AnalysisOptions, analyze, type Analyzer } from "./mod.ts";
import type { Input } from "./context.ts";
import { formatMessage, type Message } from "./messages.ts";
import { BOOKINFO } from "../../tests/samples.ts";
export { sampleTest, withoutSamples } from "../../tests/samples.ts";

/** Istio's Bookinfo samples (`$MESH_ISTIO_SAMPLES` or ../shared/istio-samples). */
export const SAMPLES: string = BOOKINFO;

/** Analyzes one YAML text named `file` (default `t.yaml`). */
export function run(yaml: string, options: AnalysisOptions & { file?: string } = {}): Message[] {
  const { file = "t.yaml", ...rest } = options;
  return analyze([{ file, text: yaml }], rest).messages;
}

/** Analyzes several inputs. */
export function runAll(inputs: Input[], options: AnalysisOptions = {}): Message[] {
  return analyze(inputs, options).messages;
}

/** The messages with `code`, as istioctl lines. */
export function linesOf(messages: readonly Message[], code?: string): string[] {
  return messages.filter((m) => code === undefined || m.code === code).map(formatMessage);
}

/** The codes of `messages`, in order. */
export function codesOf(messages: readonly Message[]): string[] {
  return messages.map((m) => m.code);
}

/** A sample file as an input named by its path relative to the samples. */
export function sample(rel: string): Input {
  return { file: rel, text: Deno.readTextFileSync(`${SAMPLES}/${rel}`) };
}

/** Kubernetes Services for `name` in `namespace` with `ports`. */
export function kubeService(name: string, ports: number[], namespace = "default"): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  selector:
    app: ${name}
  ports:
${ports.map((p) => `  - port: ${p}\n    name: http-${p}`).join("\n")}
---
`;
}

/** The 1-based line of the `nth` (from 1) line of `text` that contains `needle`. */
export function lineOf(text: string, needle: string, nth = 1): number {
  let seen = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].includes(needle) && ++seen === nth) return i + 1;
  }
  throw new Error(`${JSON.stringify(needle)} (#${nth}) is not in the text`);
}

/**
 * What `analyzer` alone reports about `inputs`, as Istio's analyzer tests compare it: one
 * `CODE Kind namespace/name` per message (`CODE Kind name` for cluster-scoped kinds), sorted,
 * keeping only the codes the analyzer reports (reading's own IST0106/IST0133/MSH0001 left out).
 */
export function findings(
  analyzer: Analyzer,
  inputs: string | Input[],
  options: AnalysisOptions = {},
): string[] {
  const list = typeof inputs === "string" ? [{ file: "t.yaml", text: inputs }] : inputs;
  const { messages } = analyze(list, { ...options, analyzers: [analyzer] });
  return messages
    .filter((m) => analyzer.codes.includes(m.code) || m.code === "IST0001")
    .map((m) => {
      const r = m.resource;
      if (!r) return m.code;
      return `${m.code} ${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
    })
    .sort();
}

/** One of Istio's analyzer test cases: its input and the findings its test expects. */
export interface IstioCase {
  /** Istio's test case name (analyzers_test.go), and its testdata file. */
  name: string;
  yaml: string | Input[];
  /** `CODE Kind namespace/name`; resources Istio's input leaves without namespace are `default`. */
  expected: string[];
  options?: AnalysisOptions;
}

/** Registers one Deno test per case, each comparing {@linkcode findings} with `expected`. */
export function istioCases(analyzer: Analyzer, cases: readonly IstioCase[]): void {
  for (const c of cases) {
    Deno.test(`istio case ${c.name} (${analyzer.name})`, () => {
      const got = findings(analyzer, c.yaml, c.options);
      const want = [...c.expected].sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(
          `got ${JSON.stringify(got, null, 1)}\nwant ${JSON.stringify(want, null, 1)}`,
        );
      }
    });
  }
}
