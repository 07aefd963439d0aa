/**
 * Sidecar (`networking.istio.io`): ingress and egress listeners and the outbound policy.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkSelectorLabels,
  intRange,
  isDns1123Label,
  isHttpProtocol,
  isIP,
  namespacedHostProblem,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  protocol,
  quote,
  type Reporter,
  unixAddressProblem,
} from "./common.ts";
import { checkServerTls, serverTls } from "./gateway.ts";
import { destination, networkingSelector } from "./http_route.ts";
import { checkConnectionPool, connectionPool } from "./traffic_policy.ts";

const sidecarPort = z.strictObject({
  number: intRange(0, 65535).optional(),
  protocol: protocol.optional(),
  name: z.string().optional(),
  targetPort: portNumber.optional(),
});

const captureMode = z.enum(["DEFAULT", "IPTABLES", "NONE"]);

const sidecarIngress = z.strictObject({
  port: sidecarPort,
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  defaultEndpoint: z.string().optional(),
  tls: serverTls.optional(),
  connectionPool: connectionPool.optional(),
});

const sidecarEgress = z.strictObject({
  port: sidecarPort.optional(),
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  hosts: nonEmptyList(z.string(), "hosts must list at least one namespace/host, like ./*"),
});

const outboundTrafficPolicy = z.strictObject({
  mode: z.enum(["REGISTRY_ONLY", "ALLOW_ANY"]).optional(),
  egressProxy: destination.optional(),
});

/** The schema of a Sidecar `spec`. */
export const sidecarSpec = z.strictObject({
  workloadSelector: networkingSelector.optional(),
  ingress: z.array(sidecarIngress).optional(),
  egress: z.array(sidecarEgress).optional(),
  inboundConnectionPool: connectionPool.optional(),
  outboundTrafficPolicy: outboundTrafficPolicy.optional(),
});
/**
 * `spec` of a Sidecar. mesh enforces egress listeners that name a port (a
 * listener on `bind`, default 127.0.0.1, as with captureMode NONE), scoping (the
 * catch-all egress entry's hosts) and `outboundTrafficPolicy.mode`; ingress,
 * inboundConnectionPool and `egressProxy` are warned about.
 */
export type SidecarSpec = z.infer<typeof sidecarSpec>;

/** Checks a Sidecar spec. */
export function checkSidecar(spec: SidecarSpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  if (spec.workloadSelector) {
    checkSelectorLabels(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r);
  }
  if (
    !spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy &&
    !spec.inboundConnectionPool
  ) {
    r.error(
      base,
      "empty Sidecar; set egress, ingress, outboundTrafficPolicy or " +
        "inboundConnectionPool",
    );
  }
  const ingressPorts = new Map<number, number>();
  spec.ingress?.forEach((ing, i) => {
    const path = [...base, "ingress", i];
    checkSidecarPort(ing.port, [...path, "port"], r, ing.bind, false);
    const n = ing.port.number ?? 0;
    const earlier = ingressPorts.get(n);
    if (earlier !== undefined) {
      r.error([...path, "port", "number"], `port ${n} is already used by ingress[${earlier}]`);
    } else ingressPorts.set(n, i);
    if (ing.bind !== undefined && !isIP(ing.bind)) {
      r.error([...path, "bind"], `invalid bind ${quote(ing.bind)}; use an IP address`);
    }
    if (ing.defaultEndpoint !== undefined) {
      const problem = defaultEndpointProblem(ing.defaultEndpoint);
      if (problem) r.error([...path, "defaultEndpoint"], problem);
    }
    if (ing.tls) {
      const at = [...path, "tls"];
      if (ing.tls.subjectAltNames?.length) {
        r.error([...at, "subjectAltNames"], "subjectAltNames is not supported in ingress tls");
      }
      if (ing.tls.httpsRedirect) {
        r.error([...at, "httpsRedirect"], "httpsRedirect is not supported here");
      }
      if (ing.tls.credentialName) {
        r.error(
          [...at, "credentialName"],
          "credentialName is not supported in Sidecar ingress tls",
        );
      }
      if (ing.tls.mode === "ISTIO_MUTUAL" || ing.tls.mode === "AUTO_PASSTHROUGH") {
        r.error([...at, "mode"], `mode ${ing.tls.mode} can't be used in Sidecar ingress tls`);
      }
      checkServerTls(ing.tls, at, r);
    }
    if (ing.connectionPool) {
      checkConnectionPool(ing.connectionPool, [...path, "connectionPool"], r);
      if (ing.connectionPool.http && !isHttpProtocol(ing.port.protocol)) {
        r.warn(
          [...path, "connectionPool", "http"],
          "http connection pool settings apply only to HTTP ports; only tcp settings apply here",
        );
      }
    }
  });
  if (spec.inboundConnectionPool) {
    checkConnectionPool(spec.inboundConnectionPool, [...base, "inboundConnectionPool"], r);
  }
  // What mesh enforces of a Sidecar: egress listeners with a port, the catch-all egress hosts
  // (what the outbound listener may reach) and outboundTrafficPolicy.mode. The rest is warned.
  if (spec.ingress?.length) r.warn([...base, "ingress"], NOT_SUPPORTED);
  if (spec.inboundConnectionPool) r.warn([...base, "inboundConnectionPool"], NOT_SUPPORTED);
  if (spec.outboundTrafficPolicy?.egressProxy) {
    r.warn([...base, "outboundTrafficPolicy", "egressProxy"], NOT_SUPPORTED);
  }
  spec.egress?.forEach((eg, i) => {
    const path = [...base, "egress", i];
    if (eg.port === undefined) {
      for (const k of ["bind", "captureMode"] as const) {
        if (eg[k] !== undefined) r.warn([...path, k], NOT_SUPPORTED);
      }
      return;
    }
    const proto = (eg.port.protocol ?? "TCP").toUpperCase();
    if (proto !== "TCP" && proto !== "HTTP") {
      r.warn(
        [...path, "port", "protocol"],
        `protocol ${proto} is ${NOT_SUPPORTED} (TCP and HTTP are)`,
      );
    }
    if (eg.bind?.startsWith("unix://")) {
      r.warn([...path, "bind"], `unix sockets are ${NOT_SUPPORTED}`);
    }
    if (eg.captureMode && eg.captureMode !== "NONE") {
      r.warn(
        [...path, "captureMode"],
        `mesh captures no traffic; the listener binds ${
          eg.bind ?? "127.0.0.1"
        }:${eg.port.number} as with captureMode NONE`,
      );
    }
  });
  const egressPorts = new Map<string, number>();
  spec.egress?.forEach((eg, i) => {
    const path = [...base, "egress", i];
    if (eg.port === undefined) {
      if (i !== (spec.egress?.length ?? 0) - 1) {
        r.error(path, "only the last egress listener may omit port (it catches everything else)");
      }
    } else {
      checkSidecarPort(eg.port, [...path, "port"], r, eg.bind, true);
      const unix = eg.bind?.startsWith("unix://") ?? false;
      const key = eg.port.number ? `port ${eg.port.number}` : `bind ${eg.bind}`;
      const earlier = egressPorts.get(key);
      if (earlier !== undefined) {
        r.error([...path, "port"], `${key} is already used by egress[${earlier}]`);
      } else egressPorts.set(key, i);
      if (unix && eg.captureMode === "IPTABLES") {
        r.error([...path, "captureMode"], "unix socket listeners need captureMode DEFAULT or NONE");
      }
      if (eg.bind !== undefined && !unix && !isIP(eg.bind)) {
        r.error([...path, "bind"], `invalid bind ${quote(eg.bind)}; use an IP or unix:///path`);
      }
    }
    const seen = new Map<string, Set<string>>();
    eg.hosts.forEach((h, j) => {
      const problem = namespacedHostProblem(h, "Sidecar");
      if (problem) {
        r.error([...path, "hosts", j], problem);
        return;
      }
      const [ns0, host] = h.split("/", 2) as [string, string];
      const ns = ns0 === "." ? ctx.namespace : ns0;
      const hosts = seen.get(ns) ?? new Set<string>();
      if (hosts.has(host) || hosts.has("*") || (host === "*" && hosts.size > 0)) {
        r.warn([...path, "hosts", j], `duplicate egress host ${quote(h)}`);
      }
      hosts.add(host);
      seen.set(ns, hosts);
    });
    if (seen.get("*")?.has("*") && seen.size > 1) {
      r.warn([...path, "hosts"], '"*/*" already selects every host; the other entries add nothing');
    }
  });
  const otp = spec.outboundTrafficPolicy;
  if (otp?.egressProxy) {
    const at = [...base, "outboundTrafficPolicy", "egressProxy"];
    if (otp.mode !== "ALLOW_ANY") {
      r.error(at, "egressProxy needs outboundTrafficPolicy mode ALLOW_ANY");
    }
    if (!otp.egressProxy.port) r.error([...at, "port"], "egressProxy needs a port");
  }
}

function checkSidecarPort(
  port: z.infer<typeof sidecarPort>,
  path: Path,
  r: Reporter,
  bind: string | undefined,
  egress: boolean,
): void {
  if (port.name !== undefined && port.name !== "" && !isDns1123Label(port.name)) {
    r.error([...path, "name"], `invalid port name ${quote(port.name)}; use a DNS label like http`);
  }
  if (port.targetPort !== undefined) {
    r.error([...path, "targetPort"], "targetPort has no effect on Sidecars; remove it");
  }
  const n = port.number ?? 0;
  if (n === 0) {
    if (!egress || !bind?.startsWith("unix://")) {
      r.error([...path, "number"], "must be an integer from 1 to 65535 (0 only with a unix bind)");
    } else {
      const problem = unixAddressProblem(bind);
      if (problem) r.error([...path.slice(0, -1), "bind"], problem);
    }
  }
}

function defaultEndpointProblem(ep: string): string | undefined {
  if (ep.startsWith("unix://")) return unixAddressProblem(ep);
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]|):(\d{1,5})$/.exec(ep);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    return `invalid defaultEndpoint ${quote(ep)}; use 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, ` +
      "[::]:PORT or unix:///path";
  }
  return undefined;
}
