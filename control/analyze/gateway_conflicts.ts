/**
 * Gateways that step on each other, as Istio's analyzers decide:
 *
 * - `gateway.ConflictingGatewayAnalyzer` (`IST0145`): Gateways for the same workloads (the
 *   same selector, or one selector's text containing the other's when some workload matches
 *   both) with a server on the same port and a host (with the same `bind`) in common. Hosts
 *   are compared as Istio's gateway merging does, which remembers the hosts of servers it has
 *   seen; a Gateway with a selector and no servers is `IST0101` here;
 * - `gateway.CertificateAnalyzer` (`IST0138`): Gateways whose selectors contain this one's
 *   (or all, for an empty selector) with a TLS server using the same certificate (the same
 *   `credentialName`, or the same `serverCertificate` and `privateKey`).
 * @module
 */
import type { Gateway } from "../../api/resources.ts";
import {
  ConflictingGateways,
  GatewayDuplicateCertificate,
  ReferencedResourceNotFound,
} from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, selectorString } from "./k8s.ts";

type Server = Gateway["spec"]["servers"][number];

function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(",")) {
    const kv = pair.split("=");
    if (kv.length === 2) out[kv[0]] = kv[1];
  }
  return out;
}

/** Checks for Gateways that conflict on selector, port and host. */
export const conflictingGatewayAnalyzer: Analyzer = {
  name: "gateway.ConflictingGatewayAnalyzer",
  description: "Checks a gateway's selector, port number and hosts",
  codes: [ConflictingGateways.code, ReferencedResourceNotFound.code],
  analyze(ctx: AnalysisContext): void {
    // `selector~port` -> gateway name -> host -> bind (mutated below, as Istio's is).
    const index = new Map<string, Map<string, Map<string, string>>>();
    for (const gw of ctx.gateways) {
      const selector = selectorString(gw.spec.selector ?? {});
      for (const server of gw.spec.servers ?? []) {
        const key = `${selector}~${server?.port?.number ?? 0}`;
        const byName = index.get(key) ?? new Map<string, Map<string, string>>();
        index.set(key, byName);
        const hosts = new Map<string, string>();
        for (const h of server?.hosts ?? []) hosts.set(h, server?.bind ?? "");
        byName.set(fullName(gw.metadata), hosts);
      }
    }
    for (const gw of ctx.gateways) {
      const name = fullName(gw.metadata);
      const labels = gw.spec.selector ?? {};
      const selector = selectorString(labels);
      const hit: [string, Map<string, Map<string, string>>][] = [];
      for (const [key, byName] of index) {
        const other = key.slice(0, key.lastIndexOf("~"));
        let matched = other === selector;
        if (!matched && (other.includes(selector) || selector.includes(other))) {
          const otherLabels = parseSelector(other);
          matched = ctx.workloads.some((w) =>
            selectorMatches(labels, w.labels) && selectorMatches(otherLabels, w.labels)
          );
        }
        if (matched) hit.push([key, byName]);
      }
      if (selector !== "" && hit.length === 0) {
        const first = Object.keys(labels).sort()[0];
        ctx.report(ReferencedResourceNotFound, ["selector", selector], ctx.originOf(gw), [
          "spec",
          "selector",
          first,
        ]);
        continue;
      }
      for (const server of gw.spec.servers ?? []) {
        const port = String(server?.port?.number ?? 0);
        const conflicting: string[] = [];
        for (const [key, byName] of hit) {
          if (key.slice(key.lastIndexOf("~") + 1) !== port) continue;
          for (const [other, known] of byName) {
            if (other !== name && duplicates(server, known)) conflicting.push(other);
          }
        }
        if (conflicting.length === 0) continue;
        ctx.report(
          ConflictingGateways,
          [conflicting.sort().join(","), selector, port, (server?.hosts ?? []).join(",")],
          ctx.originOf(gw),
        );
      }
    }
  },
};

/** Istio's `CheckDuplicates`: hosts already known with the same bind; else learns them. */
function duplicates(server: Server, known: Map<string, string>): boolean {
  const bind = server?.bind ?? "";
  const hosts = server?.hosts ?? [];
  const dup = hosts.some((h) => known.has(h) && known.get(h) === bind);
  if (!dup) { for (const h of hosts) known.set(h, bind); }
  return dup;
}

function sameCertificate(a: Server["tls"], b: Server["tls"]): boolean {
  if (a?.credentialName && b?.credentialName) return a.credentialName === b.credentialName;
  if (a?.credentialName || b?.credentialName) return false;
  if (!a?.serverCertificate || !b?.serverCertificate) return false;
  if (a.serverCertificate !== b.serverCertificate) return false;
  return !!a.privateKey && !!b.privateKey && a.privateKey === b.privateKey;
}

/** Whether every key/value of `x` is in `y` (Istio's `selectorSubset`). */
function subset(x: Record<string, string>, y: Record<string, string>): boolean {
  return Object.entries(x).every(([k, v]) => Object.hasOwn(y, k) && y[k] === v);
}

/** Checks for Gateways of the same workloads that share a certificate. */
export const gatewayCertificateAnalyzer: Analyzer = {
  name: "gateway.CertificateAnalyzer",
  description: "Checks a gateway certificate",
  codes: [GatewayDuplicateCertificate.code],
  analyze(ctx: AnalysisContext): void {
    for (const gw of ctx.gateways) {
      const labels = gw.spec.selector ?? {};
      for (const other of ctx.gateways) {
        if (other === gw) continue;
        if (Object.keys(labels).length > 0 && !subset(labels, other.spec.selector ?? {})) continue;
        for (const a of gw.spec.servers ?? []) {
          for (const b of other.spec.servers ?? []) {
            if (!a?.tls || !b?.tls || !sameCertificate(a.tls, b.tls)) continue;
            ctx.report(
              GatewayDuplicateCertificate,
              [[fullName(gw.metadata), fullName(other.metadata)]],
              ctx.originOf(gw),
              ["metadata", "name"],
            );
          }
        }
      }
    }
  },
};
