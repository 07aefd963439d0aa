/**
 * What the analyzers work on: every input file read once into the Istio resources that
 * validate (via {@linkcode parseResources}), the Kubernetes objects beside them (see
 * `k8s.ts`), the host registry built from both, and the messages reported so far.
 *
 * Reading reports on its own: validation errors and warnings become `IST0106` and `IST0133`
 * messages, and a kind/namespace/name defined twice is `MSH0001` (the later one is analyzed,
 * as the control plane lets the later file win).
 *
 * @example
 * ```ts
 * const ctx = loadInputs([{ file: "vs.yaml", text }], { defaultNamespace: "default" });
 * for (const vs of ctx.virtualServices) {
 *   if (!ctx.hosts.lookup(vs.spec.hosts[0], vs.metadata.namespace)) {
 *     ctx.report(ReferencedResourceNotFound, ["host", vs.spec.hosts[0]], ctx.originOf(vs),
 *       ["spec", "hosts", 0]);
 *   }
 * }
 * ```
 * @module
 */
import {
  type DestinationRule,
  type Gateway,
  MAX_DOCUMENT_SIZE,
  MAX_INPUT_SIZE,
  parseResources,
  type Resource,
  type ServiceEntry,
  type VirtualService,
  type WorkloadEntry,
} from "../../api/resources.ts";
import type { Diagnostic } from "../../api/diagnostic.ts";
import { parseYamlDocuments, type YamlPathSegment, type YamlPosition } from "../../util/yaml.ts";
import {
  type AuthorizationPolicy,
  type KubeIssue,
  type KubeNamespace,
  type KubeObject,
  type KubeService,
  type KubeServiceAccount,
  type ObjectOrigin,
  readKubeObjects,
  type Workload,
} from "./k8s.ts";
import { HostIndex } from "./hosts.ts";
import {
  DuplicateResource,
  type Message,
  type MessageType,
  newMessage,
  SchemaValidationError,
  SchemaWarning,
} from "./messages.ts";

/** One input: a file name (as given) and its text. */
export interface Input {
  file: string;
  text: string;
}

/** Options of {@linkcode loadInputs} and `analyze`. */
export interface AnalyzeOptions {
  /** Namespace of resources that name none (default `default`). */
  defaultNamespace?: string;
  /**
   * Add the workload of mesh's default ingress gateway (`istio-system`, labels
   * `istio=ingressgateway`, `app=istio-ingressgateway`), as istioctl adds a default ingress
   * gateway when it analyzes files only. Default true.
   */
  defaultIngressGateway?: boolean;
}

/** Labels of the default ingress gateway (`mesh start --mode=gateway` without `--labels`). */
export const DEFAULT_GATEWAY_LABELS: Readonly<Record<string, string>> = {
  istio: "ingressgateway",
  app: "istio-ingressgateway",
};

/** The analysis inputs, the derived registry, and the messages reported so far. */
export class AnalysisContext {
  readonly defaultNamespace: string;
  readonly files: string[] = [];
  readonly virtualServices: VirtualService[] = [];
  readonly destinationRules: DestinationRule[] = [];
  readonly gateways: Gateway[] = [];
  readonly serviceEntries: ServiceEntry[] = [];
  readonly workloadEntries: WorkloadEntry[] = [];
  readonly services: KubeService[] = [];
  /** Pods, pod templates, WorkloadEntries and the default gateway. */
  readonly workloads: Workload[] = [];
  readonly namespaces: KubeNamespace[] = [];
  readonly serviceAccounts: KubeServiceAccount[] = [];
  readonly authorizationPolicies: AuthorizationPolicy[] = [];
  /** Every namespace some input object lives in (plus the default one and `istio-system`). */
  readonly namespacesInUse = new Set<string>();
  readonly messages: Message[] = [];
  hosts: HostIndex = new HostIndex([]);
  #positions = new Map<string, (path: readonly YamlPathSegment[]) => YamlPosition>();

  constructor(defaultNamespace: string) {
    this.defaultNamespace = defaultNamespace;
  }

  /** Remembers how to locate fields of the object that starts at `file:line`. */
  addPositions(
    file: string,
    line: number,
    positionOf: (path: readonly YamlPathSegment[]) => YamlPosition,
  ): void {
    this.#positions.set(`${file}\n${line}`, positionOf);
  }

  /** The origin of an Istio resource, with field positions when its file was read here. */
  originOf(r: Resource): ObjectOrigin {
    const { file, line } = r.source;
    const pos = this.#positions.get(`${file}\n${line}`);
    return {
      kind: r.kind,
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      file,
      line,
      lineOf: (path) => (pos ? pos(path).line : line),
    };
  }

  /** Reports a message about `origin`, pointing at the field at `path` when given. */
  report<A extends unknown[]>(
    type: MessageType<A>,
    args: A,
    origin?: ObjectOrigin,
    path?: readonly YamlPathSegment[],
  ): void {
    if (!origin) {
      this.messages.push(newMessage(type, args));
      return;
    }
    this.messages.push(newMessage(type, args, {
      resource: {
        kind: origin.kind,
        ...(origin.namespace !== undefined ? { namespace: origin.namespace } : {}),
        name: origin.name,
      },
      ...(origin.file ? { file: origin.file, line: path ? origin.lineOf(path) : origin.line } : {}),
    }));
  }

  /** Namespaces that exist: Namespace objects, and every namespace an input object is in. */
  knownNamespaces(): Set<string> {
    const out = new Set(this.namespacesInUse);
    for (const ns of this.namespaces) out.add(ns.name);
    return out;
  }
}

function schemaMessage(d: Diagnostic | KubeIssue, severity: "error" | "warning"): Message {
  const text = d.path ? `${d.path}: ${d.message}` : d.message;
  const type = severity === "error" ? SchemaValidationError : SchemaWarning;
  return newMessage(type, [text], {
    ...(d.kind && d.name
      ? {
        resource: {
          kind: d.kind,
          ...(d.namespace !== undefined && d.kind !== "Namespace"
            ? { namespace: d.namespace }
            : {}),
          name: d.name,
        },
      }
      : {}),
    file: d.file,
    line: d.line,
  });
}

function where(o: { file: string; line: number }): string {
  return o.file ? `${o.file}:${o.line}` : "<default>";
}

/** Keeps the last of each key; reports the earlier ones as ignored duplicates. */
function dedupe<T>(
  ctx: AnalysisContext,
  items: readonly T[],
  keyOf: (t: T) => string,
  originOf: (t: T) => ObjectOrigin,
): T[] {
  const last = new Map<string, T>();
  for (const item of items) last.set(keyOf(item), item);
  const out: T[] = [];
  for (const item of items) {
    const winner = last.get(keyOf(item))!;
    if (winner === item) out.push(item);
    else ctx.report(DuplicateResource, [where(originOf(winner))], originOf(item));
  }
  return out;
}

/** Reads all inputs into an {@linkcode AnalysisContext}. Never throws on bad input. */
export function loadInputs(
  inputs: readonly Input[],
  options: AnalyzeOptions = {},
): AnalysisContext {
  const ctx = new AnalysisContext(options.defaultNamespace ?? "default");
  const resources: Resource[] = [];
  const objects: KubeObject[] = [];
  for (const { file, text } of inputs) {
    ctx.files.push(file);
    const parsed = parseResources(text, file, { defaultNamespace: ctx.defaultNamespace });
    resources.push(...parsed.resources);
    for (const d of parsed.diagnostics) ctx.messages.push(schemaMessage(d, d.severity));
    if (text.length > MAX_INPUT_SIZE) continue; // reported by parseResources
    for (const doc of parseYamlDocuments(text, { maxDocumentSize: MAX_DOCUMENT_SIZE })) {
      if (doc.error) continue; // reported by parseResources
      registerPositions(ctx, file, doc.value, doc.positionOf);
      const read = readKubeObjects(doc.value, {
        file,
        defaultNamespace: ctx.defaultNamespace,
        positionOf: doc.positionOf,
      });
      objects.push(...read.objects);
      for (const issue of read.issues) ctx.messages.push(schemaMessage(issue, "error"));
    }
  }

  const kept = dedupe(
    ctx,
    resources,
    (r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`,
    (r) => ctx.originOf(r),
  );
  for (const r of kept) {
    ctx.namespacesInUse.add(r.metadata.namespace);
    switch (r.kind) {
      case "VirtualService":
        ctx.virtualServices.push(r);
        break;
      case "DestinationRule":
        ctx.destinationRules.push(r);
        break;
      case "Gateway":
        ctx.gateways.push(r);
        break;
      case "ServiceEntry":
        ctx.serviceEntries.push(r);
        break;
      case "WorkloadEntry":
        ctx.workloadEntries.push(r);
        break;
    }
  }

  const keptObjects = dedupe(
    ctx,
    objects,
    (o) => `${o.origin.kind}/${o.origin.namespace ?? ""}/${o.origin.name}`,
    (o) => o.origin,
  );
  for (const o of keptObjects) {
    if (o.origin.namespace !== undefined) ctx.namespacesInUse.add(o.origin.namespace);
    switch (o.type) {
      case "Service":
        ctx.services.push(o);
        break;
      case "Workload":
        ctx.workloads.push(o);
        break;
      case "Namespace":
        ctx.namespaces.push(o);
        break;
      case "ServiceAccount":
        ctx.serviceAccounts.push(o);
        break;
      case "AuthorizationPolicy":
        // If mesh's own validation rejected it, it is reported there and not analyzed.
        if (!rejected(ctx.messages, o.origin)) ctx.authorizationPolicies.push(o);
        break;
    }
  }

  for (const we of ctx.workloadEntries) {
    ctx.workloads.push({
      type: "Workload",
      origin: ctx.originOf(we),
      namespace: we.metadata.namespace,
      name: we.metadata.name,
      labels: { ...(we.metadata.labels ?? {}), ...(we.spec.labels ?? {}) },
      ...(we.spec.serviceAccount ? { serviceAccount: we.spec.serviceAccount } : {}),
    });
  }
  if (options.defaultIngressGateway ?? true) {
    ctx.workloads.push({
      type: "Workload",
      origin: {
        kind: "Pod",
        namespace: "istio-system",
        name: "istio-ingressgateway",
        file: "",
        line: 0,
        lineOf: () => 0,
      },
      namespace: "istio-system",
      name: "istio-ingressgateway",
      labels: { ...DEFAULT_GATEWAY_LABELS },
      serviceAccount: "istio-ingressgateway",
      synthetic: true,
    });
    ctx.namespacesInUse.add("istio-system");
  }
  ctx.namespacesInUse.add(ctx.defaultNamespace);
  ctx.hosts = HostIndex.build(ctx.services, ctx.serviceEntries, (se) => ctx.originOf(se));
  return ctx;
}

/** Records field positions for each top-level object (and `List` item) of a document. */
function registerPositions(
  ctx: AnalysisContext,
  file: string,
  value: unknown,
  positionOf: (path: readonly YamlPathSegment[]) => YamlPosition,
): void {
  const register = (prefix: YamlPathSegment[]) =>
    ctx.addPositions(
      file,
      positionOf(prefix).line,
      (path) => positionOf([...prefix, ...path]),
    );
  register([]);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const items = (value as Record<string, unknown>).items;
    if (Array.isArray(items)) items.forEach((_, i) => register(["items", i]));
  }
}

function rejected(messages: readonly Message[], o: ObjectOrigin): boolean {
  return messages.some((m) =>
    m.code === SchemaValidationError.code && m.resource?.kind === o.kind &&
    m.resource.name === o.name && m.resource.namespace === o.namespace
  );
}
