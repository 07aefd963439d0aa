/**
 * A WorkloadGroup readiness probe as the control plane pushes it to a proxy (part of
 * `ProxyConfig.healthProbe`), Istio's defaults filled in.
 * @module
 */

/** A WorkloadGroup readiness probe as a proxy runs it (Istio's defaults filled in). */
export interface HealthProbe {
  initialDelaySeconds: number;
  timeoutSeconds: number;
  periodSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  httpGet?: {
    path: string;
    port: number;
    host?: string;
    scheme: "HTTP" | "HTTPS";
    headers?: { name: string; value: string }[];
  };
  tcpSocket?: { host?: string; port: number };
  exec?: { command: string[] };
}
