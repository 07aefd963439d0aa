/**
 * Gateway (`networking.istio.io`): servers, ports, hosts and server TLS.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkUnique,
  countSet,
  intRange,
  isDns1123Label,
  isDns1123Subdomain,
  isHttpProtocol,
  isIP,
  isTlsProtocol,
  labelMap,
  namespacedHostProblem,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  protocol,
  PROTOCOLS,
  quote,
  type Reporter,
  stringList,
  unixAddressProblem,
  warnUnsupported,
} from "./common.ts";
import { UNSUPPORTED_SERVER, UNSUPPORTED_SERVER_TLS } from "./unsupported.ts";

/** One of {@linkcode PROTOCOLS}; mesh routes `HTTP` and carries `TCP` (and `TLS` as TCP). */
export type Protocol = typeof PROTOCOLS[number];

/** A port a Gateway server listens on. */
export interface Port {
  /** 1..65535 (0 only with a `unix://` bind). */
  number: number;
  protocol: Protocol;
  name: string;
  /** Deprecated; Istio rejects it on Gateways. */
  targetPort?: number;
}

const TLS_PROTOCOL_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;

export const serverTls = z.strictObject({
  httpsRedirect: z.boolean().optional(),
  mode: z.enum([
    "PASSTHROUGH",
    "SIMPLE",
    "MUTUAL",
    "AUTO_PASSTHROUGH",
    "ISTIO_MUTUAL",
    "OPTIONAL_MUTUAL",
  ]).optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: z.array(z.string()).min(1).max(2, { error: "at most 2 credentialNames" })
    .optional(),
  caCertCredentialName: z.string().optional(),
  tlsCertificates: z.array(z.strictObject({
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
  })).min(1).max(2, { error: "at most 2 tlsCertificates" }).optional(),
  subjectAltNames: stringList.optional(),
  verifyCertificateSpki: stringList.optional(),
  verifyCertificateHash: stringList.optional(),
  minProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  maxProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  cipherSuites: stringList.optional(),
  insecureSkipVerify: z.boolean().optional(),
});
/** Server-side TLS of a Gateway server or Sidecar ingress listener. */
export type ServerTLSSettings = z.infer<typeof serverTls>;

/** One listener of a Gateway. */
export interface Server {
  port: Port;
  /** `host`, `*.domain`, `*`, each optionally as `namespace/host`. */
  hosts: string[];
  name?: string;
  tls?: ServerTLSSettings;
  bind?: string;
  defaultEndpoint?: string;
}

/** `spec` of a Gateway. */
export interface GatewaySpec {
  /** Labels of the gateway workloads this configuration applies to. */
  selector?: Record<string, string>;
  servers: Server[];
}

const gatewayPort: z.ZodType<Port> = z.strictObject({
  number: intRange(0, 65535),
  protocol,
  name: z.string(),
  targetPort: portNumber.optional(),
});

const server: z.ZodType<Server> = z.strictObject({
  port: gatewayPort,
  bind: z.string().optional(),
  hosts: nonEmptyList(
    z.string(),
    `hosts must list at least one host; use "*" to accept any`,
  ),
  tls: serverTls.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});

/** The schema of a Gateway `spec`. */
export const gatewaySpec: z.ZodType<GatewaySpec> = z.strictObject({
  selector: labelMap.optional(),
  servers: nonEmptyList(server, "servers must list at least one server"),
});

/** Checks a Gateway spec. */
export function checkGateway(spec: GatewaySpec, r: Reporter, ctx: CheckContext): void {
  // One certificate per port: Deno.serve can't pick one by SNI, so later servers on a port
  // with other TLS settings would present the first one's.
  const certOfPort = new Map<number, string>();
  spec.servers.forEach((server, i) => {
    const mode = server.tls?.mode;
    if (server.port.protocol !== "HTTPS" || (mode !== "SIMPLE" && mode !== "MUTUAL")) return;
    const t = server.tls!;
    const cert = JSON.stringify([mode, t.credentialName, t.serverCertificate, t.privateKey]);
    const first = certOfPort.get(server.port.number);
    if (first === undefined) certOfPort.set(server.port.number, cert);
    else if (first !== cert) {
      r.warn(
        ["spec", "servers", i, "tls"],
        `another certificate on port ${server.port.number} is ${NOT_SUPPORTED}: mesh serves ` +
          "the first server's there (no SNI selection); give this server its own port",
      );
    }
  });
  if (!isDns1123Label(ctx.name)) {
    r.error(
      ["metadata", "name"],
      `invalid Gateway name ${quote(ctx.name)}; Gateway names are DNS labels (no dots)`,
    );
  }
  spec.servers.forEach((server, i) => {
    const path: Path = ["spec", "servers", i];
    warnUnsupported(server, UNSUPPORTED_SERVER, path, r);
    const p = server.port.protocol;
    const mode = server.tls?.mode ?? "PASSTHROUGH";
    if (p === "HTTPS" && (mode === "SIMPLE" || mode === "MUTUAL")) {
      const unused = mode === "MUTUAL"
        ? UNSUPPORTED_SERVER_TLS.filter((k) => k !== "caCertificates")
        : UNSUPPORTED_SERVER_TLS;
      warnUnsupported(server.tls!, unused, [...path, "tls"], r);
    } else if ((p === "HTTPS" || p === "TLS") && server.tls && mode !== "PASSTHROUGH") {
      r.warn(
        [...path, "tls", "mode"],
        `${mode} is ${NOT_SUPPORTED} (this server is skipped; SIMPLE, MUTUAL and PASSTHROUGH ` +
          "are)",
      );
    } else if (p !== "HTTP" && p !== "TCP" && p !== "HTTPS" && p !== "TLS") {
      r.warn([...path, "port", "protocol"], `${p} is ${NOT_SUPPORTED} (this server is skipped)`);
    }
    server.hosts.forEach((host, j) => {
      const problem = namespacedHostProblem(host, "Gateway");
      if (problem) r.error([...path, "hosts", j], problem);
    });
    const unix = server.bind?.startsWith("unix://") ?? false;
    if (server.port.number === 0 && !unix) {
      r.error([...path, "port", "number"], "must be an integer from 1 to 65535; got 0");
    } else if (unix && server.port.number !== 0) {
      r.error([...path, "port", "number"], "a server bound to a unix socket needs port number 0");
    }
    if (server.bind !== undefined) {
      const problem = unix
        ? unixAddressProblem(server.bind)
        : isIP(server.bind)
        ? undefined
        : `invalid bind ${quote(server.bind)}; use an IP address or unix:///path`;
      if (problem) r.error([...path, "bind"], problem);
    }
    if (server.port.targetPort !== undefined) {
      r.error([...path, "port", "targetPort"], "targetPort has no effect on Gateways; remove it");
    }
    if (server.port.name === "") r.error([...path, "port", "name"], "the port needs a name");
    if (isTlsProtocol(p) && !server.tls) {
      r.error([...path, "tls"], `a ${p} server needs tls settings (mode and certificates)`);
    } else if (!isTlsProtocol(p) && server.tls) {
      const t = server.tls;
      const onlyRedirect = (t.mode === undefined || t.mode === "PASSTHROUGH") &&
        !t.caCertificates && !t.privateKey && !t.serverCertificate;
      if (!isHttpProtocol(p) || !onlyRedirect) {
        r.error(
          [...path, "tls"],
          `a ${p} server can't have TLS settings (only httpsRedirect on HTTP); use HTTPS or TLS`,
        );
      }
    }
    if (server.tls) {
      checkServerTls(server.tls, [...path, "tls"], r);
      if (server.tls.httpsRedirect && !isHttpProtocol(p)) {
        r.warn([...path, "tls", "httpsRedirect"], "httpsRedirect only applies to HTTP servers");
      }
    }
  });
  checkUnique(
    spec.servers,
    (s) => s.port.name,
    (i) => ["spec", "servers", i, "port", "name"],
    "port name",
    r,
  );
  checkUnique(spec.servers, (s) => s.name, (i) => ["spec", "servers", i, "name"], "server name", r);
}

/** Checks server TLS settings (Gateway servers, Sidecar ingress). */
export function checkServerTls(tls: ServerTLSSettings, path: Path, r: Reporter): void {
  if (tls.credentialName !== undefined && !isDns1123Subdomain(tls.credentialName)) {
    r.error(
      [...path, "credentialName"],
      `invalid credentialName ${quote(tls.credentialName)}; name a credential (a DNS-1123 name)`,
    );
  }
  const creds = countSet(tls, ["credentialName", "credentialNames", "tlsCertificates"]);
  if (creds.length > 1) {
    r.error([...path, creds[1]], `${creds.join(" and ")} can't both be set; keep one`);
  }
  if (
    (tls.minProtocolVersion === "TLSV1_0" || tls.minProtocolVersion === "TLSV1_1") &&
    !tls.cipherSuites?.length
  ) {
    r.warn(
      [...path, "minProtocolVersion"],
      "TLS versions below 1.2 need cipherSuites that support them",
    );
  }
  const mode = tls.mode ?? "PASSTHROUGH";
  if (mode === "ISTIO_MUTUAL") {
    const files = countSet(tls, [
      "serverCertificate",
      "privateKey",
      "caCertificates",
      "credentialName",
    ]);
    if (files.length) {
      r.error(
        [...path, files[0]],
        `mode ISTIO_MUTUAL uses mesh certificates; remove ${files.join(", ")}`,
      );
    }
    return;
  }
  if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") {
    if (
      countSet(tls, [
        "caCrl",
        "serverCertificate",
        "privateKey",
        "caCertificates",
        "credentialName",
      ]).length
    ) {
      r.warn(path, `mode ${mode} doesn't use certificates; they are ignored`);
    }
    return;
  }
  if (tls.credentialName || tls.credentialNames || tls.tlsCertificates) {
    if (tls.caCrl && tls.credentialName) {
      r.error(
        [...path, "caCrl"],
        "caCrl can't be set with credentialName; put it in the credential",
      );
    }
    return;
  }
  for (const field of ["serverCertificate", "privateKey"] as const) {
    if (!tls[field]) {
      r.error([...path, field], `mode ${mode} needs ${field} (or credentialName)`);
    }
  }
  if (mode !== "SIMPLE" && !tls.caCertificates) {
    r.error([...path, "caCertificates"], `mode ${mode} needs caCertificates (or credentialName)`);
  }
  if (mode === "SIMPLE" && tls.caCrl) {
    r.error([...path, "caCrl"], "caCrl needs mode MUTUAL; SIMPLE doesn't verify clients");
  }
}
