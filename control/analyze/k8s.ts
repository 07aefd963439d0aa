/**
 * Core Kubernetes objects as `mesh analyze` reads them from the same files as the Istio
 * resources, the way `istioctl analyze` does for local files: Services (hosts and ports),
 * Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
 * CronJobs (workload labels, annotations, containers), Namespaces, ServiceAccounts, Secrets
 * (for Gateway `credentialName`) and Nodes (topology labels).
 *
 * Each kind gets a light schema: only the fields the analyzers use are checked, and a
 * malformed one is reported (as a schema validation error) instead of guessed at.
 *
 * @example
 * ```ts
 * import { parseYamlDocuments } from "../../util/yaml.ts";
 * import { readKubeObjects } from "./k8s.ts";
 *
 * const [doc] = parseYamlDocuments("apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\n" +
 *   "spec: {ports: [{port: 9080, name: http}], selector: {app: reviews}}\n");
 * const { objects } = readKubeObjects(doc.value, { file: "svc.yaml", defaultNamespace: "default",
 *   positionOf: doc.positionOf });
 * objects[0]; // { type: "Service", namespace: "default", name: "reviews", ports: [...], ... }
 * ```
 * @module
 */
import { z } from "zod";
import type { YamlPathSegment, YamlPosition } from "../../util/yaml.ts";
import { formatPath } from "../../api/resources.ts";

/** Where an object was read from, and how to find the line of one of its fields. */
export interface ObjectOrigin {
  kind: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  file: string;
  /** Line of the object's first field. */
  line: number;
  /** Line of the field at `path` inside the object (or of its closest existing ancestor). */
  lineOf(path: readonly YamlPathSegment[]): number;
}

/** A port of a Kubernetes Service. */
export interface KubeServicePort {
  port: number;
  name?: string;
  /** `TCP` when not set, as Kubernetes defaults it. */
  protocol: string;
  targetPort?: number | string;
  appProtocol?: string;
}

/** A `status.conditions` entry, as far as analysis needs it. */
export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** A Kubernetes Service: the host `<name>.<namespace>.svc.cluster.local`. */
export interface KubeService {
  type: "Service";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  ports: KubeServicePort[];
  /** Pod labels it selects; absent selects nothing (endpoints are managed elsewhere). */
  selector?: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** `spec.type`; `ClusterIP` when not set. */
  serviceType: string;
  /** `status.conditions`. */
  conditions: Condition[];
}

/** A container of a pod, as far as analysis needs it. */
export interface Container {
  name: string;
  image?: string;
  /** `securityContext.runAsUser`. */
  runAsUser?: number;
}

/** Something that runs pods with labels: a Pod, or a controller's pod template. */
export interface Workload {
  type: "Workload";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  /** The pod labels (a controller's `spec.template.metadata.labels`). */
  labels: Record<string, string>;
  /** The pod annotations (a controller's `spec.template.metadata.annotations`). */
  podAnnotations?: Record<string, string>;
  /** The object's own `metadata.labels` and `metadata.annotations` (a Pod's are its pod's). */
  meta?: { labels: Record<string, string>; annotations: Record<string, string> };
  /** `containers` then `initContainers`. */
  containers?: Container[];
  initContainerNames?: string[];
  /** The pod's `securityContext.runAsUser`. */
  runAsUser?: number;
  /** `spec.nodeName` (Pods). */
  nodeName?: string;
  serviceAccount?: string;
  /** Made up by mesh (the default ingress gateway), not read from a file. */
  synthetic?: boolean;
}

/** A Kubernetes Namespace. */
export interface KubeNamespace {
  type: "Namespace";
  origin: ObjectOrigin;
  name: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Kubernetes ServiceAccount. */
export interface KubeServiceAccount {
  type: "ServiceAccount";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
}

/** A Kubernetes Secret: its type and the base64 values of `data` (and `stringData`, encoded). */
export interface KubeSecret {
  type: "Secret";
  origin: ObjectOrigin;
  namespace: string;
  name: string;
  secretType: string;
  data: Record<string, string>;
}

/** A Kubernetes Node, for its topology labels. */
export interface KubeNode {
  type: "Node";
  origin: ObjectOrigin;
  name: string;
  labels: Record<string, string>;
}

/** Any object this module reads. */
export type KubeObject =
  | KubeService
  | Workload
  | KubeNamespace
  | KubeServiceAccount
  | KubeSecret
  | KubeNode;

/** A problem with an object's shape, positioned like a validation diagnostic. */
export interface KubeIssue {
  file: string;
  line: number;
  kind: string;
  namespace?: string;
  name?: string;
  /** Field path such as `spec.ports[0].port`. */
  path: string;
  message: string;
}

/** Where a document came from. */
export interface ReadContext {
  file: string;
  defaultNamespace: string;
  positionOf(path: readonly YamlPathSegment[]): YamlPosition;
}

/** What {@linkcode readKubeObjects} found in one document. */
export interface ReadResult {
  objects: KubeObject[];
  issues: KubeIssue[];
}

// ---------------------------------------------------------------------------------------------
// Light schemas

const labelMap = z.record(z.string(), z.string());
const port = z.number().int().min(1).max(65535);

const metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});

const serviceSpec = z.looseObject({
  ports: z.array(z.looseObject({
    port,
    name: z.string().optional(),
    protocol: z.string().optional(),
    targetPort: z.union([z.number().int().min(0).max(65535), z.string()]).optional(),
    appProtocol: z.string().optional(),
  })).optional(),
  selector: labelMap.optional(),
  type: z.string().optional(),
});

const securityContext = z.looseObject({ runAsUser: z.number().int().optional() });

const container = z.looseObject({
  name: z.string().default(""),
  image: z.string().optional(),
  securityContext: securityContext.optional(),
});

const podSpec = z.looseObject({
  serviceAccountName: z.string().optional(),
  serviceAccount: z.string().optional(),
  containers: z.array(container).optional(),
  initContainers: z.array(container).optional(),
  securityContext: securityContext.optional(),
  nodeName: z.string().optional(),
});

const podTemplate = z.looseObject({
  metadata: z.looseObject({ labels: labelMap.optional(), annotations: labelMap.optional() })
    .optional(),
  spec: podSpec.optional(),
});

const secretBody = z.looseObject({
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
});

/** Controllers whose pods come from `spec.template`, by API group. */
const TEMPLATE_KINDS: Record<string, readonly string[]> = {
  "": ["ReplicationController"],
  apps: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
  extensions: ["Deployment", "DaemonSet", "ReplicaSet"],
  batch: ["Job"],
};

// ---------------------------------------------------------------------------------------------
// Reading

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function valueAt(root: unknown, path: readonly YamlPathSegment[]): unknown {
  let v = root;
  for (const s of path) {
    if (Array.isArray(v) && typeof s === "number") v = v[s];
    else if (isRecord(v)) v = Object.hasOwn(v, s) ? v[s] : undefined;
    else return undefined;
  }
  return v;
}

function issueText(issue: z.core.$ZodIssue, root: unknown, full: YamlPathSegment[]): string {
  const value = valueAt(root, full);
  if (issue.code === "invalid_type") {
    if (value === undefined) return `missing required field ${JSON.stringify(String(full.at(-1)))}`;
    return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(value)}`;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    if (typeof value === "number") return `must be an integer from 1 to 65535; got ${value}`;
    if (typeof value === "string") return "must not be empty";
  }
  if (issue.code === "invalid_union") return `expected a number or a name, got ${describe(value)}`;
  return issue.message;
}

/**
 * Reads the Kubernetes objects (and AuthorizationPolicies) in one decoded document; `List`s
 * are expanded. Istio networking resources and unknown kinds are skipped. Never throws.
 */
export function readKubeObjects(value: unknown, ctx: ReadContext): ReadResult {
  const out: ReadResult = { objects: [], issues: [] };
  readOne(value, [], ctx, out, true);
  return out;
}

function splitApiVersion(apiVersion: string): { group: string } {
  const slash = apiVersion.lastIndexOf("/");
  return { group: slash < 0 ? "" : apiVersion.slice(0, slash) };
}

/** Whether analyze reads Kubernetes objects of `group` and `kind` (Services, workloads, ...). */
export function isKubeKindRead(group: string, kind: string): boolean {
  return (group === "" &&
    ["Service", "Pod", "Namespace", "ServiceAccount", "Secret", "Node"].includes(kind)) ||
    (TEMPLATE_KINDS[group]?.includes(kind) ?? false) ||
    (group === "batch" && kind === "CronJob");
}

function readOne(
  value: unknown,
  prefix: YamlPathSegment[],
  ctx: ReadContext,
  out: ReadResult,
  allowList: boolean,
): void {
  if (!isRecord(value) || typeof value.kind !== "string" || typeof value.apiVersion !== "string") {
    return; // mesh's resource validation reports documents that aren't objects
  }
  const kind = value.kind;
  const { group } = splitApiVersion(value.apiVersion);
  if (kind === "List" || (kind.endsWith("List") && group === "")) {
    if (allowList && Array.isArray(value.items)) {
      value.items.forEach((item, i) => readOne(item, [...prefix, "items", i], ctx, out, false));
    }
    return;
  }
  if (!isKubeKindRead(group, kind)) return;

  const clusterScoped = kind === "Namespace" || kind === "Node";
  const at = (path: readonly YamlPathSegment[]) => ctx.positionOf([...prefix, ...path]);
  const rawMeta = isRecord(value.metadata) ? value.metadata : {};
  const subject = {
    kind,
    namespace: clusterScoped
      ? undefined
      : typeof rawMeta.namespace === "string"
      ? rawMeta.namespace
      : ctx.defaultNamespace,
    name: typeof rawMeta.name === "string" ? rawMeta.name : undefined,
  };
  let failed = false;
  const check = <T>(schema: z.ZodType<T>, path: YamlPathSegment[]): T | undefined => {
    const v = valueAt(value, path);
    // A field written with no value (`annotations:`) is absent, as Kubernetes reads it.
    const parsed = schema.safeParse(withoutNulls(v));
    if (parsed.success) return parsed.data;
    failed = true;
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const full = [...path, ...issue.path as YamlPathSegment[]];
      const key = formatPath(full);
      if (seen.has(key)) continue;
      seen.add(key);
      out.issues.push({
        file: ctx.file,
        line: at(full).line,
        ...subject,
        path: key,
        message: issueText(issue, value, full),
      });
    }
    return undefined;
  };

  const meta = check(metadata, ["metadata"]);
  if (!meta) {
    if (value.metadata === undefined) {
      out.issues.push({
        file: ctx.file,
        line: at([]).line,
        ...subject,
        path: "metadata",
        message: `missing required field "metadata"; give the ${kind} a name`,
      });
    }
    return;
  }
  const namespace = meta.namespace ?? ctx.defaultNamespace;
  const origin: ObjectOrigin = {
    kind,
    ...(clusterScoped ? {} : { namespace }),
    name: meta.name,
    file: ctx.file,
    line: at([]).line,
    lineOf: (path) => at(path).line,
  };
  const labels = meta.labels ?? {};
  const annotations = meta.annotations ?? {};

  switch (kind) {
    case "Service": {
      const spec = check(serviceSpec.optional(), ["spec"]) ?? {};
      if (failed) return;
      out.objects.push({
        type: "Service",
        origin,
        namespace,
        name: meta.name,
        ports: (spec.ports ?? []).map((p) => ({
          port: p.port,
          ...(p.name !== undefined ? { name: p.name } : {}),
          protocol: (p.protocol ?? "TCP").toUpperCase(),
          ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
          ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
        })),
        ...(spec.selector ? { selector: spec.selector } : {}),
        labels,
        annotations,
        serviceType: spec.type ?? "ClusterIP",
        conditions: conditionsOf(value.status),
      });
      return;
    }
    case "Pod": {
      const spec = check(podSpec.optional(), ["spec"]);
      if (failed) return;
      out.objects.push({
        type: "Workload",
        origin,
        namespace,
        name: meta.name,
        labels,
        podAnnotations: annotations,
        meta: { labels, annotations },
        ...podFields(spec),
      });
      return;
    }
    case "Namespace":
      out.objects.push({ type: "Namespace", origin, name: meta.name, labels, annotations });
      return;
    case "Node":
      out.objects.push({ type: "Node", origin, name: meta.name, labels });
      return;
    case "ServiceAccount":
      out.objects.push({ type: "ServiceAccount", origin, namespace, name: meta.name });
      return;
    case "Secret": {
      const body = check(secretBody, []);
      if (!body) return;
      const data: Record<string, string> = { ...(body.data ?? {}) };
      for (const [k, v] of Object.entries(body.stringData ?? {})) data[k] = base64(v);
      out.objects.push({
        type: "Secret",
        origin,
        namespace,
        name: meta.name,
        secretType: body.type ?? "Opaque",
        data,
      });
      return;
    }
  }
  // Controllers: the pod template.
  const templatePath = kind === "CronJob"
    ? ["spec", "jobTemplate", "spec", "template"]
    : ["spec", "template"];
  const template = check(podTemplate.optional(), templatePath);
  if (failed) return;
  out.objects.push({
    type: "Workload",
    origin,
    namespace,
    name: meta.name,
    labels: template?.metadata?.labels ?? {},
    podAnnotations: template?.metadata?.annotations ?? {},
    meta: { labels, annotations },
    ...podFields(template?.spec),
  });
}

/** `v` with every mapping entry whose value is null left out (null itself is undefined). */
function withoutNulls(v: unknown): unknown {
  if (v === null) return undefined;
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

type PodSpec = z.infer<typeof podSpec>;

function podFields(spec: PodSpec | undefined): Partial<Workload> {
  const out: Partial<Workload> = {};
  const sa = spec?.serviceAccountName ?? spec?.serviceAccount;
  if (sa) out.serviceAccount = sa;
  out.containers = (spec?.containers ?? []).map((c) => ({
    name: c.name,
    ...(c.image !== undefined ? { image: c.image } : {}),
    ...(c.securityContext?.runAsUser !== undefined
      ? { runAsUser: c.securityContext.runAsUser }
      : {}),
  }));
  out.initContainerNames = (spec?.initContainers ?? []).map((c) => c.name);
  if (spec?.securityContext?.runAsUser !== undefined) {
    out.runAsUser = spec.securityContext.runAsUser;
  }
  if (spec?.nodeName) out.nodeName = spec.nodeName;
  return out;
}

function base64(s: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(s)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** `status.conditions` read loosely: entries without a string `type` are left out. */
export function conditionsOf(status: unknown): Condition[] {
  if (!isRecord(status) || !Array.isArray(status.conditions)) return [];
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return status.conditions.filter((c) => isRecord(c) && typeof c.type === "string").map((c) => ({
    type: str(c.type),
    status: str(c.status),
    reason: str(c.reason),
    message: str(c.message),
  }));
}

/** Whether `labels` carry every key/value of `selector` (an empty selector matches all). */
export function selectorMatches(
  selector: Record<string, string>,
  labels: Record<string, string>,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A label selector as Kubernetes prints it: `k1=v1,k2=v2`, keys sorted. */
export function selectorString(selector: Record<string, string>): string {
  return Object.keys(selector).sort().map((k) => `${k}=${selector[k]}`).join(",");
}
