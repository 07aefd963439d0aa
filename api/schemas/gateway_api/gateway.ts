/**
 * The Gateway API's Gateway (`gateway.networking.k8s.io`, kind id `KubernetesGateway`):
 * listeners, addresses, TLS, infrastructure. The CRD's schema and CEL rules, plus warnings for
 * what mesh doesn't do with an accepted Gateway.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkLabels,
  NOT_SUPPORTED,
  type Path,
  portNumber,
  quote,
  type Reporter,
} from "../common.ts";
import {
  formatString,
  group,
  hostname,
  kind,
  labelSelector,
  objectName,
  objectReference,
  secretObjectReference,
  sectionName,
} from "./common.ts";

const routeGroupKind = z.strictObject({ group: group.optional(), kind });

/** Which routes may attach to a listener. */
export const allowedRoutes = z.strictObject({
  namespaces: z.strictObject({
    from: z.enum(["All", "Selector", "Same"]).optional(),
    selector: labelSelector.optional(),
  }).optional(),
  kinds: z.array(routeGroupKind).max(8, { error: "at most 8 kinds" }).optional(),
});

const listenerTls = z.strictObject({
  mode: z.enum(["Terminate", "Passthrough"]).optional(),
  certificateRefs: z.array(secretObjectReference).max(64, { error: "at most 64 certificateRefs" })
    .optional(),
  options: z.record(z.string(), z.string().max(4096)).optional(),
});

/** A listener's protocol: a name like HTTP, or a domain-prefixed one like example.com/UDP. */
const protocol = formatString({
  min: 1,
  max: 255,
  re:
    /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/,
  what: "protocol",
  hint: "use HTTP, HTTPS, TLS or TCP",
});

const listener = z.strictObject({
  name: sectionName,
  hostname: hostname.optional(),
  port: portNumber,
  protocol,
  tls: listenerTls.optional(),
  allowedRoutes: allowedRoutes.optional(),
});
/** One listener of a Gateway. */
export type Listener = z.infer<typeof listener>;

const frontendValidation = z.strictObject({
  caCertificateRefs: z.array(objectReference).min(1).max(16),
  mode: z.enum(["AllowValidOnly", "AllowInsecureFallback"]).optional(),
});

const gatewayTls = z.strictObject({
  backend: z.strictObject({ clientCertificateRef: secretObjectReference.optional() }).optional(),
  frontend: z.strictObject({
    default: z.strictObject({ validation: frontendValidation.optional() }),
    perPort: z.array(z.strictObject({
      port: portNumber,
      tls: z.strictObject({ validation: frontendValidation.optional() }),
    })).max(64).optional(),
  }).optional(),
});

const address = z.strictObject({
  type: formatString({
    min: 1,
    max: 253,
    re:
      /^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/,
    what: "address type",
    hint: "use Hostname, IPAddress or NamedAddress",
  }).optional(),
  value: z.string().max(253).optional(),
});

/** The `spec` schema of a Gateway API Gateway. */
export const kubernetesGatewaySpec = z.strictObject({
  gatewayClassName: objectName,
  listeners: z.array(listener).min(1, { error: "a Gateway needs at least one listener" })
    .max(64, { error: "at most 64 listeners" }),
  addresses: z.array(address).max(16, { error: "at most 16 addresses" }).optional(),
  infrastructure: z.strictObject({
    labels: z.record(z.string(), z.string().max(63)).optional(),
    annotations: z.record(z.string(), z.string().max(4096)).optional(),
    parametersRef: z.strictObject({ group, kind, name: objectName }).optional(),
  }).optional(),
  allowedListeners: z.strictObject({
    namespaces: z.strictObject({
      from: z.enum(["All", "Selector", "Same", "None"]).optional(),
      selector: labelSelector.optional(),
    }).optional(),
  }).optional(),
  tls: gatewayTls.optional(),
  defaultScope: z.enum(["All", "None"]).optional(),
});
/** `spec` of a Gateway API Gateway. */
export type KubernetesGatewaySpec = z.infer<typeof kubernetesGatewaySpec>;

/** The listener TLS option keys Istio reads (`gateway.istio.io/...`). */
export const TLS_TERMINATE_MODE = "gateway.istio.io/tls-terminate-mode";
const TLS_CIPHER_SUITES = "gateway.istio.io/tls-cipher-suites";

/** The CEL rules of a Gateway and mesh's warnings about what it doesn't do. */
export function checkKubernetesGateway(
  spec: KubernetesGatewaySpec,
  r: Reporter,
  _ctx: CheckContext,
): void {
  const ls = spec.listeners;
  ls.forEach((l, i) => checkListener(l, ["spec", "listeners", i], r));
  const names = new Map<string, number>();
  const combos = new Map<string, number>();
  ls.forEach((l, i) => {
    const earlier = names.get(l.name);
    if (earlier !== undefined) {
      r.error(
        ["spec", "listeners", i, "name"],
        `Listener name must be unique within the Gateway (${
          quote(l.name)
        } is also listeners[${earlier}])`,
      );
    } else names.set(l.name, i);
    const combo = `${l.port}/${l.protocol}/${l.hostname ?? ""}`;
    const same = combos.get(combo);
    if (same !== undefined) {
      r.error(
        ["spec", "listeners", i],
        `Combination of port, protocol and hostname must be unique for each listener (same as listeners[${same}])`,
      );
    } else combos.set(combo, i);
  });
  checkAddresses(spec.addresses, r);
  checkInfrastructure(spec.infrastructure, r);
  const perPort = new Map<number, number>();
  spec.tls?.frontend?.perPort?.forEach((p, i) => {
    if (perPort.has(p.port)) {
      r.error(
        ["spec", "tls", "frontend", "perPort", i, "port"],
        "Port for TLS configuration must be unique within the Gateway",
      );
    }
    perPort.set(p.port, i);
  });
  // What mesh doesn't do.
  if (spec.tls?.frontend) {
    r.warn(
      ["spec", "tls", "frontend"],
      "client certificates are verified, but mesh's proxy reads the CA from " +
        "<credentials-dir>/<credential>/ca.crt (or <credential>-cacert/ca.crt), not from " +
        "caCertificateRefs",
    );
  }
  if (spec.tls?.backend) {
    r.warn(["spec", "tls", "backend"], `client certificates to backends are ${NOT_SUPPORTED}`);
  }
  if (spec.allowedListeners) {
    r.warn(["spec", "allowedListeners"], `ListenerSets are ${NOT_SUPPORTED}`);
  }
  if (spec.defaultScope !== undefined) r.warn(["spec", "defaultScope"], NOT_SUPPORTED);
  if (spec.infrastructure) {
    r.warn(
      ["spec", "infrastructure"],
      `${NOT_SUPPORTED}: mesh deploys nothing; start a gateway with ` +
        "--labels=gateway.networking.k8s.io/gateway-name=<name>",
    );
  }
  if (spec.addresses?.length) {
    r.warn(
      ["spec", "addresses"],
      `${NOT_SUPPORTED}: mesh binds the gateway processes labelled ` +
        "gateway.networking.k8s.io/gateway-name=<name>, not an address or Service",
    );
  }
}

function checkListener(l: Listener, path: Path, r: Reporter): void {
  const p = l.protocol;
  if ((p === "HTTP" || p === "TCP" || p === "UDP") && l.tls !== undefined) {
    r.error([...path, "tls"], "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
  }
  const mode = l.tls?.mode ?? (l.tls ? "Terminate" : undefined);
  if (p === "HTTPS" && l.tls && mode !== "Terminate") {
    r.error([...path, "tls", "mode"], "tls mode must be Terminate for protocol HTTPS");
  }
  if (p === "TLS" && l.tls?.mode === undefined) {
    r.error([...path, "tls"], "tls mode must be set for protocol TLS");
  }
  if ((p === "TCP" || p === "UDP") && l.hostname !== undefined) {
    r.error([...path, "hostname"], "hostname must not be specified for protocols ['TCP', 'UDP']");
  }
  if (
    l.tls && mode === "Terminate" && !l.tls.certificateRefs?.length &&
    Object.keys(l.tls.options ?? {}).length === 0
  ) {
    r.error(
      [...path, "tls"],
      "certificateRefs or options must be specified when mode is Terminate",
    );
  }
  for (const [key, value] of Object.entries(l.tls?.options ?? {})) {
    const at = [...path, "tls", "options", key];
    if (key === TLS_TERMINATE_MODE) {
      if (value !== "SIMPLE" && value !== "MUTUAL") r.warn(at, `${quote(value)}: ${NOT_SUPPORTED}`);
    } else if (key === TLS_CIPHER_SUITES) {
      r.warn(at, NOT_SUPPORTED);
    } else r.warn(at, "an option not used by mesh (nor by Istio); ignored");
  }
}

const ADDRESS_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkAddresses(addresses: KubernetesGatewaySpec["addresses"], r: Reporter): void {
  const seen = new Set<string>();
  addresses?.forEach((a, i) => {
    const type = a.type ?? "IPAddress";
    if (type === "Hostname" && a.value !== undefined && !ADDRESS_HOSTNAME.test(a.value)) {
      r.error(
        ["spec", "addresses", i, "value"],
        "Hostname value must be empty or contain only valid characters (matching " +
          "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)",
      );
    }
    if ((type === "IPAddress" || type === "Hostname") && a.value !== undefined) {
      const key = `${type}/${a.value}`;
      if (seen.has(key)) {
        r.error(["spec", "addresses", i], `${type} values must be unique`);
      }
      seen.add(key);
    }
  });
}

function checkInfrastructure(infra: KubernetesGatewaySpec["infrastructure"], r: Reporter): void {
  if (!infra) return;
  checkLabels(infra.labels, ["spec", "infrastructure", "labels"], r);
  for (const key of Object.keys(infra.annotations ?? {})) {
    const slash = key.lastIndexOf("/");
    const name = key.slice(slash + 1);
    if (name.length > 63 || !/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(name)) {
      r.error(
        ["spec", "infrastructure", "annotations", key],
        "Annotation keys must be in the form of an optional DNS subdomain prefix followed by a " +
          "required name segment of up to 63 characters.",
      );
    }
  }
}
