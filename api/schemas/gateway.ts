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
  isTlsProtocol,
  labelMap,
  nonEmptyList,
  NOT_SUPPORTED,
  type Path,
  protocol,
  PROTOCOLS,
  quote,
  type Reporter,
  stringList,
  unixAddressProblem,
  warnUnsupported,
} from "./common.ts";
import { isGoIP, namespacedHostProblem } from "./server_hosts.ts";
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
  ecdhCurves: stringList.optional(),
  insecureSkipVerify: z.boolean().nullable().optional(),
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
  targetPort: intRange(0, 4294967295).optional(),
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

/** Cipher suites Istio knows for `cipherSuites` (security.ValidCipherSuites). */
const CIPHER_SUITES = new Set([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-RSA-AES128-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-RSA-AES256-SHA",
  "AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-SHA",
  "AES256-SHA",
  "DES-CBC3-SHA",
]);

/** Istio's test of a cipher suite: known, empty, ALL, or an expression (`-X`, `+X`, `!X`). */
function isKnownCipherSuite(cs: string): boolean {
  return cs === "" || cs === "ALL" || !/^[\p{L}\p{N}]/u.test(cs) || CIPHER_SUITES.has(cs);
}

/** Checks a Gateway spec. */
export function checkGateway(spec: GatewaySpec, r: Reporter, ctx: CheckContext): void {
  if (!isDns1123Label(ctx.name)) {
    r.error(
      ["metadata", "name"],
      `invalid Gateway name ${quote(ctx.name)}; Gateway names are DNS labels (no dots)`,
    );
  }
  spec.servers.forEach((server, i) => checkServer(server, ["spec", "servers", i], r));
  checkUnique(
    spec.servers,
    (s) => s.port.name,
    (i) => ["spec", "servers", i, "port", "name"],
    "port name",
    r,
  );
  spec.servers.forEach((server, i) => {
    if (server.tls?.httpsRedirect && !isHttpProtocol(server.port.protocol)) {
      r.warn(
        ["spec", "servers", i, "tls", "httpsRedirect"],
        "httpsRedirect only applies to HTTP servers",
      );
    }
  });
  warnWhatMeshSkips(spec, r);
}

/** Istio's validateServer: hosts, port, bind, TLS options, and which servers may have TLS. */
function checkServer(server: Server, path: Path, r: Reporter): void {
  server.hosts.forEach((host, j) => {
    const problem = namespacedHostProblem(host, "Gateway");
    if (problem) r.error([...path, "hosts", j], problem);
  });
  const errorsBefore = r.errors;
  const p = server.port.protocol;
  const unix = server.bind?.startsWith("unix://") ?? false;
  if (server.port.number > 0 || !unix) {
    if (server.port.number < 1 || server.port.number > 65535) {
      r.error(
        [...path, "port", "number"],
        `must be an integer from 1 to 65535; got ${server.port.number}`,
      );
    }
  }
  if (server.port.targetPort) {
    r.error([...path, "port", "targetPort"], "targetPort has no effect on Gateways; remove it");
  }
  if (server.port.name === "") r.error([...path, "port", "name"], "the port needs a name");
  const portOk = r.errors === errorsBefore;
  if (unix) {
    const problem = unixAddressProblem(server.bind!);
    if (problem) r.error([...path, "bind"], problem);
    if (server.port.number !== 0) {
      r.error([...path, "port", "number"], "a server bound to a unix socket needs port number 0");
    }
  } else if (server.bind && !isGoIP(server.bind)) {
    r.error(
      [...path, "bind"],
      `invalid bind ${quote(server.bind)}; use an IP address or unix:///path`,
    );
  }
  if (server.tls) checkServerTls(server.tls, [...path, "tls"], r);
  if (!portOk) return;
  if (isTlsProtocol(p) && !server.tls) {
    r.error([...path, "tls"], `a ${p} server needs tls settings (mode and certificates)`);
  } else if (!isTlsProtocol(p) && server.tls) {
    const t = server.tls;
    const passthrough = t.mode === undefined || t.mode === "PASSTHROUGH" ||
      t.mode === "AUTO_PASSTHROUGH";
    if (
      !isHttpProtocol(p) || !passthrough || t.caCertificates || t.privateKey || t.serverCertificate
    ) {
      r.error(
        [...path, "tls"],
        `a ${p} server can't have TLS settings (an HTTP server only httpsRedirect); ` +
          "use HTTPS or TLS",
      );
    }
  }
}

/** Mesh's own notes: what it skips or serves differently, and fields it doesn't enforce. */
function warnWhatMeshSkips(spec: GatewaySpec, r: Reporter): void {
  // One certificate per port: a listener can't pick one by SNI, so later servers on a port
  // with other TLS settings would present the first one's.
  const certOfPort = new Map<number, string>();
  spec.servers.forEach((server, i) => {
    const path: Path = ["spec", "servers", i];
    warnUnsupported(server, UNSUPPORTED_SERVER, path, r);
    const p = server.port.protocol;
    const t = server.tls;
    const mode = t?.mode ?? "PASSTHROUGH";
    if (p === "HTTPS" && t && (mode === "SIMPLE" || mode === "MUTUAL")) {
      const unused = mode === "MUTUAL"
        ? UNSUPPORTED_SERVER_TLS.filter((k) => k !== "caCertificates")
        : UNSUPPORTED_SERVER_TLS;
      warnUnsupported(t, unused, [...path, "tls"], r);
      if (t.insecureSkipVerify) r.warn([...path, "tls", "insecureSkipVerify"], NOT_SUPPORTED);
      if (t.credentialName && !isDns1123Subdomain(t.credentialName)) {
        r.warn(
          [...path, "tls", "credentialName"],
          `credentialName ${quote(t.credentialName)} isn't a Kubernetes Secret name; mesh ` +
            "looks credentials up as <credentials dir>/<name>/tls.crt and tls.key (other " +
            "credential sources are not supported by mesh yet)",
        );
      }
      const cert = JSON.stringify([mode, t.credentialName, t.serverCertificate, t.privateKey]);
      const first = certOfPort.get(server.port.number);
      if (first === undefined) certOfPort.set(server.port.number, cert);
      else if (first !== cert) {
        r.warn(
          [...path, "tls"],
          `another certificate on port ${server.port.number} is ${NOT_SUPPORTED}: mesh ` +
            "serves the first server's there (no SNI selection); give this server its own port",
        );
      }
    } else if ((p === "HTTPS" || p === "TLS") && t && mode !== "PASSTHROUGH") {
      r.warn(
        [...path, "tls", "mode"],
        `${mode} is ${NOT_SUPPORTED} (this server is skipped; SIMPLE, MUTUAL and ` +
          "PASSTHROUGH are)",
      );
    } else if (!["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "HTTPS", "TLS"].includes(p)) {
      r.warn([...path, "port", "protocol"], `${p} is ${NOT_SUPPORTED} (this server is skipped)`);
    }
  });
}

/** A string field counts as set when it isn't empty (protobuf: "" is the default). */
function set(s: string | undefined): boolean {
  return s !== undefined && s !== "";
}

/**
 * Checks server TLS settings as Istio's validateTLSOptions does (Gateway servers, Sidecar
 * ingress); mode defaults to PASSTHROUGH.
 */
export function checkServerTls(tls: ServerTLSSettings, path: Path, r: Reporter): void {
  checkCipherSuites(tls, path, r);
  const mode = tls.mode ?? "PASSTHROUGH";
  const credentialNames = (tls.credentialNames?.length ?? 0) > 0;
  const tlsCertificates = (tls.tlsCertificates?.length ?? 0) > 0;
  if (mode === "ISTIO_MUTUAL") {
    const extra = [
      ...countSet(tls, ["serverCertificate", "privateKey", "caCertificates"])
        .filter((k) => set(tls[k as "privateKey"])),
      ...(tlsCertificates ? ["tlsCertificates"] : []),
      ...(set(tls.credentialName) ? ["credentialName"] : []),
      ...(credentialNames ? ["credentialNames"] : []),
    ];
    if (extra.length) {
      r.error(
        [...path, extra[0]],
        `mode ISTIO_MUTUAL uses mesh certificates; remove ${extra.join(", ")}`,
      );
    }
    return;
  }
  if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH") {
    const certs = set(tls.caCrl) || set(tls.serverCertificate) || set(tls.privateKey) ||
      set(tls.caCertificates) || tlsCertificates || set(tls.credentialName) || credentialNames;
    if (certs) r.warn(path, `mode ${mode} doesn't use certificates; they are ignored`);
  }
  const sources = [
    ...(set(tls.serverCertificate) && set(tls.privateKey)
      ? ["serverCertificate with privateKey"]
      : []),
    ...(set(tls.credentialName) ? ["credentialName"] : []),
    ...(credentialNames ? ["credentialNames"] : []),
    ...(tlsCertificates ? ["tlsCertificates"] : []),
  ];
  if (sources.length > 1) {
    r.error(
      path,
      `set only one of credentialName, credentialNames, serverCertificate with privateKey, ` +
        `and tlsCertificates; got ${sources.join(" and ")}`,
    );
  }
  const terminates = mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL";
  // A credential holds the certificate, the key and the client CAs.
  if (terminates && (set(tls.credentialName) || credentialNames)) return;
  if (terminates) {
    if (mode !== "SIMPLE" && !set(tls.caCertificates)) {
      r.error([...path, "caCertificates"], `mode ${mode} needs caCertificates (or credentialName)`);
    }
    if (tlsCertificates) {
      tls.tlsCertificates!.forEach((c, i) => {
        for (const field of ["serverCertificate", "privateKey"] as const) {
          if (!set(c[field])) {
            r.error([...path, "tlsCertificates", i], `mode ${mode} needs ${field} here`);
          }
        }
      });
    } else {
      for (const field of ["serverCertificate", "privateKey"] as const) {
        if (!set(tls[field])) {
          r.error([...path, field], `mode ${mode} needs ${field} (or credentialName)`);
        }
      }
    }
  }
  if (set(tls.caCrl)) {
    if (set(tls.credentialName)) {
      r.error(
        [...path, "caCrl"],
        "caCrl can't be set with credentialName; put it in the credential",
      );
    }
    if (mode === "SIMPLE") {
      r.error([...path, "caCrl"], "caCrl needs mode MUTUAL; SIMPLE doesn't verify clients");
    }
  }
}

function checkCipherSuites(tls: ServerTLSSettings, path: Path, r: Reporter): void {
  const min = tls.minProtocolVersion;
  if ((min === "TLSV1_0" || min === "TLSV1_1") && !tls.cipherSuites?.length) {
    r.warn(
      [...path, "minProtocolVersion"],
      "TLS versions below 1.2 need cipherSuites that support them (the default ones don't)",
    );
  }
  const seen = new Set<string>();
  tls.cipherSuites?.forEach((cs, i) => {
    if (!isKnownCipherSuite(cs)) {
      r.warn([...path, "cipherSuites", i], `unknown cipher suite ${quote(cs)}; it is ignored`);
    } else if (seen.has(cs)) {
      r.warn([...path, "cipherSuites", i], `duplicate cipher suite ${quote(cs)}; it is ignored`);
    }
    seen.add(cs);
  });
}
