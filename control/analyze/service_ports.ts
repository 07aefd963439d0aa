/**
 * Service port names (Istio's `service.PortNameAnalyzer`): a port whose name (or
 * `appProtocol`) doesn't tell Istio its protocol is `IST0118`; on an `ExternalName` Service,
 * such a port (or one named `tcp`) is `IST0150` instead. Istio's own Services (labels `istio`
 * or `release: istio`) and Services its gateway controllers manage are skipped.
 *
 * The protocol is read as Istio reads it: UDP ports are UDP; `appProtocol` wins over the name
 * (with Kubernetes' `kubernetes.io/h2c`, `ws` and `wss`); `grpc-web...`, else the part before
 * the first `-` (`http-web` is HTTP); unknown names on ports 25, 53, 3306 and 27017 are TCP.
 * @module
 */
import {
  ExternalNameServiceTypeInvalidPortName,
  PortNameIsNotUnderNamingConvention,
} from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import type { KubeServicePort } from "./k8s.ts";

const PROTOCOLS = new Set([
  "tcp",
  "udp",
  "grpc",
  "grpc-web",
  "http",
  "http_proxy",
  "http2",
  "https",
  "tls",
  "mongo",
  "redis",
  "mysql",
]);
const WELL_KNOWN_TCP = new Set([25, 53, 3306, 27017]);
const APP_PROTOCOLS = new Set(["kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"]);

/** Whether Istio can tell the protocol of a Service port from its name or `appProtocol`. */
export function protocolKnown(p: KubeServicePort): boolean {
  if (p.protocol === "UDP") return true;
  let name = p.appProtocol ?? p.name ?? "";
  if (p.appProtocol !== undefined && APP_PROTOCOLS.has(name)) return true;
  if (name.toLowerCase().startsWith("grpc-web")) return true;
  const dash = name.indexOf("-");
  if (dash >= 0) name = name.slice(0, dash);
  return PROTOCOLS.has(name.toLowerCase()) || WELL_KNOWN_TCP.has(p.port);
}

/** Labels of the Services Istio's gateway controllers create. */
const MANAGED = [
  "istio.io-gateway-controller",
  "istio.io-mesh-controller",
  "istio.io-eastwest-controller",
];

/** Checks that Service port names follow Istio's protocol naming. */
export const servicePortAnalyzer: Analyzer = {
  name: "service.PortNameAnalyzer",
  description: "Checks the port names associated with each service",
  codes: [PortNameIsNotUnderNamingConvention.code, ExternalNameServiceTypeInvalidPortName.code],
  analyze(ctx: AnalysisContext): void {
    for (const svc of ctx.services) {
      if ("istio" in svc.labels || svc.labels.release === "istio") continue;
      if (MANAGED.includes(svc.labels["gateway.istio.io/managed"] ?? "")) continue;
      const external = svc.serviceType === "ExternalName";
      svc.ports.forEach((p, i) => {
        if (protocolKnown(p) && !(p.name === "tcp" && external)) return;
        const path = ["spec", "ports", i];
        if (external) ctx.report(ExternalNameServiceTypeInvalidPortName, [], svc.origin, path);
        else {
          ctx.report(
            PortNameIsNotUnderNamingConvention,
            [p.name ?? "", p.port, p.targetPort === undefined ? "0" : String(p.targetPort)],
            svc.origin,
            path,
          );
        }
      });
    }
  },
};
