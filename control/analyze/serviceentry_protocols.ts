/**
 * ServiceEntries that give one host and port different protocols (Istio's
 * `serviceentry.ConflictingServiceEntryProtocolAnalyzer`, `IST0177`). Entries conflict when
 * they are visible in the same namespace (`exportTo`); a port without a protocol counts as
 * `UNSET`. Each ServiceEntry involved gets one message.
 *
 * mesh serves a host from the first ServiceEntry (by namespace/name) that lists it, so the
 * others' ports are not used for that host at all.
 * @module
 */
import { ConflictingServiceEntryProtocol } from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { exportToOf } from "./hosts.ts";
import type { ServiceEntry } from "../../api/resources.ts";

/** Checks for conflicting protocols on the same ServiceEntry host and port. */
export const serviceEntryProtocolAnalyzer: Analyzer = {
  name: "serviceentry.ConflictingServiceEntryProtocolAnalyzer",
  description:
    "Checks if multiple ServiceEntries define the same host and port with different protocols",
  codes: [ConflictingServiceEntryProtocol.code],
  analyze(ctx: AnalysisContext): void {
    interface Entry {
      protocol: string;
      se: ServiceEntry;
    }
    const index = new Map<
      string,
      { scope: string; host: string; port: number; entries: Entry[] }
    >();
    for (const se of ctx.serviceEntries) {
      const ns = se.metadata.namespace;
      const exportTo = exportToOf(se.spec.exportTo);
      const scopes = !exportTo || exportTo.includes("*")
        ? ["*"]
        : [...new Set(exportTo.map((e) => (e === "." ? ns : e)))];
      for (const scope of scopes) {
        for (const rawHost of new Set(se.spec.hosts.map((h) => h.toLowerCase()))) {
          for (const p of se.spec.ports ?? []) {
            const key = `${scope}\n${rawHost}\n${p.number}`;
            const slot = index.get(key) ?? { scope, host: rawHost, port: p.number, entries: [] };
            slot.entries.push({ protocol: p.protocol?.toUpperCase() ?? "UNSET", se });
            index.set(key, slot);
          }
        }
      }
    }
    const reported = new Set<ServiceEntry>();
    for (const slot of index.values()) {
      const entries = [...slot.entries];
      if (slot.scope !== "*") {
        entries.push(...(index.get(`*\n${slot.host}\n${slot.port}`)?.entries ?? []));
      }
      const protocols = [...new Set(entries.map((e) => e.protocol))].sort();
      if (protocols.length < 2) continue;
      const names = [...new Set(entries.map((e) => fullName(e.se.metadata)))].sort();
      for (const { se } of entries) {
        if (reported.has(se)) continue;
        reported.add(se);
        ctx.report(
          ConflictingServiceEntryProtocol,
          [names.join(", "), slot.host, slot.port, protocols.join(", ")],
          ctx.originOf(se),
          ["metadata", "name"],
        );
      }
    }
  },
};
