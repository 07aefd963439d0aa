/**
 * Destination hosts of VirtualServices (Istio's `virtualservice.DestinationHostAnalyzer`):
 * each route and mirror destination must be a host in the registry (`IST0101`), a port it
 * names must be one of the host's ports (`IST0101`, `host:port`), and a host with several
 * ports needs the port named (`IST0112`).
 * @module
 */
import {
  ReferencedResourceNotFound,
  VirtualServiceDestinationPortSelectorRequired,
} from "./messages.ts";
import { type Analyzer, mirrorDestinations, routeDestinations } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

/** Checks that every VirtualService destination exists, with the port it needs. */
export const destinationHostAnalyzer: Analyzer = {
  name: "virtualservice.DestinationHostAnalyzer",
  description: "Checks the destination hosts associated with each virtual service",
  codes: [ReferencedResourceNotFound.code, VirtualServiceDestinationPortSelectorRequired.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const ns = vs.metadata.namespace;
      const origin = ctx.originOf(vs);
      for (const d of [...routeDestinations(vs), ...mirrorDestinations(vs)]) {
        const entry = ctx.hosts.lookup(d.host, ns);
        if (!entry) {
          ctx.report(
            ReferencedResourceNotFound,
            [d.mirror ? "mirror host" : "host", d.host],
            origin,
            d.path,
          );
          continue;
        }
        if (d.port === undefined) {
          if (entry.ports.length > 1) {
            ctx.report(
              VirtualServiceDestinationPortSelectorRequired,
              [d.host, entry.ports.map((p) => p.number)],
              origin,
              d.path,
            );
          }
        } else if (!entry.ports.some((p) => p.number === d.port)) {
          ctx.report(
            ReferencedResourceNotFound,
            ["host:port", `${d.host}:${d.port}`],
            origin,
            d.path,
          );
        }
      }
    }
  },
};
