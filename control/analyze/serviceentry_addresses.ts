/**
 * ServiceEntries that need addresses (Istio's `serviceentry.Analyzer`): a ServiceEntry without
 * `addresses` (and no address allocated in its `status`) gets `IST0134` for each port whose
 * protocol is TCP or unset, since such traffic is told apart by destination address only.
 * It is not reported when the MeshConfig's `defaultConfig.proxyMetadata` turns on DNS capture
 * with address auto-allocation (`ISTIO_META_DNS_CAPTURE` and `ISTIO_META_DNS_AUTO_ALLOCATE` or
 * `PILOT_ENABLE_IP_AUTOALLOCATE`, all `"true"`).
 * @module
 */
import { ServiceEntryAddressesRequired } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

function autoAllocated(ctx: AnalysisContext): boolean {
  const meta = (ctx.meshConfig?.spec.defaultConfig as
    | { proxyMetadata?: Record<string, string> }
    | undefined)?.proxyMetadata ?? {};
  if (meta.ISTIO_META_DNS_CAPTURE !== "true") return false;
  return meta.ISTIO_META_DNS_AUTO_ALLOCATE === "true" ||
    meta.PILOT_ENABLE_IP_AUTOALLOCATE === "true";
}

/** Checks that ServiceEntries with TCP ports have addresses. */
export const serviceEntryAddressAnalyzer: Analyzer = {
  name: "serviceentry.Analyzer",
  description: "Checks the validity of ServiceEntry",
  codes: [ServiceEntryAddressesRequired.code],
  analyze(ctx: AnalysisContext): void {
    if (autoAllocated(ctx)) return;
    for (const se of ctx.serviceEntries) {
      if ((se.spec.addresses?.length ?? 0) > 0) continue;
      const status = ctx.rawOf(se.source).status as { addresses?: unknown } | undefined;
      if (Array.isArray(status?.addresses) && status.addresses.length > 0) continue;
      (se.spec.ports ?? []).forEach((p, i) => {
        const protocol = p?.protocol ?? "";
        if (protocol !== "" && protocol.toUpperCase() !== "TCP") return;
        ctx.report(ServiceEntryAddressesRequired, [], ctx.originOf(se), ["spec", "ports", i]);
      });
    }
  },
};
