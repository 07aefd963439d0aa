/**
 * Gateway credentials (Istio's `gateway.SecretAnalyzer`): a server's `tls.credentialName`
 * must name a Secret in the namespace of the Gateway's workloads (`IST0101`,
 * `credentialName`), and the Secret must hold a certificate that is valid now (`IST0161`):
 * `cert` and `key`, or `tls.crt` and `tls.key`, both non-empty, the certificate's first PEM
 * block a parsable X.509 certificate within its validity period. A Gateway whose selector
 * matches no workload is `IST0101` (`selector`) instead.
 *
 * mesh's own gateways read `credentialName` from a credentials directory (`mesh start
 * --credentials-dir`), which analysis doesn't see: only Secrets in the input count, as for
 * istioctl.
 * @module
 */
import { x509 } from "../../ca/pem.ts";
import { InvalidGatewayCredential, ReferencedResourceNotFound } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { type KubeSecret, selectorMatches, selectorString } from "./k8s.ts";

function decode(b64: string | undefined): string {
  if (!b64) return "";
  try {
    return atob(b64.replace(/\s+/g, ""));
  } catch {
    return "";
  }
}

/** Whether a Secret holds a certificate Istio's gateways would serve (valid at `now`). */
export function validCredential(secret: KubeSecret, now: Date = new Date()): boolean {
  const d = secret.data;
  const has = (c: string, k: string) => decode(d[c]) !== "" && decode(d[k]) !== "";
  const cert = has("cert", "key")
    ? decode(d.cert)
    : has("tls.crt", "tls.key")
    ? decode(d["tls.crt"])
    : "";
  const block = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/.exec(cert);
  if (!block) return false;
  try {
    const c = new x509.X509Certificate(block[0]);
    return now >= c.notBefore && now <= c.notAfter;
  } catch {
    return false;
  }
}

/** Checks that Gateway credentials exist and hold valid certificates. */
export const gatewaySecretAnalyzer: Analyzer = {
  name: "gateway.SecretAnalyzer",
  description: "Checks a gateway's referenced secrets for correctness",
  codes: [ReferencedResourceNotFound.code, InvalidGatewayCredential.code],
  analyze(ctx: AnalysisContext): void {
    for (const gw of ctx.gateways) {
      const labels = gw.spec.selector ?? {};
      const origin = ctx.originOf(gw);
      const workload = ctx.workloads.find((w) => selectorMatches(labels, w.labels));
      if (!workload) {
        const first = Object.keys(labels).sort()[0];
        ctx.report(ReferencedResourceNotFound, ["selector", selectorString(labels)], origin, [
          "spec",
          "selector",
          first,
        ]);
        continue;
      }
      (gw.spec.servers ?? []).forEach((server, i) => {
        const cn = server?.tls?.credentialName;
        if (!cn) return;
        const slash = cn.indexOf("/");
        const [ns, name] = slash < 0
          ? [workload.namespace, cn]
          : [cn.slice(0, slash), cn.slice(slash + 1)];
        const path = ["spec", "servers", i, "tls", "credentialName"];
        const secret = ctx.secrets.find((s) => s.namespace === ns && s.name === name);
        if (!secret) {
          ctx.report(ReferencedResourceNotFound, ["credentialName", cn], origin, path);
        } else if (!validCredential(secret)) {
          ctx.report(
            InvalidGatewayCredential,
            [gw.metadata.name, workload.namespace],
            origin,
            path,
          );
        }
      });
    }
  },
};
