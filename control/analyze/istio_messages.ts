/**
 * Istio's message types beyond the core ones in `messages.ts`: the same code, name, level and
 * text (istioctl's templates) for the analyzers mesh implements. Import them from
 * `messages.ts`, which re-exports this module.
 * @module
 */
import { define, goList, goQuote } from "./message_type.ts";

/** A feature the configuration uses is deprecated. */
export const Deprecated = define(
  "IST0002",
  "Deprecated",
  "Warning",
  "The configuration uses a deprecated feature.",
  (detail: string) => `Deprecated: ${detail}`,
);

/** An Istio annotation on a kind it doesn't apply to. */
export const MisplacedAnnotation = define(
  "IST0107",
  "MisplacedAnnotation",
  "Warning",
  "An Istio annotation is on a kind of resource it does not apply to.",
  (annotation: string, kind: string) =>
    `Misplaced annotation: ${annotation} can only be applied to ${kind}`,
);

/** An annotation in Istio's namespace that Istio doesn't define. */
export const UnknownAnnotation = define(
  "IST0108",
  "UnknownAnnotation",
  "Warning",
  "An annotation in an Istio domain is not one Istio defines.",
  (annotation: string) => `Unknown annotation: ${annotation}`,
);

/** Two or more Sidecars select the same workload. */
export const ConflictingSidecarWorkloadSelectors = define(
  "IST0110",
  "ConflictingSidecarWorkloadSelectors",
  "Error",
  "More than one Sidecar selects the same workload.",
  (sidecars: readonly string[], namespace: string, pod: string) =>
    `The Sidecars ${goList(sidecars)} in namespace ${goQuote(namespace)} select the same ` +
    `workload pod ${goQuote(pod)}, which can lead to undefined behavior.`,
);

/** Two or more Sidecars of a namespace have no workload selector. */
export const MultipleSidecarsWithoutWorkloadSelectors = define(
  "IST0111",
  "MultipleSidecarsWithoutWorkloadSelectors",
  "Error",
  "More than one Sidecar in a namespace has no workload selector.",
  (sidecars: readonly string[], namespace: string) =>
    `The Sidecars ${goList(sidecars)} in namespace ${goQuote(namespace)} have no workload ` +
    "selector, which can lead to undefined behavior.",
);

/** Services of one Deployment give one port different protocols. */
export const DeploymentAssociatedToMultipleServices = define(
  "IST0116",
  "DeploymentAssociatedToMultipleServices",
  "Warning",
  "The Services selecting a Deployment use one port with different protocols.",
  (deployment: string, port: number, services: readonly string[]) =>
    `This deployment ${deployment} is associated with multiple services using port ${port} ` +
    `but different protocols: ${goList(services)}`,
);

/** A Service port whose name doesn't tell Istio its protocol. */
export const PortNameIsNotUnderNamingConvention = define(
  "IST0118",
  "PortNameIsNotUnderNamingConvention",
  "Info",
  "A Service port name does not follow Istio's protocol naming convention.",
  (portName: string, port: number, targetPort: string) =>
    `Port name ${portName} (port: ${port}, targetPort: ${targetPort}) doesn't follow the ` +
    "naming convention of Istio port.",
);

/** An Istio annotation with a value Istio rejects. */
export const InvalidAnnotation = define(
  "IST0125",
  "InvalidAnnotation",
  "Warning",
  "An Istio annotation has an invalid value.",
  (annotation: string, problem: string) => `Invalid annotation ${annotation}: ${problem}`,
);

/** A policy that selects no workload. */
export const NoMatchingWorkloadsFound = define(
  "IST0127",
  "NoMatchingWorkloadsFound",
  "Warning",
  "No workload matches the resource's selector.",
  (labels: string) =>
    `No matching workloads for this resource with the following labels: ${labels}`,
);

/** A DestinationRule originates TLS without verifying the server. */
export const NoServerCertificateVerificationDestinationLevel = define(
  "IST0128",
  "NoServerCertificateVerificationDestinationLevel",
  "Warning",
  "A DestinationRule's TLS settings verify no server certificate.",
  (dr: string, namespace: string, mode: string, host: string) =>
    `DestinationRule ${dr} in namespace ${namespace} has TLS mode set to ${mode} but no ` +
    `caCertificates are set to validate server identity for host: ${host}`,
);

/** A DestinationRule's port-level TLS verifies no server certificate. */
export const NoServerCertificateVerificationPortLevel = define(
  "IST0129",
  "NoServerCertificateVerificationPortLevel",
  "Warning",
  "A DestinationRule's port-level TLS settings verify no server certificate.",
  (dr: string, namespace: string, mode: string, host: string, port: string) =>
    `DestinationRule ${dr} in namespace ${namespace} has TLS mode set to ${mode} but no ` +
    `caCertificates are set to validate server identity for host: ${host} at port ${port}`,
);

/** A ServiceEntry with TCP ports and no addresses. */
export const ServiceEntryAddressesRequired = define(
  "IST0134",
  "ServiceEntryAddressesRequired",
  "Warning",
  "A ServiceEntry has a TCP (or unset) protocol port but no addresses.",
  () => "ServiceEntry addresses are required for this protocol.",
);

/** A deprecated Istio annotation. */
export const DeprecatedAnnotation = define(
  "IST0135",
  "DeprecatedAnnotation",
  "Info",
  "An Istio annotation is deprecated.",
  (annotation: string, extra: string) =>
    `Annotation ${goQuote(annotation)} has been deprecated${extra} and may not work in future ` +
    "Istio versions.",
);

/** Services of one Deployment map one targetPort from different ports. */
export const DeploymentConflictingPorts = define(
  "IST0137",
  "DeploymentConflictingPorts",
  "Warning",
  "The Services selecting a Deployment use one targetPort with different ports.",
  (deployment: string, services: readonly string[], targetPort: string, ports: readonly number[]) =>
    `This deployment ${deployment} is associated with multiple services ${goList(services)} ` +
    `using targetPort ${goQuote(targetPort)} but different ports: ${goList(ports)}.`,
);

/** Gateways for the same workloads share a certificate. */
export const GatewayDuplicateCertificate = define(
  "IST0138",
  "GatewayDuplicateCertificate",
  "Warning",
  "Gateways of the same workloads use the same certificate.",
  (gateways: readonly string[]) =>
    `Duplicate certificate in multiple gateways ${goList(gateways)} may cause 404s if clients ` +
    "re-use HTTP2 connections.",
);

/** A gateway route without subset to a host another VirtualService splits by subset. */
export const IngressRouteRulesNotAffected = define(
  "IST0140",
  "IngressRouteRulesNotAffected",
  "Warning",
  "Subsets of a mesh VirtualService don't apply to requests a gateway routes to the host.",
  (vsWithSubset: string, vs: string) =>
    `Subset in virtual service ${vsWithSubset} has no effect on ingress gateway ${vs} requests`,
);

/** A workload runs as the sidecar's user id. */
export const InvalidApplicationUID = define(
  "IST0144",
  "InvalidApplicationUID",
  "Warning",
  "An application runs as UID 1337, the sidecar proxy's.",
  () => "User ID (UID) 1337 is reserved for the sidecar proxy.",
);

/** Gateways of the same workloads claim one port and host. */
export const ConflictingGateways = define(
  "IST0145",
  "ConflictingGateways",
  "Error",
  "Gateways select the same workloads and define the same port and host.",
  (gateways: string, selector: string, port: string, hosts: string) =>
    `Conflict with gateways ${gateways} (workload selector ${selector}, port ${port}, ` +
    `hosts ${hosts}).`,
);

/** JWT claim routing on a gateway without RequestAuthentication. */
export const JwtClaimBasedRoutingWithoutRequestAuthN = define(
  "IST0149",
  "JwtClaimBasedRoutingWithoutRequestAuthN",
  "Error",
  "A VirtualService routes on JWT claims but no RequestAuthentication applies to the gateway.",
  (key: string, gateway: string, pod: string) =>
    `The virtual service uses the JWT claim based routing (key: ${key}) but found no request ` +
    `authentication for the gateway (${gateway}) pod (${pod}). The request authentication must ` +
    "first be applied for the gateway pods to validate the JWT token and make the claims " +
    "available for routing.",
);

/** An ExternalName Service with a port name Istio can't use. */
export const ExternalNameServiceTypeInvalidPortName = define(
  "IST0150",
  "ExternalNameServiceTypeInvalidPortName",
  "Warning",
  "An ExternalName Service's port name does not name a protocol Istio can forward.",
  () =>
    "Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and " +
    "unmatched traffic for ports serving TCP protocol from being forwarded correctly",
);

/** Telemetry access logging without providers and no default. */
export const InvalidTelemetryProvider = define(
  "IST0157",
  "InvalidTelemetryProvider",
  "Warning",
  "A Telemetry access logging entry names no provider and the mesh has no default.",
  (name: string, namespace: string) =>
    `The Telemetry ${name} in namespace ${goQuote(namespace)} with empty providers will be ` +
    "ignored.",
);

/** Two or more Telemetries select the same workload. */
export const ConflictingTelemetryWorkloadSelectors = define(
  "IST0159",
  "ConflictingTelemetryWorkloadSelectors",
  "Error",
  "More than one Telemetry selects the same workload.",
  (telemetries: readonly string[], namespace: string, pod: string) =>
    `The Telemetries ${goList(telemetries)} in namespace ${goQuote(namespace)} select the ` +
    `same workload pod ${goQuote(pod)}, which can lead to undefined behavior.`,
);

/** Two or more Telemetries of a namespace have no selector. */
export const MultipleTelemetriesWithoutWorkloadSelectors = define(
  "IST0160",
  "MultipleTelemetriesWithoutWorkloadSelectors",
  "Error",
  "More than one Telemetry in a namespace has no workload selector.",
  (telemetries: readonly string[], namespace: string) =>
    `The Telemetries ${goList(telemetries)} in namespace ${goQuote(namespace)} have no ` +
    "workload selector, which can lead to undefined behavior.",
);

/** A Gateway's credential Secret is not a usable certificate. */
export const InvalidGatewayCredential = define(
  "IST0161",
  "InvalidGatewayCredential",
  "Error",
  "The Secret a Gateway server's credentialName names holds no valid certificate.",
  (gateway: string, namespace: string) =>
    `The credential referenced by the Gateway ${gateway} in namespace ${namespace} is ` +
    "invalid, which can cause the traffic not to work as expected.",
);

/** A VirtualService bound to a Gateway generated from a Gateway API Gateway. */
export const ReferencedInternalGateway = define(
  "IST0165",
  "ReferencedInternalGateway",
  "Warning",
  "A VirtualService names a Gateway the implementation generates for a Gateway API Gateway.",
  (vs: string, gateway: string) =>
    `Gateway reference in VirtualService ${vs} is to an implementation-generated internal ` +
    `Gateway: ${gateway}.`,
);

/** A policy selector that matches Gateway API gateway pods. */
export const IneffectiveSelector = define(
  "IST0166",
  "IneffectiveSelector",
  "Warning",
  "A policy's workload selector matches a Gateway API gateway, where it has no effect.",
  (gateway: string) =>
    `Ineffective selector on Kubernetes Gateway ${gateway}. Use the TargetRef field instead.`,
);

/** A policy that can't apply (ambient workloads have no sidecar). */
export const IneffectivePolicy = define(
  "IST0167",
  "IneffectivePolicy",
  "Warning",
  "The policy has no effect.",
  (reason: string) => `The policy has no impact: ${reason}.`,
);

/** A status condition that reports a problem. */
export const NegativeConditionStatus = define(
  "IST0171",
  "NegativeConditionStatus",
  "Warning",
  "A status condition of the resource reports a problem.",
  (type: string, reason: string, message: string) =>
    `A condition with a negative status is present: type=${type}, reason=${reason}, ` +
    `message=${message}.`,
);

/** A DestinationRule subset that selects no workload. */
export const DestinationRuleSubsetNotSelectPods = define(
  "IST0173",
  "DestinationRuleSubsetNotSelectPods",
  "Error",
  "A DestinationRule subset selects no workload.",
  (subset: string) =>
    `The Subset ${subset} defined in the DestinationRule does not select any pods. Which may ` +
    "lead to 503 UH (NoHealthyUpstream).",
);
