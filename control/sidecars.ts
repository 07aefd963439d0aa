/**
 * Sidecar resources → egress listeners. mesh captures no traffic, so a
 * Sidecar egress listener with a port is a listener on `bind` (default
 * 127.0.0.1), as Istio's captureMode NONE: HTTP ones are routed like the
 * outbound listener, TCP ones go to the one service their hosts select (split
 * by that service's VirtualService `tcp` route, when it has one).
 * @module
 */
import type { EgressListener, NodeInfo } from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import { hostMatches } from "../api/host.ts";
import type { Sidecar } from "../api/resources.ts";
import { labelsMatch, type ServiceRegistry } from "./registry.ts";
import { rootNamespaceOf, type Snapshot } from "./snapshot.ts";
import { sidecarVirtualHosts, tcpRouteFor } from "./routes.ts";

/** The Sidecar that applies to `node`: one selecting it, else its namespace's default, else the root namespace's. */
export function sidecarFor(snapshot: Snapshot, node: NodeInfo): Sidecar | undefined {
  const inNs = snapshot.sidecars.filter((s) => s.metadata.namespace === node.namespace);
  return inNs.find((s) =>
    s.spec.workloadSelector && labelsMatch(s.spec.workloadSelector.labels, node.labels)
  ) ??
    inNs.find((s) => !s.spec.workloadSelector) ??
    snapshot.sidecars.find((s) =>
      s.metadata.namespace === rootNamespaceOf(snapshot.mesh) &&
      !s.spec.workloadSelector
    );
}

/**
 * Whether a Sidecar egress host (`ns/host`, `./host`, `*\/host`) admits a service: `.` is the
 * workload's own namespace (also for a root-namespace default Sidecar), as Istio reads them;
 * `~` entries admit nothing (they exclude: {@linkcode excludes}).
 */
function admits(pattern: string, svcHost: string, svcNs: string, workloadNs: string): boolean {
  const [ns0, host] = pattern.includes("/") ? pattern.split("/", 2) : ["*", pattern];
  if (ns0.startsWith("~") || host === "~") return false;
  const ns = ns0 === "." ? workloadNs : ns0;
  if (ns !== "*" && ns !== svcNs) return false;
  return hostMatches(host.toLowerCase(), svcHost);
}

/**
 * Whether an exclusion (`~ns/host`, `~/host` for every namespace, `~./host`) removes a service,
 * as Istio reads them: the service's namespace (or every one) and a host pattern it matches.
 */
function excludes(pattern: string, svcHost: string, svcNs: string, workloadNs: string): boolean {
  const slash = pattern.indexOf("/");
  if (!pattern.startsWith("~") || slash < 0) return false;
  const ns0 = pattern.slice(1, slash);
  const ns = ns0 === "" ? "*" : ns0 === "." ? workloadNs : ns0;
  if (ns !== "*" && ns !== svcNs) return false;
  return hostMatches(pattern.slice(slash + 1).toLowerCase(), svcHost);
}

/** Whether an egress listener's hosts admit a service: one entry does and no exclusion removes it. */
export function sidecarHostsAdmit(
  hosts: readonly string[],
  svcHost: string,
  svcNs: string,
  workloadNs: string,
) {
  return !hosts.some((h) => excludes(h, svcHost, svcNs, workloadNs)) &&
    hosts.some((h) => admits(h, svcHost, svcNs, workloadNs));
}

/** The egress listeners of a sidecar node. */
export function egressListeners(
  snapshot: Snapshot,
  registry: ServiceRegistry,
  node: NodeInfo,
): EgressListener[] {
  const sc = sidecarFor(snapshot, node);
  if (!sc) return [];
  const out: EgressListener[] = [];
  (sc.spec.egress ?? []).forEach((eg, i) => {
    const number = eg.port?.number;
    if (!number || eg.bind?.startsWith("unix://")) return;
    const protocol = (eg.port?.protocol ?? "TCP").toUpperCase();
    if (protocol !== "HTTP" && protocol !== "TCP") return;
    const name = `${sc.metadata.namespace}/${sc.metadata.name}[${i}]`;
    const listener: EgressListener = { name, bind: eg.bind ?? "127.0.0.1", port: number, protocol };
    if (protocol === "HTTP") {
      // Routed like the outbound listener, over the services its hosts admit only.
      listener.virtualHosts = sidecarVirtualHosts(
        registry,
        snapshot.virtualServices,
        node.namespace,
        node.labels,
        (s) => sidecarHostsAdmit(eg.hosts, s.host, s.namespace, node.namespace),
      );
    }
    if (protocol === "TCP") {
      const svc = [...registry.services.values()]
        .sort((a, b) => a.host < b.host ? -1 : 1)
        .find((s) =>
          s.ports.some((p) => p.number === number) &&
          sidecarHostsAdmit(eg.hosts, s.host, s.namespace, node.namespace)
        );
      if (svc) {
        listener.cluster = clusterName(number, undefined, svc.host);
        // A VirtualService's `tcp` route for the service (weighted subsets, other hosts).
        const destinations = tcpRouteFor({
          virtualServices: snapshot.virtualServices,
          host: svc.host,
          port: number,
          registry,
          client: { namespace: node.namespace, labels: node.labels },
        });
        if (destinations) listener.destinations = destinations;
      }
    }
    out.push(listener);
  });
  return out;
}

/**
 * Which services `node`'s outbound listener may reach: the hosts of its Sidecar's egress
 * entry without a port (Istio's catch-all egress listener); undefined when no Sidecar
 * scopes it (every service).
 */
export function sidecarScope(
  snapshot: Snapshot,
  node: NodeInfo,
): ((svc: { host: string; namespace: string }) => boolean) | undefined {
  const sc = sidecarFor(snapshot, node);
  const catchAll = sc?.spec.egress?.find((eg) => eg.port === undefined);
  if (!sc || !catchAll) return undefined;
  return (svc) => sidecarHostsAdmit(catchAll.hosts, svc.host, svc.namespace, node.namespace);
}
