/**
 * What the Kubernetes source takes from Namespaces and from Istio's mesh ConfigMap:
 *
 * - the mesh config: istiod reads MeshConfig from the `mesh` key of the `istio` ConfigMap in
 *   its namespace; {@linkcode meshConfigOf} turns it into mesh's MeshConfig resource, so the
 *   same `meshConfig` YAML an Istio install has works unchanged;
 * - MeshConfig `discoverySelectors`: label selectors over Namespaces (OR between selectors,
 *   AND within one: `matchLabels` and `matchExpressions` with In, NotIn, Exists,
 *   DoesNotExist); config and services in a namespace no selector picks are ignored, as
 *   istiod ignores them; the root namespace always counts ({@linkcode selectedNamespaces}).
 *
 * @example
 * ```ts
 * selectorMatches({ matchLabels: { env: "prod" } }, { env: "prod" }); // true
 * ```
 * @module
 */
import type { ResourceInput } from "../store/types.ts";
import { parseYaml } from "../../util/yaml.ts";
import { selectorMatches as gatewaySelectorMatches } from "../../api/schemas/gateway_api/common.ts";
import type { KubeObject } from "./client.ts";

/** A Kubernetes label selector (MeshConfig's `discoverySelectors` entries). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key?: string; operator?: string; values?: string[] }[];
}

/**
 * Whether `labels` match `sel`, with Kubernetes' semantics (the Gateway API's matcher, which
 * an invalid selector matches nothing with).
 */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  const expressions = (sel.matchExpressions ?? []).map((e) => ({
    key: e.key ?? "",
    operator: e.operator ?? "",
    ...(e.values ? { values: e.values } : {}),
  }));
  return gatewaySelectorMatches(
    { matchLabels: sel.matchLabels, matchExpressions: expressions },
    labels,
  );
}

/**
 * The namespaces `selectors` pick among `namespaces` (by labels), plus `always`; undefined
 * when there are no selectors (every namespace counts).
 */
export function selectedNamespaces(
  selectors: readonly LabelSelector[] | undefined,
  namespaces: readonly KubeObject[],
  always: readonly string[],
): Set<string> | undefined {
  if (!selectors?.length) return undefined;
  const out = new Set(always);
  for (const ns of namespaces) {
    const labels = ns.metadata.labels ?? {};
    if (selectors.some((s) => selectorMatches(s, labels))) out.add(ns.metadata.name);
  }
  return out;
}

/**
 * mesh's MeshConfig resource from Istio's mesh ConfigMap (`data.mesh`, YAML), or an error
 * naming the ConfigMap and what's wrong; undefined when the ConfigMap has no `mesh` key.
 */
export function meshConfigOf(cm: KubeObject): ResourceInput | { error: string } | undefined {
  const text = (cm.data as Record<string, string> | undefined)?.mesh;
  if (text === undefined) return undefined;
  const where = `ConfigMap ${cm.metadata.namespace}/${cm.metadata.name} data.mesh`;
  let spec: unknown;
  try {
    spec = parseYaml(text);
  } catch (err) {
    return { error: `${where}: not valid YAML (${(err as Error).message})` };
  }
  if (spec !== null && (typeof spec !== "object" || Array.isArray(spec))) {
    return { error: `${where}: not a mapping of MeshConfig fields` };
  }
  return {
    apiVersion: "config.mesh.dev/v1alpha1",
    kind: "MeshConfig",
    metadata: { name: "mesh", namespace: cm.metadata.namespace ?? "istio-system" },
    spec: spec ?? {},
    source: { file: `kube:ConfigMap/${cm.metadata.namespace}/${cm.metadata.name}`, line: 1 },
  };
}
