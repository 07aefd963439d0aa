/**
 * `mesh analyze`: cross-resource checks over Istio YAML and the Kubernetes objects beside it,
 * reported as `istioctl analyze` reports them (Istio's message codes, names, levels and
 * wording where Istio has the same check). See docs/analyze.md for every check.
 *
 * @example
 * ```ts
 * import { analyze, formatMessage } from "./mod.ts";
 *
 * const text = await Deno.readTextFile("reviews.yaml");
 * const { messages } = analyze([{ file: "reviews.yaml", text }]);
 * for (const m of messages) console.log(formatMessage(m));
 * // Error [IST0101] (VirtualService default/reviews reviews.yaml:12) Referenced host not found: "reviews2"
 * ```
 * @module
 */
import type { Analyzer } from "./analyzer.ts";
import { type AnalyzeOptions, type Input, loadInputs } from "./context.ts";
import { InternalError, type Message, sortAndDedupe } from "./messages.ts";
import { authorizationPolicyAnalyzer } from "./authorization_policies.ts";
import { destinationHostAnalyzer } from "./destination_hosts.ts";
import { destinationRuleHostAnalyzer } from "./destination_rule_hosts.ts";
import { destinationSubsetAnalyzer } from "./destination_subsets.ts";
import { gatewayWorkloadAnalyzer } from "./gateway_workloads.ts";
import { meshHostsAnalyzer } from "./mesh_hosts.ts";
import { serviceEntryProtocolAnalyzer } from "./serviceentry_protocols.ts";
import { unreachableRulesAnalyzer } from "./unreachable_rules.ts";
import { vsGatewayAnalyzer } from "./vs_gateways.ts";

export type { Analyzer } from "./analyzer.ts";
export { AnalysisContext, type AnalyzeOptions, type Input, loadInputs } from "./context.ts";
export * from "./messages.ts";

/** Every analyzer `mesh analyze` runs, in a stable order. */
export const ANALYZERS: readonly Analyzer[] = [
  authorizationPolicyAnalyzer,
  destinationRuleHostAnalyzer,
  gatewayWorkloadAnalyzer,
  serviceEntryProtocolAnalyzer,
  meshHostsAnalyzer,
  destinationHostAnalyzer,
  destinationSubsetAnalyzer,
  vsGatewayAnalyzer,
  unreachableRulesAnalyzer,
];

/** Options of {@linkcode analyze}. */
export interface AnalysisOptions extends AnalyzeOptions {
  /** The analyzers to run (default {@linkcode ANALYZERS}). */
  analyzers?: readonly Analyzer[];
}

/** What {@linkcode analyze} found. */
export interface AnalysisResult {
  /** Sorted (errors first) and without duplicates. */
  messages: Message[];
  /** The file names analyzed, as given. */
  files: string[];
  /** Names of the analyzers that ran. */
  analyzers: string[];
}

/**
 * Reads `inputs` (schema validation included) and runs the analyzers over them. Never throws:
 * an analyzer that fails is reported as `IST0001` and the others still run.
 */
export function analyze(inputs: readonly Input[], options: AnalysisOptions = {}): AnalysisResult {
  const ctx = loadInputs(inputs, options);
  const analyzers = options.analyzers ?? ANALYZERS;
  for (const a of analyzers) {
    try {
      a.analyze(ctx);
    } catch (e) {
      ctx.report(InternalError, [`${a.name}: ${e instanceof Error ? e.message : String(e)}`]);
    }
  }
  return {
    messages: sortAndDedupe(ctx.messages),
    files: [...ctx.files],
    analyzers: analyzers.map((a) => a.name),
  };
}
