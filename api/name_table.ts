/**
 * One service of a sidecar's name table as the control plane pushes it (`ProxyConfig.names`):
 * what its DNS proxy answers and how transparent capture maps a destination to a service.
 * @module
 */

/** One service in a sidecar's name table. */
export interface NameEntry {
  /** The service's host (lower case; `*.example.com` for a wildcard, which has no address). */
  host: string;
  /** The namespace of the ServiceEntry or Kubernetes Service (short names resolve in it). */
  namespace: string;
  /** Its addresses: the ServiceEntry's `addresses`, a Service's cluster IP, or `auto`'s. */
  addresses: string[];
  /** The address was allocated by the control plane (240.240.0.0/16), not declared. */
  auto?: true;
  /**
   * Its ports and their protocols (`HTTP`, `TCP`, `GRPC`, ...); `sniff` when the port declares
   * none (a captured connection's first bytes decide, as Istio's protocol detection).
   */
  ports: NamePort[];
}

/** A port of a name-table service. */
export interface NamePort {
  port: number;
  protocol: string;
  /** No declared protocol: a captured connection's first bytes decide (Istio's detection). */
  sniff?: true;
  /**
   * A TCP port's weighted clusters from a VirtualService `tcp` route visible to the proxy;
   * absent: the service's own cluster.
   */
  destinations?: { cluster: string; weight: number }[];
}
