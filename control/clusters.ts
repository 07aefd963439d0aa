/**
 * Services, DestinationRules and workloads → clusters with endpoints.
 * One cluster per service port, plus one per DestinationRule subset.
 * @module
 */
import type { Cluster, Endpoint } from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import { fqdn } from "../api/host.ts";
import {
  labelsMatch,
  type ServicePort,
  type ServiceRegistry,
  type WorkloadInstance,
} from "./registry.ts";
import type { DestinationRule } from "../api/resources.ts";

function endpointOf(
  inst: WorkloadInstance,
  port: ServicePort,
  tlsMode: string | undefined,
): Endpoint {
  if (inst.inboundPort !== undefined && tlsMode !== "DISABLE") {
    return {
      address: inst.address,
      port: inst.inboundPort,
      mtls: true,
      identity: inst.identity,
      labels: inst.labels,
    };
  }
  const target = inst.ports?.[port.name] ?? port.targetPort ?? port.number;
  return {
    address: inst.address,
    port: target,
    mtls: tlsMode === "ISTIO_MUTUAL",
    labels: inst.labels,
  };
}

function lbOf(dr: DestinationRule | undefined): Cluster["lb"] {
  return dr?.spec.trafficPolicy?.loadBalancer?.simple === "RANDOM" ? "RANDOM" : "ROUND_ROBIN";
}

/** All clusters of the registry, keyed by name. */
export function buildClusters(registry: ServiceRegistry): Record<string, Cluster> {
  const out: Record<string, Cluster> = {};
  for (const svc of registry.services.values()) {
    const dr = registry.destinationRule(svc.host, fqdn);
    const tlsMode = dr?.spec.trafficPolicy?.tls?.mode;
    const instances = registry.instances(svc.host);
    for (const port of svc.ports) {
      const all = instances.map((i) => endpointOf(i, port, tlsMode));
      const name = clusterName(port.number, undefined, svc.host);
      out[name] = { name, host: svc.host, port: port.number, lb: lbOf(dr), endpoints: all };
      for (const subset of dr?.spec.subsets ?? []) {
        const sname = clusterName(port.number, subset.name, svc.host);
        out[sname] = {
          name: sname,
          host: svc.host,
          port: port.number,
          subset: subset.name,
          lb: lbOf(dr),
          endpoints: all.filter((e) => labelsMatch(subset.labels, e.labels)),
        };
      }
    }
  }
  return out;
}
