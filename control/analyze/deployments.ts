/**
 * Deployments against the Services that select them, and the user id they run as:
 *
 * - `deployment.MultiServiceAnalyzer`: the Services (of its namespace, with a selector) that
 *   select a Deployment's pods use one port with different protocols (`IST0116`), or map one
 *   `targetPort` (the port itself when unset) from different ports (`IST0137`). Waypoint
 *   Deployments (`gateway.istio.io/managed: istio.io-mesh-controller`) are skipped;
 * - `applicationUID.Analyzer`: a Pod or Deployment whose pod, or a container other than
 *   `istio-proxy` and `istio-operator`, runs as user 1337 (the sidecar's) is `IST0144`.
 *   Istio's own workloads (labels `istio`, or `release: istio`) are skipped.
 *
 * mesh injects no sidecars, so a Deployment counts as in the mesh unless it opts out the way
 * Istio's injection reads it (see {@linkcode inMesh}); istioctl counts only those with a
 * sidecar or injection enabled.
 * @module
 */
import {
  DeploymentAssociatedToMultipleServices,
  DeploymentConflictingPorts,
  InvalidApplicationUID,
} from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { type KubeService, selectorMatches, type Workload } from "./k8s.ts";

/**
 * Whether a workload is in the mesh. Istio's rule (an `istio-proxy` container, else the
 * `sidecar.istio.io/inject` label, else that annotation, else the namespace's
 * `istio-injection` label), except that mesh, which injects nothing, takes a workload without
 * any of these as in the mesh rather than out: only an explicit `"false"` (or a namespace
 * without `istio-injection: enabled` when the label is set there) leaves it out.
 */
export function inMesh(ctx: AnalysisContext, w: Workload): boolean {
  if (w.synthetic) return true;
  if ((w.containers ?? []).some((c) => c.name === "istio-proxy" && c.image)) return true;
  const label = w.labels["sidecar.istio.io/inject"];
  if (label !== undefined) return label === "true";
  const annotation = w.podAnnotations?.["sidecar.istio.io/inject"];
  if (annotation !== undefined) return annotation === "true";
  const ns = ctx.namespaces.find((n) => n.name === w.namespace);
  const injection = ns?.labels["istio-injection"];
  return injection === undefined || injection === "enabled";
}

function servicesOf(ctx: AnalysisContext, d: Workload): KubeService[] {
  return ctx.services.filter((s) =>
    s.namespace === d.namespace && s.selector !== undefined &&
    Object.keys(s.selector).length > 0 && selectorMatches(s.selector, d.labels)
  );
}

function deployments(ctx: AnalysisContext): Workload[] {
  return ctx.workloads.filter((w) => w.origin.kind === "Deployment");
}

/** Checks the Services of each Deployment for conflicting ports. */
export const deploymentServicesAnalyzer: Analyzer = {
  name: "deployment.MultiServiceAnalyzer",
  description: "Checks association between services and pods",
  codes: [DeploymentAssociatedToMultipleServices.code, DeploymentConflictingPorts.code],
  analyze(ctx: AnalysisContext): void {
    for (const d of deployments(ctx)) {
      if (d.meta?.labels["gateway.istio.io/managed"] === "istio.io-mesh-controller") continue;
      if (!inMesh(ctx, d)) continue;
      const services = servicesOf(ctx, d);
      // port -> protocol -> service names
      const byPort = new Map<number, Map<string, string[]>>();
      // targetPort -> port -> service name
      const byTarget = new Map<string, Map<number, string>>();
      for (const svc of services) {
        const name = fullName(svc);
        for (const p of svc.ports) {
          const protocols = byPort.get(p.port) ?? new Map<string, string[]>();
          byPort.set(p.port, protocols);
          protocols.set(p.protocol, [...(protocols.get(p.protocol) ?? []), name]);
          const t = p.targetPort === undefined || p.targetPort === 0 || p.targetPort === ""
            ? String(p.port)
            : String(p.targetPort);
          const ports = byTarget.get(t) ?? new Map<number, string>();
          byTarget.set(t, ports);
          ports.set(p.port, name);
        }
      }
      for (const [port, protocols] of byPort) {
        if (protocols.size < 2) continue;
        const names = [...protocols.values()].flat().sort();
        ctx.report(DeploymentAssociatedToMultipleServices, [d.name, port, names], d.origin, [
          "metadata",
          "name",
        ]);
      }
      for (const [target, ports] of byTarget) {
        if (ports.size < 2) continue;
        ctx.report(
          DeploymentConflictingPorts,
          [d.name, [...ports.values()].sort(), target, [...ports.keys()].sort((a, b) => a - b)],
          d.origin,
          ["metadata", "name"],
        );
      }
    }
  },
};

const SIDECAR_UID = 1337;

/** Checks that applications don't run as the sidecar's user id. */
export const applicationUidAnalyzer: Analyzer = {
  name: "applicationUID.Analyzer",
  description: "Checks invalid application UID",
  codes: [InvalidApplicationUID.code],
  analyze(ctx: AnalysisContext): void {
    for (const w of ctx.workloads) {
      if (w.origin.kind !== "Pod" && w.origin.kind !== "Deployment") continue;
      const labels = w.meta?.labels ?? {};
      if ("istio" in labels || labels.release === "istio") continue;
      const uids = [
        w.runAsUser,
        ...(w.containers ?? [])
          .filter((c) => c.name !== "istio-proxy" && c.name !== "istio-operator")
          .map((c) => c.runAsUser),
      ];
      if (uids.includes(SIDECAR_UID)) ctx.report(InvalidApplicationUID, [], w.origin);
    }
  },
};
