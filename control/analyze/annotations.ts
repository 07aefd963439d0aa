/**
 * Istio annotations on Kubernetes objects (Istio's `annotations.K8sAnalyzer`): on Namespaces,
 * Services, Pods and Deployments, an annotation in an `istio.io` domain (or
 * `kubernetes.io/ingress.class`) that Istio doesn't define is `IST0108`; a deprecated one is
 * `IST0135` (not `sidecar.istio.io/inject` when the label of that name is there too); one on a
 * kind it doesn't apply to is `IST0107`; a value Istio's injector rejects is `IST0125`.
 * `sidecar.istio.io/status`, `gateway.istio.io/controller-version` and `istio.io/rev` are
 * never reported (Istio sets them itself).
 *
 * Values are checked as Istio's injector checks them: unsigned integers, booleans, ports,
 * CIDR lists, interface names, interception modes and Kubernetes quantities, with the error
 * text Go's parsers give. `proxy.istio.io/config` is only checked to be a YAML mapping.
 * @module
 */
import { parseYamlDocuments } from "../../util/yaml.ts";
import { ISTIO_ANNOTATIONS } from "./annotation_table.ts";
import {
  DeprecatedAnnotation,
  goQuote,
  InvalidAnnotation,
  MisplacedAnnotation,
  UnknownAnnotation,
} from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import type { ObjectOrigin } from "./k8s.ts";

const IGNORED = new Set([
  "sidecar.istio.io/status",
  "gateway.istio.io/controller-version",
  "istio.io/rev",
]);

function isIstioAnnotation(name: string): boolean {
  return name === "kubernetes.io/ingress.class" || name.split("/")[0].endsWith("istio.io");
}

function parseUint(s: string, bits: number): string | undefined {
  const fail = (why: string) => `strconv.ParseUint: parsing ${goQuote(s)}: ${why}`;
  if (!/^[0-9]+$/.test(s)) return fail("invalid syntax");
  return BigInt(s) >= 2n ** BigInt(bits) ? fail("value out of range") : undefined;
}

function portError(p: string): string | undefined {
  const err = parseUint(p.trim(), 16);
  return err && `failed parsing port '${p}': ${err}`;
}

function portList(param: string, ports: string): string | undefined {
  const trimmed = ports.trim();
  if (trimmed === "") return undefined;
  for (const p of trimmed.split(",")) {
    const err = portError(p);
    if (err) return `${param} invalid: failed parsing port '${p}': ${err}`;
  }
  return undefined;
}

function prefixError(cidr: string): string | undefined {
  const at = `netip.ParsePrefix(${goQuote(cidr)})`;
  const slash = cidr.lastIndexOf("/");
  if (slash < 0) return `${at}: no '/'`;
  const addr = cidr.slice(0, slash);
  const bits = cidr.slice(slash + 1);
  const v4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(
    addr,
  );
  const v6 = !v4 && addr.includes(":") && /^[0-9a-fA-F:.]+$/.test(addr);
  if (!v4 && !v6) return `${at}: ParseAddr(${goQuote(addr)}): unable to parse IP`;
  if (!/^(0|[1-9][0-9]*)$/.test(bits)) return `${at}: bad bits after slash: ${goQuote(bits)}`;
  return Number(bits) > (v4 ? 32 : 128) ? `${at}: prefix length out of range` : undefined;
}

function cidrList(param: string, cidrs: string): string | undefined {
  if (cidrs === "") return undefined;
  for (const c of cidrs.split(",")) {
    const err = prefixError(c);
    if (err) return `${param} invalid: failed parsing cidr '${c}': ${err}`;
  }
  return undefined;
}

function interfaces(value: string): string | undefined {
  if (value === "") return undefined;
  for (const raw of value.split(",")) {
    const iface = raw.trim();
    if (iface === "") return "empty interface name";
    if (iface.length > 15) return `interface name ${goQuote(iface)} too long (max 15 chars)`;
    if (!/^[a-zA-Z][a-zA-Z0-9_.\-]*$/.test(iface)) {
      return `interface name ${goQuote(iface)} contains invalid characters`;
    }
  }
  return undefined;
}

const QUANTITY = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";
const SUFFIXES = new Set([
  "",
  "n",
  "u",
  "m",
  "k",
  "M",
  "G",
  "T",
  "P",
  "E",
  "Ki",
  "Mi",
  "Gi",
  "Ti",
  "Pi",
  "Ei",
]);

function quantity(value: string): string | undefined {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return "value contains control characters";
  const m = new RegExp(QUANTITY).exec(value);
  if (!m || !/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$/.test(m[1])) {
    return `quantities must match the regular expression '${QUANTITY}'`;
  }
  return SUFFIXES.has(m[2]) || /^[eE][-+]?[0-9]+$/.test(m[2])
    ? undefined
    : "unable to parse quantity's suffix";
}

function proxyConfig(value: string): string | undefined {
  const [doc] = parseYamlDocuments(value);
  const v = doc?.value;
  if (doc?.error) return `failed to convert to apply proxy config: ${doc.error.message}`;
  if (v === undefined || v === null || (typeof v === "object" && !Array.isArray(v))) {
    return undefined;
  }
  return "failed to convert to apply proxy config: not a mapping";
}

const BOOL = new Set([
  "1",
  "t",
  "T",
  "TRUE",
  "true",
  "True",
  "0",
  "f",
  "F",
  "FALSE",
  "false",
  "False",
]);

/** Istio's injector checks, by annotation: an error text, or undefined when valid. */
const VALIDATORS: Record<string, (v: string) => string | undefined> = {
  "sidecar.istio.io/interceptionMode": (v) =>
    ["REDIRECT", "TPROXY", "NONE"].includes(v)
      ? undefined
      : `interceptionMode invalid, use REDIRECT,TPROXY,NONE: ${v}`,
  "status.sidecar.istio.io/port": (v) => {
    const err = portError(v);
    return err && `excludeInboundPorts invalid: ${err}`;
  },
  "readiness.status.sidecar.istio.io/initialDelaySeconds": (v) => parseUint(v, 32),
  "readiness.status.sidecar.istio.io/periodSeconds": (v) => parseUint(v, 32),
  "readiness.status.sidecar.istio.io/failureThreshold": (v) => parseUint(v, 32),
  "traffic.sidecar.istio.io/includeOutboundIPRanges": (v) =>
    v === "*" ? undefined : cidrList("includeIPRanges", v),
  "traffic.sidecar.istio.io/excludeOutboundIPRanges": (v) => cidrList("excludeIPRanges", v),
  "traffic.sidecar.istio.io/includeInboundPorts": (v) =>
    v === "*" ? undefined : portList("includeInboundPorts", v),
  "traffic.sidecar.istio.io/excludeInboundPorts": (v) => portList("excludeInboundPorts", v),
  "traffic.sidecar.istio.io/excludeOutboundPorts": (v) => portList("excludeOutboundPorts", v),
  "traffic.sidecar.istio.io/excludeInterfaces": interfaces,
  "traffic.sidecar.istio.io/kubevirtInterfaces": interfaces,
  "istio.io/reroute-virtual-interfaces": interfaces,
  "prometheus.istio.io/merge-metrics": (v) =>
    BOOL.has(v) ? undefined : `strconv.ParseBool: parsing ${goQuote(v)}: invalid syntax`,
  "proxy.istio.io/config": proxyConfig,
  "sidecar.istio.io/proxyCPU": quantity,
  "sidecar.istio.io/proxyMemory": quantity,
  "sidecar.istio.io/proxyCPULimit": quantity,
  "sidecar.istio.io/proxyMemoryLimit": quantity,
};

const DEPRECATION_EXTRA: Record<string, string> = {
  "sidecar.istio.io/inject": ' in favor of the "sidecar.istio.io/inject" label',
};

function check(
  ctx: AnalysisContext,
  target: {
    origin: ObjectOrigin;
    kind: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  },
): void {
  for (const [name, value] of Object.entries(target.annotations)) {
    if (!isIstioAnnotation(name) || IGNORED.has(name)) continue;
    const path = ["metadata", "annotations", name];
    const def = ISTIO_ANNOTATIONS.get(name);
    if (!def) {
      ctx.report(UnknownAnnotation, [name], target.origin, path);
      continue;
    }
    if (def.deprecated && !(name === "sidecar.istio.io/inject" && name in target.labels)) {
      ctx.report(DeprecatedAnnotation, [name, DEPRECATION_EXTRA[name] ?? ""], target.origin, path);
    }
    if (def.resources.includes("Any")) continue;
    if (!def.resources.includes(target.kind)) {
      ctx.report(MisplacedAnnotation, [name, def.resources.join(", ")], target.origin, path);
      continue;
    }
    const problem = VALIDATORS[name]?.(value);
    if (problem !== undefined) ctx.report(InvalidAnnotation, [name, problem], target.origin, path);
  }
}

/** Checks Istio annotations on Namespaces, Services, Pods and Deployments. */
export const annotationAnalyzer: Analyzer = {
  name: "annotations.K8sAnalyzer",
  description: "Checks for misplaced and invalid Istio annotations in Kubernetes resources",
  codes: [
    UnknownAnnotation.code,
    DeprecatedAnnotation.code,
    MisplacedAnnotation.code,
    InvalidAnnotation.code,
  ],
  analyze(ctx: AnalysisContext): void {
    for (const ns of ctx.namespaces) {
      check(ctx, {
        origin: ns.origin,
        kind: "Namespace",
        labels: ns.labels,
        annotations: ns.annotations ?? {},
      });
    }
    for (const svc of ctx.services) {
      check(ctx, {
        origin: svc.origin,
        kind: "Service",
        labels: svc.labels,
        annotations: svc.annotations,
      });
    }
    for (const w of ctx.workloads) {
      if (w.origin.kind !== "Pod" && w.origin.kind !== "Deployment") continue;
      if (!w.meta) continue;
      check(ctx, { origin: w.origin, kind: w.origin.kind, ...w.meta });
    }
  },
};
