/**
 * Sidecar (`networking.istio.io`): ingress and egress listeners and the outbound policy.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  intRange,
  isHttpProtocol,
  isTlsProtocol,
  labelMap,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  PROTOCOLS,
  quote,
  type Reporter,
  unixAddressProblem,
} from "./common.ts";
import { checkServerTls, serverTls } from "./gateway.ts";
import {
  atoiPort,
  fqdnProblem,
  isGoIP,
  isIstioLabel,
  namespacedHostProblem,
  splitHostPort,
  wildcardDomainProblem,
} from "./server_hosts.ts";
import { checkConnectionPool, connectionPool } from "./traffic_policy.ts";

const sidecarPort = z.strictObject({
  number: intRange(0, 65535).optional(),
  /** Empty (or unset): the protocol is sniffed. */
  protocol: z.preprocess(
    (v) => (v === "" ? undefined : typeof v === "string" ? v.toUpperCase() : v),
    z.enum(PROTOCOLS).optional(),
  ),
  name: z.string().optional(),
  targetPort: intRange(0, 4294967295).optional(),
});

/** `Sidecar.workloadSelector`: labels only (checked as Istio does, not as Kubernetes labels). */
const sidecarSelector = z.strictObject({ labels: labelMap.optional() });

/** `outboundTrafficPolicy.egressProxy`: a Destination whose port is a number. */
const egressProxy = z.strictObject({
  host: z.string(),
  subset: z.string().optional(),
  port: z.strictObject({ number: intRange(0, 4294967295).optional() }).optional(),
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
  egressProxy: egressProxy.optional(),
});

/** The schema of a Sidecar `spec`. */
export const sidecarSpec = z.strictObject({
  workloadSelector: sidecarSelector.optional(),
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

/** Checks a Sidecar spec as Istio's ValidateSidecar does. */
export function checkSidecar(spec: SidecarSpec, r: Reporter, ctx: CheckContext): void {
  const base: Path = ["spec"];
  if (spec.workloadSelector) checkSelector(spec.workloadSelector.labels, r);
  if (
    !spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy &&
    !spec.inboundConnectionPool
  ) {
    r.error(
      base,
      "empty Sidecar; set egress, ingress, outboundTrafficPolicy or inboundConnectionPool",
    );
  }
  const ingressPorts = new Map<number, number>();
  spec.ingress?.forEach((ing, i) => {
    const path = [...base, "ingress", i];
    checkPort(ing.port, [...path, "port"], r);
    if (!ing.port.number || ing.port.number > 65535) {
      r.error([...path, "port", "number"], "must be an integer from 1 to 65535");
    }
    if (ing.bind && !isGoIP(ing.bind)) {
      r.error([...path, "bind"], `invalid bind ${quote(ing.bind)}; use an IP address`);
    }
    const n = ing.port.number ?? 0;
    const earlier = ingressPorts.get(n);
    if (earlier !== undefined) {
      r.error([...path, "port", "number"], `port ${n} is already used by ingress[${earlier}]`);
    } else ingressPorts.set(n, i);
    if (ing.defaultEndpoint) {
      const problem = defaultEndpointProblem(ing.defaultEndpoint);
      if (problem) r.error([...path, "defaultEndpoint"], problem);
    }
    if (ing.tls) checkIngressTls(ing, [...path, "tls"], r);
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
  checkEgress(spec, r, ctx);
  const otp = spec.outboundTrafficPolicy;
  if (otp?.egressProxy) checkEgressProxy(otp.egressProxy, otp.mode, r);
  warnWhatMeshIgnores(spec, r);
}

/** Istio's ValidateAlphaWorkloadSelector and the CRD's limits on `workloadSelector.labels`. */
function checkSelector(labels: Record<string, string> | undefined, r: Reporter): void {
  const path: Path = ["spec", "workloadSelector", "labels"];
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) {
    r.warn(path, "a selector without labels selects every workload in the namespace");
  }
  if (entries.length > 256) {
    r.error(path, `a selector may have at most 256 labels; this one has ${entries.length}`);
  }
  for (const [key, value] of entries) {
    if (key === "") r.error([...path, key], "label keys may not be empty");
    if (key.includes("*") || value.includes("*")) {
      r.error(
        [...path, key],
        `wildcards are not allowed in selectors (${quote(`${key}=${value}`)})`,
      );
    }
    if (value.length > 63) {
      r.error(
        [...path, key],
        `label values are at most 63 characters; this one has ${value.length}`,
      );
    }
  }
}

type Port = z.infer<typeof sidecarPort>;

/** The name and targetPort of a Sidecar port (protocols are checked by the schema). */
function checkPort(port: Port, path: Path, r: Reporter): void {
  if (port.name && !isIstioLabel(port.name)) {
    r.error([...path, "name"], `invalid port name ${quote(port.name)}; use a DNS label like http`);
  }
  if (port.targetPort) {
    r.error([...path, "targetPort"], "targetPort has no effect on Sidecars; remove it");
  }
}

type Ingress = NonNullable<SidecarSpec["ingress"]>[number];

/** What a Sidecar ingress listener's `tls` may not have, then Istio's validateTLSOptions. */
function checkIngressTls(ing: Ingress, path: Path, r: Reporter): void {
  const tls = ing.tls!;
  const notHere = (field: string) =>
    r.error(
      [...path, field],
      `${field} is not supported in Sidecar ingress tls`,
    );
  if (tls.subjectAltNames?.length) notHere("subjectAltNames");
  if (tls.httpsRedirect) notHere("httpsRedirect");
  if (tls.credentialName) notHere("credentialName");
  if (tls.credentialNames?.length) notHere("credentialNames");
  if (tls.tlsCertificates?.length) notHere("tlsCertificates");
  if (tls.mode === "ISTIO_MUTUAL" || tls.mode === "AUTO_PASSTHROUGH") {
    r.error([...path, "mode"], `mode ${tls.mode} can't be used in Sidecar ingress tls`);
  }
  if (!isTlsProtocol(ing.port.protocol)) {
    r.error(
      path,
      `a ${ing.port.protocol || "sniffed"} port can't have TLS settings; use HTTPS or TLS`,
    );
  }
  checkServerTls(tls, path, r);
}

/** Egress listeners: ports, binds, capture modes and hosts. */
function checkEgress(spec: SidecarSpec, r: Reporter, ctx: CheckContext): void {
  const ports = new Map<number, number>();
  const sockets = new Map<string, number>();
  const last = (spec.egress?.length ?? 0) - 1;
  spec.egress?.forEach((eg, i) => {
    const path: Path = ["spec", "egress", i];
    if (eg.port === undefined) {
      if (i !== last) {
        r.error(path, "only the last egress listener may omit port (it catches everything else)");
      }
    } else {
      checkPort(eg.port, [...path, "port"], r);
      const n = eg.port.number ?? 0;
      const bind = eg.bind ?? "";
      if (n === 0) {
        if (!bind.startsWith("unix://")) {
          r.error([...path, "port", "number"], "port 0 needs a unix:///path bind (a unix socket)");
        } else {
          const problem = unixAddressProblem(bind);
          if (problem) r.error([...path, "bind"], problem);
        }
        if (eg.captureMode === "IPTABLES") {
          r.error(
            [...path, "captureMode"],
            "unix socket listeners need captureMode DEFAULT or NONE",
          );
        }
      } else if (bind && !isGoIP(bind)) {
        r.error(
          [...path, "bind"],
          `invalid bind ${quote(bind)}; use an IP or, with port 0, unix:///path`,
        );
      }
      const [seen, key] = n === 0 ? [sockets, bind] as const : [ports, n] as const;
      const earlier = (seen as Map<typeof key, number>).get(key);
      if (earlier !== undefined) {
        const what = n === 0 ? `bind ${bind}` : `port ${n}`;
        r.error([...path, "port"], `${what} is already used by egress[${earlier}]`);
      } else (seen as Map<typeof key, number>).set(key, i);
    }
    checkEgressHosts(eg.hosts, path, r, ctx);
  });
}

/** Egress hosts: each `namespace/host`, and duplicates (warned, as Istio does). */
function checkEgressHosts(hosts: string[], path: Path, r: Reporter, ctx: CheckContext): void {
  const seen = new Map<string, Set<string>>();
  hosts.forEach((h, j) => {
    const problem = namespacedHostProblem(h, "Sidecar");
    if (problem) r.error([...path, "hosts", j], problem);
    const slash = h.indexOf("/");
    if (slash < 0 || h.startsWith("~")) return; // exclusions are never duplicates
    const ns = h.slice(0, slash) === "." ? ctx.namespace : h.slice(0, slash);
    const host = h.slice(slash + 1);
    const known = seen.get(ns) ?? new Set<string>();
    if (host === "*" ? known.size > 0 : known.has(host) || known.has("*")) {
      r.warn([...path, "hosts", j], `duplicate egress host ${quote(h)}`);
    }
    known.add(host);
    seen.set(ns, known);
  });
  if (seen.get("*")?.has("*") && seen.size > 1) {
    r.warn([...path, "hosts"], '"*/*" already selects every host; the other entries add nothing');
  }
}

type EgressProxy = z.infer<typeof egressProxy>;

/** Istio's validateSidecarOutboundTrafficPolicy. */
function checkEgressProxy(proxy: EgressProxy, mode: string | undefined, r: Reporter): void {
  const at: Path = ["spec", "outboundTrafficPolicy", "egressProxy"];
  if (mode !== "ALLOW_ANY") {
    r.error(at, "egressProxy needs outboundTrafficPolicy mode ALLOW_ANY");
    return;
  }
  const problem = fqdnProblem(proxy.host) ??
    (proxy.host === "*" ? "it is *" : wildcardDomainProblem(proxy.host));
  if (problem) {
    r.error([...at, "host"], `invalid egressProxy host ${quote(proxy.host)}: ${problem}`);
  }
  if (!proxy.port) {
    r.error([...at, "port"], "egressProxy needs a port");
    return;
  }
  if (proxy.subset && !isIstioLabel(proxy.subset)) {
    r.error(
      [...at, "subset"],
      `invalid subset name ${quote(proxy.subset)}; use a DNS label like v1`,
    );
  }
  const n = proxy.port.number ?? 0;
  if (n < 1 || n > 65535) {
    r.error([...at, "port", "number"], `must be an integer from 1 to 65535; got ${n}`);
  }
}

/**
 * What mesh enforces of a Sidecar: egress listeners with a port (a listener on `bind`, default
 * 127.0.0.1, as with captureMode NONE), the catch-all egress hosts (what the outbound listener
 * may reach) and `outboundTrafficPolicy.mode`. The rest is warned about here.
 */
function warnWhatMeshIgnores(spec: SidecarSpec, r: Reporter): void {
  const base: Path = ["spec"];
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
    const proto = eg.port.protocol || "TCP";
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
        `capturing traffic is ${NOT_SUPPORTED}: the listener binds ${eg.bind ?? "127.0.0.1"}:` +
          `${eg.port.number} as with captureMode NONE`,
      );
    }
  });
}

/**
 * Istio's rule for `defaultEndpoint`: `unix:///path` or `@abstract`, or `host:port` where host
 * is empty, 127.0.0.1, 0.0.0.0, [::1] or [::] and port is 1..65535.
 */
function defaultEndpointProblem(ep: string): string | undefined {
  if (ep.startsWith("unix://")) return unixAddressProblem(ep);
  const split = splitHostPort(ep);
  const local = ["", "127.0.0.1", "0.0.0.0", "::1", "::"];
  const port = split && atoiPort(split.port);
  if (!split || !local.includes(split.host) || port === undefined || port < 1 || port > 65535) {
    return `invalid defaultEndpoint ${quote(ep)}; use 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, ` +
      "[::]:PORT, :PORT or unix:///path";
  }
  return undefined;
}
