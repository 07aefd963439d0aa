/**
 * DestinationRules that originate TLS without verifying the server (Istio's
 * `destinationrule.CaCertificateAnalyzer`): `tls.mode` SIMPLE or MUTUAL without
 * `caCertificates` is `IST0128` for the rule's `trafficPolicy.tls` and `IST0129` for a
 * `portLevelSettings[].tls`. A `credentialName` stands in for the CA only on a rule with a
 * `workloadSelector` (where the credential is read from the workload's namespace).
 * @module
 */
import {
  NoServerCertificateVerificationDestinationLevel,
  NoServerCertificateVerificationPortLevel,
} from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

interface ClientTls {
  mode?: string;
  caCertificates?: string;
  credentialName?: string;
}

function unverified(tls: ClientTls | undefined, selected: boolean): string | undefined {
  const mode = tls?.mode;
  if (mode !== "SIMPLE" && mode !== "MUTUAL") return undefined;
  if (tls?.caCertificates) return undefined;
  if (tls?.credentialName && selected) return undefined;
  return mode;
}

/** Checks that TLS origination verifies the server's certificate. */
export const destinationRuleTlsAnalyzer: Analyzer = {
  name: "destinationrule.CaCertificateAnalyzer",
  description: "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL",
  codes: [
    NoServerCertificateVerificationDestinationLevel.code,
    NoServerCertificateVerificationPortLevel.code,
  ],
  analyze(ctx: AnalysisContext): void {
    for (const dr of ctx.destinationRules) {
      const name = fullName(dr.metadata);
      const ns = dr.metadata.namespace;
      const host = dr.spec.host ?? "";
      const origin = ctx.originOf(dr);
      const selected = dr.spec.workloadSelector !== undefined;
      const policy = dr.spec.trafficPolicy;
      const mode = unverified(policy?.tls as ClientTls | undefined, selected);
      if (mode) {
        ctx.report(
          NoServerCertificateVerificationDestinationLevel,
          [name, ns, mode, host],
          origin,
          [
            "spec",
            "trafficPolicy",
            "tls",
            "mode",
          ],
        );
      }
      (policy?.portLevelSettings ?? []).forEach((p, i) => {
        const portMode = unverified(p?.tls as ClientTls | undefined, selected);
        if (!portMode) return;
        // Istio prints the port selector in protobuf text form.
        const port = p?.port?.number !== undefined ? `number:${p.port.number}` : "";
        ctx.report(
          NoServerCertificateVerificationPortLevel,
          [name, ns, portMode, host, port],
          origin,
          ["spec", "trafficPolicy", "portLevelSettings", i, "tls", "mode"],
        );
      });
    }
  },
};
