/**
 * `extensions.istio.io` WasmPlugin, which mesh recognizes but doesn't read (its proxy runs no
 * Wasm): validated as Istio does (ValidateWasmPlugin and the CRD's schema) so that mesh refuses
 * what Istio refuses; the parser adds one "not supported by mesh" warning per document.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  checkUnique,
  int32,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  workloadSelector,
} from "./common.ts";
import { parseGoUrl } from "./go_url.ts";
import { checkPolicyTargetsAsIstio } from "./policy_targets.ts";

/** The API versions of WasmPlugin. */
export const WASM_PLUGIN_VERSIONS = ["v1alpha1"] as const;

const envVar = z.strictObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.enum(["INLINE", "HOST"]).optional(),
});

const trafficSelector = z.strictObject({
  mode: z.enum(["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]).optional(),
  ports: z.array(z.strictObject({ number: z.number().int() })).optional(),
});

/** The schema of a WasmPlugin `spec`. */
export const wasmPluginSpec = z.strictObject({
  selector: workloadSelector.optional(),
  targetRef: policyTargetReference.optional(),
  targetRefs: z.array(policyTargetReference).optional(),
  url: z.string(),
  sha256: z.string().optional(),
  imagePullPolicy: z.enum(["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]).optional(),
  imagePullSecret: z.string().optional(),
  verificationKey: z.string().optional(),
  pluginConfig: z.record(z.string(), z.unknown()).optional(),
  pluginName: z.string().optional(),
  phase: z.enum(["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]).optional(),
  priority: int32.optional(),
  failStrategy: z.enum(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]).optional(),
  vmConfig: z.strictObject({ env: z.array(envVar).optional() }).optional(),
  match: z.array(trafficSelector).optional(),
  type: z.enum(["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]).optional(),
});
/** `spec` of a WasmPlugin. */
export type WasmPluginSpec = z.infer<typeof wasmPluginSpec>;

const URL_SCHEMES = new Set(["", "file", "http", "https", "oci"]);

/** Why Istio refuses a WasmPlugin `url`, or undefined. */
export function wasmUrlProblem(url: string): string | undefined {
  if (url === "") return "url may not be empty; give the module's location";
  // Istio parses the URL as it is, else with http:// in front (a bare OCI reference).
  let parsed = parseGoUrl(url, true);
  if ("error" in parsed) {
    const again = parseGoUrl(`http://${url}`, true);
    if ("error" in again) return `invalid url ${quote(url)}: ${parsed.error}`;
    parsed = again;
  }
  if (!URL_SCHEMES.has(parsed.scheme)) {
    return `url scheme ${quote(parsed.scheme)} is not supported; use http, https, file or oci`;
  }
  return undefined;
}

/** Checks a WasmPlugin spec as Istio does. */
export function checkWasmPlugin(spec: WasmPluginSpec, r: Reporter, _ctx?: CheckContext): void {
  const base: Path = ["spec"];
  checkPolicyTargetsAsIstio(spec, r);
  const urlProblem = wasmUrlProblem(spec.url);
  if (urlProblem) r.error([...base, "url"], urlProblem);
  if (spec.sha256 !== undefined && spec.sha256 !== "") {
    if (spec.sha256.length !== 64) {
      r.error([...base, "sha256"], "sha256 must be 64 characters long (or empty)");
    } else if (!/^[a-f0-9]{64}$/.test(spec.sha256)) {
      r.error([...base, "sha256"], "sha256 must be 64 lowercase hex digits ([a-f0-9]{64})");
    }
  }
  lengthBetween(spec.imagePullSecret, 1, 253, [...base, "imagePullSecret"], r);
  lengthBetween(spec.pluginName, 1, 256, [...base, "pluginName"], r);
  const env = spec.vmConfig?.env;
  if (env) {
    const at = [...base, "vmConfig", "env"];
    if (env.length > 256) r.error(at, `at most 256 environment variables; there are ${env.length}`);
    env.forEach((e, i) => {
      lengthBetween(e.name, 1, 256, [...at, i, "name"], r);
      lengthBetween(e.value, 0, 2048, [...at, i, "value"], r);
      if (e.valueFrom === "HOST" && e.value !== undefined) {
        r.error([...at, i, "value"], "value may only be set when valueFrom is INLINE");
      }
    });
    checkUnique(env, (e) => e.name, (i) => [...at, i, "name"], "environment variable", r);
  }
  spec.match?.forEach((m, i) => {
    const at = [...base, "match", i, "ports"];
    m.ports?.forEach((p, j) => {
      if (p.number < 1 || p.number > 65535) {
        r.error([...at, j, "number"], `port ${p.number} is out of range 1..65535`);
      }
    });
    checkUnique(m.ports, (p) => p.number, (j) => [...at, j, "number"], "port", r);
  });
}

function lengthBetween(
  s: string | undefined,
  min: number,
  max: number,
  path: Path,
  r: Reporter,
): void {
  if (s === undefined) return;
  if (s.length < min) r.error(path, `may not be empty`);
  else if (s.length > max) r.error(path, `at most ${max} characters; this has ${s.length}`);
}
