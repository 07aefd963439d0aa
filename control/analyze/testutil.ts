/**
 * Helpers for the analyzer tests: run analysis over YAML text, pick messages by code, and
 * read Istio's Bookinfo samples.
 * @module
 */
import { type AnalysisOptions, analyze } from "./mod.ts";
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
