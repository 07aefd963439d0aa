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
import type { SkippedDocument } from "../../api/resources.ts";
import type { Analyzer } from "./analyzer.ts";
import { type AnalyzeOptions, type Input, loadInputs } from "./context.ts";
import { InternalError, type Message, sortAndDedupe } from "./messages.ts";
import { annotationAnalyzer } from "./annotations.ts";
import { authorizationPolicyAnalyzer } from "./authorization_policies.ts";
import { conditionAnalyzer } from "./conditions.ts";
import { applicationUidAnalyzer, deploymentServicesAnalyzer } from "./deployments.ts";
import { deprecationAnalyzer } from "./deprecation.ts";
import { destinationHostAnalyzer } from "./destination_hosts.ts";
import { destinationRuleHostAnalyzer } from "./destination_rule_hosts.ts";
import { destinationRuleTlsAnalyzer } from "./destination_rule_tls.ts";
import { destinationSubsetAnalyzer } from "./destination_subsets.ts";
import { conflictingGatewayAnalyzer, gatewayCertificateAnalyzer } from "./gateway_conflicts.ts";
import { gatewaySecretAnalyzer } from "./gateway_secrets.ts";
import { gatewayWorkloadAnalyzer } from "./gateway_workloads.ts";
import { jwtClaimRouteAnalyzer } from "./jwt_claim_routes.ts";
import { k8sGatewaySelectorAnalyzer } from "./k8s_gateway_selectors.ts";
import { meshHostsAnalyzer } from "./mesh_hosts.ts";
import { serviceEntryAddressAnalyzer } from "./serviceentry_addresses.ts";
import { serviceEntryProtocolAnalyzer } from "./serviceentry_protocols.ts";
import { servicePortAnalyzer } from "./service_ports.ts";
import { sidecarSelectorAnalyzer } from "./sidecar_selectors.ts";
import {
  telemetryDefaultSelectorAnalyzer,
  telemetryLightstepAnalyzer,
  telemetryProviderAnalyzer,
  telemetrySelectorAnalyzer,
} from "./telemetry.ts";
import { unreachableRulesAnalyzer } from "./unreachable_rules.ts";
import { vsGatewayAnalyzer } from "./vs_gateways.ts";

export type { Analyzer } from "./analyzer.ts";
export { AnalysisContext, type AnalyzeOptions, type Input, loadInputs } from "./context.ts";
export * from "./messages.ts";

/** Every analyzer `mesh analyze` runs, in the order of Istio's list (`analyzers/all.go`). */
export const ANALYZERS: readonly Analyzer[] = [
  annotationAnalyzer,
  authorizationPolicyAnalyzer,
  conditionAnalyzer,
  deploymentServicesAnalyzer,
  applicationUidAnalyzer,
  destinationRuleTlsAnalyzer,
  destinationRuleHostAnalyzer,
  deprecationAnalyzer,
  gatewayWorkloadAnalyzer,
  gatewayCertificateAnalyzer,
  gatewaySecretAnalyzer,
  conflictingGatewayAnalyzer,
  k8sGatewaySelectorAnalyzer,
  servicePortAnalyzer,
  sidecarSelectorAnalyzer,
  meshHostsAnalyzer,
  destinationHostAnalyzer,
  destinationSubsetAnalyzer,
  vsGatewayAnalyzer,
  jwtClaimRouteAnalyzer,
  serviceEntryAddressAnalyzer,
  serviceEntryProtocolAnalyzer,
  telemetryProviderAnalyzer,
  telemetrySelectorAnalyzer,
  telemetryDefaultSelectorAnalyzer,
  telemetryLightstepAnalyzer,
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
  /** Documents not analyzed: of kinds neither mesh nor its analyzers read. */
  notRead: SkippedDocument[];
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
    notRead: [...ctx.notRead],
  };
}
