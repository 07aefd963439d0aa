/**
 * What the analyzers work on: every input file read once into Istio resources (via
 * {@linkcode parseResources}), the Kubernetes objects beside them (see `k8s.ts`), the kinds
 * mesh's parser doesn't read (see `loose_kinds.ts`), the host registry built from them, and
 * the messages reported so far.
 *
 * Reading reports on its own: validation errors and warnings become `IST0106` and `IST0133`
 * messages, and a kind/namespace/name defined twice is `MSH0001` (the later one is analyzed,
 * as the control plane lets the later file win).
 *
 * A resource that fails Istio's checks but has the right shape (its `spec` matches the
 * schema: only a semantic rule failed) is still analyzed, as istioctl keeps such resources in
 * its store: references to it resolve and its own references are checked. One whose shape is
 * wrong (an unknown field, a string where a list belongs) is only reported, as istioctl can't
 * read it either.
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
  type AuthorizationPolicy,
  type DestinationRule,
  type Gateway,
  KIND_INFO,
  MAX_DOCUMENT_SIZE,
  MAX_INPUT_SIZE,
  type MeshConfig,
  parseResources,
  type PeerAuthentication,
  type RequestAuthentication,
  type Resource,
  type ServiceEntry,
  type Sidecar,
  type SkippedDocument,
  type Telemetry,
  type VirtualService,
  type WorkloadEntry,
} from "../../api/resources.ts";
import type { Diagnostic } from "../../api/diagnostic.ts";
import { parseYamlDocuments, type YamlPathSegment, type YamlPosition } from "../../util/yaml.ts";
import {
  isKubeKindRead,
  type KubeIssue,
  type KubeNamespace,
  type KubeNode,
  type KubeObject,
  type KubeSecret,
  type KubeService,
  type KubeServiceAccount,
  type ObjectOrigin,
  readKubeObjects,
  type Workload,
} from "./k8s.ts";
import {
  type CustomResourceDefinition,
  type GatewayRoute,
  type KubernetesGateway,
  type LooseObject,
  readLooseObjects,
  type WasmPlugin,
} from "./loose_kinds.ts";
import { HostIndex, ScopedHosts } from "./hosts.ts";
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

/**
 * Namespaces istioctl leaves out of analysis altogether (Kubernetes' own, and kind's storage):
 * objects in them, and Namespace objects for them, are not read.
 */
export const IGNORED_NAMESPACES: ReadonlySet<string> = new Set([
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "local-path-storage",
]);

function ignored(kind: string, namespace: string | undefined, name: string | undefined) {
  return IGNORED_NAMESPACES.has((kind === "Namespace" ? name : namespace) ?? "");
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
  /** Documents neither mesh's resources nor Kubernetes objects analyze reads (noted, not analyzed). */
  readonly notRead: SkippedDocument[] = [];
  readonly virtualServices: VirtualService[] = [];
  readonly destinationRules: DestinationRule[] = [];
  readonly gateways: Gateway[] = [];
  readonly serviceEntries: ServiceEntry[] = [];
  readonly workloadEntries: WorkloadEntry[] = [];
  readonly sidecars: Sidecar[] = [];
  readonly telemetries: Telemetry[] = [];
  readonly authorizationPolicies: AuthorizationPolicy[] = [];
  readonly requestAuthentications: RequestAuthentication[] = [];
  readonly peerAuthentications: PeerAuthentication[] = [];
  /** The MeshConfig in effect: the first by namespace/name, as the control plane picks it. */
  meshConfig?: MeshConfig;
  readonly services: KubeService[] = [];
  /** Pods, pod templates, WorkloadEntries and the default gateway. */
  readonly workloads: Workload[] = [];
  readonly namespaces: KubeNamespace[] = [];
  readonly serviceAccounts: KubeServiceAccount[] = [];
  readonly secrets: KubeSecret[] = [];
  readonly nodes: KubeNode[] = [];
  readonly kubernetesGateways: KubernetesGateway[] = [];
  readonly gatewayRoutes: GatewayRoute[] = [];
  readonly wasmPlugins: WasmPlugin[] = [];
  readonly crds: CustomResourceDefinition[] = [];
  /** Every namespace some input object lives in (plus the default one and `istio-system`). */
  readonly namespacesInUse = new Set<string>();
  readonly messages: Message[] = [];
  /** Hosts as mesh's control plane sees them (wildcards, exportTo). */
  hosts: HostIndex = new HostIndex([]);
  /** Hosts as Istio's analyzers index them (see {@linkcode ScopedHosts}). */
  scopedHosts: ScopedHosts = new ScopedHosts([], []);
  #positions = new Map<string, (path: readonly YamlPathSegment[]) => YamlPosition>();
  #raw = new Map<string, unknown>();

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

  /** Remembers the document object that starts at `file:line`, as written. */
  addRaw(file: string, line: number, value: unknown): void {
    this.#raw.set(`${file}\n${line}`, value);
  }

  /** The object `r` was read from, as written (for fields the typed forms leave out). */
  rawOf(r: { file: string; line: number }): Record<string, unknown> {
    const v = this.#raw.get(`${r.file}\n${r.line}`);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? v as Record<string, unknown>
      : {};
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

/** The value at `path` inside `v`, or undefined. */
function valueAt(v: unknown, path: readonly PropertyKey[]): unknown {
  let x = v;
  for (const k of path) {
    if (typeof x !== "object" || x === null) return undefined;
    x = (x as Record<PropertyKey, unknown>)[k];
  }
  return x;
}

/**
 * Whether a schema issue is one of Istio's validation rules rather than a document Istio's
 * decoder can't read: a missing field, a value out of range or of the wrong form. Unknown
 * fields, values of the wrong type and unknown enum values make istioctl drop the resource;
 * a port `protocol` is a plain string in Istio's API, so an unknown one is only a rule.
 */
function semanticIssue(issue: { code: string; path: readonly PropertyKey[] }, spec: unknown) {
  switch (issue.code) {
    case "invalid_value":
      return issue.path.at(-1) === "protocol";
    case "invalid_type": {
      const v = valueAt(spec, issue.path);
      return v === undefined || v === null;
    }
    case "too_small":
    case "too_big":
    case "invalid_format":
    case "not_multiple_of":
    case "custom":
      return true;
    default:
      return false;
  }
}

/** The top-level lists and strings analyzers iterate, filled in where an invalid spec lacks them. */
const SPEC_DEFAULTS: Partial<Record<string, Record<string, unknown>>> = {
  VirtualService: { hosts: [] },
  Gateway: { servers: [] },
  DestinationRule: { host: "" },
  ServiceEntry: { hosts: [] },
};

/**
 * The semantically invalid resources of a parse (see the module doc), typed as far as their
 * spec allows: an invalid resource may lack required fields, which analyzers read with care.
 */
function analyzableInvalid(parsed: ReturnType<typeof parseResources>): Resource[] {
  const out: Resource[] = [];
  for (const inv of parsed.invalid ?? []) {
    if (!inv.metadata.name) continue;
    const parsedSpec = KIND_INFO[inv.kind].schema.safeParse(inv.spec);
    let spec: unknown = parsedSpec.data;
    if (!parsedSpec.success) {
      const raw = inv.spec ?? {};
      if (typeof raw !== "object" || Array.isArray(raw)) continue;
      if (!parsedSpec.error.issues.every((i) => semanticIssue(i, inv.spec))) continue;
      spec = { ...SPEC_DEFAULTS[inv.kind], ...raw };
    }
    out.push({ ...inv, spec } as Resource);
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
  const loose: LooseObject[] = [];
  for (const { file, text } of inputs) {
    ctx.files.push(file);
    const parsed = parseResources(text, file, { defaultNamespace: ctx.defaultNamespace });
    // In source order, so that of two definitions the later one wins whichever is invalid.
    resources.push(
      ...[...parsed.resources, ...analyzableInvalid(parsed)].sort((a, b) =>
        a.source.line - b.source.line
      ),
    );
    for (const d of parsed.diagnostics) {
      if (!ignored(d.kind ?? "", d.namespace, d.name)) {
        ctx.messages.push(schemaMessage(d, d.severity));
      }
    }
    const warned = new Set(parsed.diagnostics.map((d) => `${d.file}:${d.line}`));
    ctx.notRead.push(...parsed.skipped.filter((s) =>
      !warned.has(`${s.file}:${s.line}`) &&
      !isKubeKindRead(s.apiVersion.includes("/") ? s.apiVersion.split("/")[0] : "", s.kind)
    ));
    if (text.length > MAX_INPUT_SIZE) continue; // reported by parseResources
    for (const doc of parseYamlDocuments(text, { maxDocumentSize: MAX_DOCUMENT_SIZE })) {
      if (doc.error) continue; // reported by parseResources
      registerPositions(ctx, file, doc.value, doc.positionOf);
      const readContext = {
        file,
        defaultNamespace: ctx.defaultNamespace,
        positionOf: doc.positionOf,
      };
      const read = readKubeObjects(doc.value, readContext);
      objects.push(...read.objects);
      for (const issue of read.issues) {
        if (!ignored(issue.kind, issue.namespace, issue.name)) {
          ctx.messages.push(schemaMessage(issue, "error"));
        }
      }
      loose.push(...readLooseObjects(doc.value, readContext));
    }
  }

  const kept = dedupe(
    ctx,
    resources.filter((r) => !ignored(r.kind, r.metadata.namespace, r.metadata.name)),
    (r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`,
    (r) => ctx.originOf(r),
  );
  for (const r of kept) {
    ctx.namespacesInUse.add(r.metadata.namespace);
    addResource(ctx, r);
  }
  const meshConfigs = kept.filter((r): r is MeshConfig => r.kind === "MeshConfig");
  ctx.meshConfig = meshConfigs.sort((a, b) => {
    const ka = `${a.metadata.namespace}/${a.metadata.name}`;
    const kb = `${b.metadata.namespace}/${b.metadata.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  })[0];

  const keptObjects = dedupe(
    ctx,
    objects.filter((o) => !ignored(o.origin.kind, o.origin.namespace, o.origin.name)),
    (o) => `${o.origin.kind}/${o.origin.namespace ?? ""}/${o.origin.name}`,
    (o) => o.origin,
  );
  for (const o of keptObjects) {
    if (o.origin.namespace !== undefined) ctx.namespacesInUse.add(o.origin.namespace);
    addObject(ctx, o);
  }
  const keptLoose = dedupe(
    ctx,
    loose.filter((o) => !ignored(o.origin.kind, o.origin.namespace, o.origin.name)),
    (o) => `${o.origin.kind}/${o.origin.namespace ?? ""}/${o.origin.name}`,
    (o) => o.origin,
  );
  for (const o of keptLoose) {
    if (o.origin.namespace !== undefined) ctx.namespacesInUse.add(o.origin.namespace);
    addLoose(ctx, o);
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
  ctx.scopedHosts = new ScopedHosts(ctx.serviceEntries, ctx.services);
  return ctx;
}

function addResource(ctx: AnalysisContext, r: Resource): void {
  switch (r.kind) {
    case "VirtualService":
      return void ctx.virtualServices.push(r);
    case "DestinationRule":
      return void ctx.destinationRules.push(r);
    case "Gateway":
      return void ctx.gateways.push(r);
    case "ServiceEntry":
      return void ctx.serviceEntries.push(r);
    case "WorkloadEntry":
      return void ctx.workloadEntries.push(r);
    case "Sidecar":
      return void ctx.sidecars.push(r);
    case "Telemetry":
      return void ctx.telemetries.push(r);
    case "AuthorizationPolicy":
      return void ctx.authorizationPolicies.push(r);
    case "RequestAuthentication":
      return void ctx.requestAuthentications.push(r);
    case "PeerAuthentication":
      return void ctx.peerAuthentications.push(r);
  }
}

function addObject(ctx: AnalysisContext, o: KubeObject): void {
  switch (o.type) {
    case "Service":
      return void ctx.services.push(o);
    case "Workload":
      return void ctx.workloads.push(o);
    case "Namespace":
      return void ctx.namespaces.push(o);
    case "ServiceAccount":
      return void ctx.serviceAccounts.push(o);
    case "Secret":
      return void ctx.secrets.push(o);
    case "Node":
      return void ctx.nodes.push(o);
  }
}

function addLoose(ctx: AnalysisContext, o: LooseObject): void {
  switch (o.type) {
    case "KubernetesGateway":
      return void ctx.kubernetesGateways.push(o);
    case "GatewayRoute":
      return void ctx.gatewayRoutes.push(o);
    case "WasmPlugin":
      return void ctx.wasmPlugins.push(o);
    case "CustomResourceDefinition":
      return void ctx.crds.push(o);
  }
}

/** Records field positions for each top-level object (and `List` item) of a document. */
function registerPositions(
  ctx: AnalysisContext,
  file: string,
  value: unknown,
  positionOf: (path: readonly YamlPathSegment[]) => YamlPosition,
): void {
  const register = (prefix: YamlPathSegment[], raw: unknown) => {
    const line = positionOf(prefix).line;
    ctx.addPositions(file, line, (path) => positionOf([...prefix, ...path]));
    ctx.addRaw(file, line, raw);
  };
  register([], value);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const items = (value as Record<string, unknown>).items;
    if (Array.isArray(items)) items.forEach((item, i) => register(["items", i], item));
  }
}
