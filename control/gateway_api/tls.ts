/**
 * A listener's TLS as istiod builds it (buildTLS): Terminate with certificateRefs (Secrets only,
 * other namespaces behind a ReferenceGrant, at most two), Istio's `gateway.istio.io/tls-terminate-mode`
 * option, frontend validation (client CA refs), Passthrough; and the Gateway's backend client
 * certificate check. Certificates become credential names in mesh's gateway `--credentials-dir`.
 * @module
 */

import type { Resource, ServerTLSSettings } from "../../api/resources.ts";
import { type Listener, TLS_TERMINATE_MODE } from "../../api/schemas/gateway_api/gateway.ts";
import type { References } from "./references.ts";
import type { ConditionError } from "./status.ts";

type KGateway = Resource<"KubernetesGateway">;

/** A listener's TLS settings, the error that invalidates them, and mesh's notes. */
export interface TlsResult {
  settings?: ServerTLSSettings;
  error?: ConditionError;
  notes: string[];
}

function joinError(a: ConditionError | undefined, b: ConditionError): ConditionError {
  return a ? { reason: a.reason, message: `${a.message}; ${b.message}` } : b;
}

function refString(
  ref: { group?: string; kind?: string; name: string; namespace?: string },
): string {
  return `${ref.group ?? ""}/${ref.kind ?? ""}/${ref.name}.${ref.namespace ?? ""}`;
}

/**
 * The credential name mesh's gateway reads for a Secret: `<name>` in the Gateway's namespace
 * (`<credentials-dir>/<name>/tls.crt`), `<namespace>/<name>` for a Secret of another namespace.
 */
export function credentialName(secretNamespace: string, name: string, gatewayNamespace: string) {
  return secretNamespace === gatewayNamespace ? name : `${secretNamespace}/${name}`;
}

/** Istio's buildTLS for one listener. */
export function buildTls(gw: KGateway, l: Listener, refs: References): TlsResult {
  const notes: string[] = [];
  const tls = l.tls;
  if (!tls) return { notes };
  const ns = gw.metadata.namespace;
  if ((tls.mode ?? "Terminate") === "Passthrough") {
    return { settings: { mode: "PASSTHROUGH" }, notes };
  }
  const out: ServerTLSSettings = { mode: "SIMPLE" };
  const option = tls.options?.[TLS_TERMINATE_MODE];
  if (option === "MUTUAL") out.mode = "MUTUAL";
  else if (option === "OPTIONAL_MUTUAL") {
    out.mode = "OPTIONAL_MUTUAL";
    notes.push(
      `${TLS_TERMINATE_MODE} OPTIONAL_MUTUAL is not supported by mesh yet; the listener is not served`,
    );
  } else if (option === "ISTIO_SIMPLE" || option === "ISTIO_MUTUAL") {
    notes.push(
      `${TLS_TERMINATE_MODE} ${option} is not supported by mesh yet; the listener is not served`,
    );
    return {
      settings: option === "ISTIO_MUTUAL"
        ? { mode: "ISTIO_MUTUAL" }
        : { mode: "SIMPLE", credentialName: "builtin://" },
      notes,
    };
  }
  const certs = tls.certificateRefs ?? [];
  if (certs.length > 2) {
    return {
      settings: out,
      error: {
        reason: "InvalidCertificateRef",
        message: "TLS mode can only support up to 2 server certificates",
      },
      notes,
    };
  }
  const names: string[] = [];
  let error: ConditionError | undefined;
  for (const ref of certs) {
    const credNs = ref.namespace ?? ns;
    if (!secretAllowed(refs, ns, { name: ref.name, namespace: credNs })) {
      error = joinError(error, {
        reason: "RefNotPermitted",
        message: `certificateRef ${ref.name}/${credNs} not accessible to a Gateway in namespace ` +
          `"${ns}" (missing a ReferenceGrant?)`,
      });
      continue;
    }
    if ((ref.group ?? "") !== "" || (ref.kind ?? "Secret") !== "Secret") {
      error = joinError(error, {
        reason: "InvalidCertificateRef",
        message: `invalid certificate reference ${refString(ref)}, only secret is allowed`,
      });
      continue;
    }
    names.push(credentialName(credNs, ref.name, ns));
  }
  if (certs.length && names.length === 0) {
    return { settings: out, ...(error ? { error } : {}), notes };
  }
  if (names.length) out.credentialName = names[0];
  if (names.length > 1) {
    notes.push(`a second certificate is not supported by mesh yet; it serves ${names[0]} only`);
  }
  if (!out.credentialName && out.mode !== "ISTIO_MUTUAL") {
    notes.push("no certificateRefs: mesh has no certificate to serve; the listener is not served");
  }
  const frontend = gw.spec.tls?.frontend;
  const validation = (frontend?.perPort?.find((p) => p.port === l.port)?.tls ?? frontend?.default)
    ?.validation;
  if (validation?.caCertificateRefs.length) {
    if (validation.caCertificateRefs.length > 1) {
      return {
        settings: out,
        error: {
          reason: "InvalidCACertificateRef",
          message: "only one caCertificateRef is supported",
        },
        notes,
      };
    }
    const ca = validation.caCertificateRefs[0];
    const caNs = ca.namespace ?? ns;
    const caKind = ca.group === "" && (ca.kind === "Secret" || ca.kind === "ConfigMap")
      ? ca.kind
      : "ConfigMap";
    if (
      caNs !== ns &&
      !refs.allowed({
        fromKind: "Gateway",
        fromNamespace: ns,
        to: `/${caKind}`,
        name: ca.name,
        toNamespace: caNs,
      })
    ) {
      return {
        settings: out,
        error: {
          reason: "RefNotPermitted",
          message: `caCertificateRef ${caNs}/${ca.name} not accessible to a Gateway in namespace ` +
            `"${ns}" (missing a ReferenceGrant?)`,
        },
        notes,
      };
    }
    if (ca.group !== "" || (ca.kind !== "Secret" && ca.kind !== "ConfigMap")) {
      return {
        settings: out,
        error: {
          reason: "InvalidCACertificateKind",
          message: `invalid CA certificate reference ${
            refString(ca)
          }, only secret and configmap are allowed`,
        },
        notes,
      };
    }
    out.mode = validation.mode === "AllowInsecureFallback" ? "OPTIONAL_MUTUAL" : "MUTUAL";
    if (option === "MUTUAL" || option === "OPTIONAL_MUTUAL") out.mode = option;
    out.caCertCredentialName = credentialName(caNs, ca.name, ns);
    notes.push(
      `client certificates are verified with the CA mesh's gateway reads from ` +
        `<credentials-dir>/${out.credentialName ?? "<credential>"}/ca.crt (or -cacert/ca.crt), ` +
        `not from caCertificateRefs`,
    );
  }
  return { settings: out, ...(error ? { error } : {}), notes };
}

/** Whether a Gateway in `ns` may use the Secret: its own namespace, or a ReferenceGrant. */
function secretAllowed(
  refs: References,
  ns: string,
  secret: { name: string; namespace: string },
): boolean {
  return secret.namespace === ns || refs.allowed({
    fromKind: "Gateway",
    fromNamespace: ns,
    to: "/Secret",
    name: secret.name,
    toNamespace: secret.namespace,
  });
}

/** Istio's check of `spec.tls.backend.clientCertificateRef` (its Secret is not read by mesh). */
export function clientCertificateError(gw: KGateway, refs: References): ConditionError | undefined {
  const ref = gw.spec.tls?.backend?.clientCertificateRef;
  if (!ref) return undefined;
  if ((ref.group ?? "") !== "" || (ref.kind ?? "Secret") !== "Secret") {
    return {
      reason: "InvalidClientCertificateRef",
      message: `invalid clientCertificateRef ${refString(ref)}, only secret is allowed`,
    };
  }
  const ns = gw.metadata.namespace;
  const credNs = ref.namespace ?? ns;
  if (!secretAllowed(refs, ns, { name: ref.name, namespace: credNs })) {
    return {
      reason: "RefNotPermitted",
      message: `clientCertificateRef ${ref.name}/${credNs} not accessible to a Gateway in ` +
        `namespace "${ns}" (missing a ReferenceGrant?)`,
    };
  }
  return undefined;
}
