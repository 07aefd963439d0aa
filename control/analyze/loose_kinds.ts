/**
 * Kinds the analyzers look at that mesh's parser doesn't read (or may not read yet), read
 * loosely from the documents: never reported, and a field of the wrong shape is just absent.
 *
 * - Gateway API (`gateway.networking.k8s.io`) `Gateway` (its listeners' hostnames and status
 *   conditions), `HTTPRoute` and `GRPCRoute` (their parents' status conditions);
 * - `WasmPlugin` (`extensions.istio.io`): its `selector` and `targetRef(s)`;
 * - `CustomResourceDefinition` (`apiextensions.k8s.io`): its group and kind.
 *
 * @example
 * ```ts
 * const [doc] = parseYamlDocuments(text);
 * const objects = readLooseObjects(doc.value, { file: "gw.yaml", defaultNamespace: "default",
 *   positionOf: doc.positionOf });
 * objects[0]; // { type: "KubernetesGateway", name: "gw", listeners: [{ hostname: "a.com" }], ... }
 * ```
 * @module
 */
import { type Condition, conditionsOf, type ObjectOrigin, type ReadContext } from "./k8s.ts";
import type { YamlPathSegment } from "../../util/yaml.ts";

/** The Gateway API's group. */
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

/** A Gateway API Gateway (Istio calls the kind `KubernetesGateway` to tell it from its own). */
export interface KubernetesGateway {
  type: "KubernetesGateway";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  /** `spec.listeners`: `hostname` absent (or empty) matches every host. */
  listeners: { name?: string; hostname?: string }[];
  conditions: Condition[];
}

/** An HTTPRoute or GRPCRoute: only what the condition check reads. */
export interface GatewayRoute {
  type: "GatewayRoute";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  /** `status.parents[].conditions`, in order. */
  conditions: Condition[];
}

/** A WasmPlugin (`extensions.istio.io`), which mesh doesn't run. */
export interface WasmPlugin {
  type: "WasmPlugin";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  /** `selector.matchLabels`; undefined when there is no `selector`. */
  selector?: Record<string, string>;
  /** Whether `targetRef` or `targetRefs` is set. */
  targeted: boolean;
}

/** A CustomResourceDefinition: its name, group, kind and annotations. */
export interface CustomResourceDefinition {
  type: "CustomResourceDefinition";
  origin: ObjectOrigin;
  name: string;
  group: string;
  kind: string;
  annotations: Record<string, string>;
}

/** Any object this module reads. */
export type LooseObject = KubernetesGateway | GatewayRoute | WasmPlugin | CustomResourceDefinition;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

/** Reads the objects of this module's kinds in one decoded document (`List`s expanded). */
export function readLooseObjects(value: unknown, ctx: ReadContext): LooseObject[] {
  const out: LooseObject[] = [];
  readOne(value, [], ctx, out, true);
  return out;
}

function readOne(
  value: unknown,
  prefix: YamlPathSegment[],
  ctx: ReadContext,
  out: LooseObject[],
  allowList: boolean,
): void {
  if (!isRecord(value) || typeof value.kind !== "string" || typeof value.apiVersion !== "string") {
    return;
  }
  const slash = value.apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : value.apiVersion.slice(0, slash);
  const kind = value.kind;
  if (kind === "List" && allowList && Array.isArray(value.items)) {
    value.items.forEach((item, i) => readOne(item, [...prefix, "items", i], ctx, out, false));
    return;
  }
  const meta = isRecord(value.metadata) ? value.metadata : {};
  if (typeof meta.name !== "string" || meta.name === "") return;
  const name = meta.name;
  const namespace = typeof meta.namespace === "string" && meta.namespace !== ""
    ? meta.namespace
    : ctx.defaultNamespace;
  const at = (path: readonly YamlPathSegment[]) => ctx.positionOf([...prefix, ...path]).line;
  const origin = (namespaced: boolean): ObjectOrigin => ({
    kind,
    ...(namespaced ? { namespace } : {}),
    name,
    file: ctx.file,
    line: at([]),
    lineOf: (path) => at(path),
  });
  const spec = isRecord(value.spec) ? value.spec : {};
  if (group === GATEWAY_API_GROUP && kind === "Gateway") {
    const listeners = (Array.isArray(spec.listeners) ? spec.listeners : []).map((l) => {
      const r = isRecord(l) ? l : {};
      return {
        ...(typeof r.name === "string" ? { name: r.name } : {}),
        ...(typeof r.hostname === "string" ? { hostname: r.hostname } : {}),
      };
    });
    out.push({
      type: "KubernetesGateway",
      origin: origin(true),
      namespace,
      name,
      listeners,
      conditions: conditionsOf(value.status),
    });
  } else if (group === GATEWAY_API_GROUP && (kind === "HTTPRoute" || kind === "GRPCRoute")) {
    const status = isRecord(value.status) ? value.status : {};
    const parents = Array.isArray(status.parents) ? status.parents : [];
    out.push({
      type: "GatewayRoute",
      origin: origin(true),
      namespace,
      name,
      conditions: parents.flatMap((p) => conditionsOf(p)),
    });
  } else if (group === "extensions.istio.io" && kind === "WasmPlugin") {
    out.push({
      type: "WasmPlugin",
      origin: origin(true),
      namespace,
      name,
      ...(isRecord(spec.selector) ? { selector: stringMap(spec.selector.matchLabels) } : {}),
      targeted: spec.targetRef !== undefined && spec.targetRef !== null ||
        (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0),
    });
  } else if (group === "apiextensions.k8s.io" && kind === "CustomResourceDefinition") {
    const names = isRecord(spec.names) ? spec.names : {};
    out.push({
      type: "CustomResourceDefinition",
      origin: origin(false),
      name,
      group: typeof spec.group === "string" ? spec.group : "",
      kind: typeof names.kind === "string" ? names.kind : "",
      annotations: stringMap(meta.annotations),
    });
  }
}
