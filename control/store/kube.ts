/**
 * A {@linkcode ConfigStore} on the Kubernetes API: Istio's resources as the custom resources
 * `kubectl apply` writes, read through one informer per kind (`control/kube/informer.ts`:
 * LIST, then WATCH with bookmarks, relist on 410, backoff), validated with the same rules as
 * files. A stored resource mesh rejects is reported (the snapshot's diagnostics, with the
 * object's `kind/namespace/name` as its file) and skipped, never served and never fatal; a
 * kind whose CRD isn't installed, or that the role may not list, is a diagnostic too, retried
 * until it works.
 *
 * Writes go to the API server (create, or replace at the cached resourceVersion; a conflict
 * re-reads once) and resolve once the informer has seen them, so a snapshot taken after
 * `apply` includes the change, as the contract requires. Server-set metadata (uid,
 * resourceVersion, managedFields, timestamps) is not part of a resource: what is compared and
 * served is `apiVersion`, `kind`, name, namespace, labels, annotations and `spec`.
 *
 * @example
 * ```ts
 * const store = await KubeStore.start({ kube: new KubeClient(await loadKubeConfig()) });
 * store.list("VirtualService");
 * ```
 * @module
 */
import { type Diagnostic, formatDiagnostic } from "../../api/diagnostic.ts";
import { logger } from "../../util/log.ts";
import { type Kind, KIND_INFO, KINDS, MESH } from "../../api/kinds.ts";
import { type Resource, validateResource } from "../../api/resources.ts";
import { KubeApiError, type KubeClient, type KubeObject, resourcePath } from "../kube/client.ts";
import { type Informer, InformerFactory } from "../kube/informer.ts";
import { type LabelSelector, meshConfigOf, selectedNamespaces } from "../kube/namespaces.ts";
import {
  type KubeEndpointSlice,
  type KubePod,
  type KubeService,
  serviceEntriesOf,
} from "../kube/services.ts";
import {
  canonical,
  deepFreeze,
  keyOf,
  keyString,
  sameContent,
  SerialQueue,
  SnapshotStore,
  validateInputs,
} from "./common.ts";
import type {
  ApplyAction,
  ApplyResult,
  ChangeResult,
  ConfigStore,
  DeleteAction,
  DeleteResult,
  ResourceInput,
  ResourceKey,
  StoreInfo,
} from "./types.ts";

/** What {@linkcode KubeStore.start} takes. */
export interface KubeStoreOptions {
  kube: KubeClient;
  /** The kinds to read (default: every kind with a Kubernetes API group). */
  kinds?: readonly Kind[];
  /** How long `start` waits for the first LIST of each kind (default 30 s); late ones follow. */
  syncTimeoutMs?: number;
  /** How long a write waits to be seen by the watch before it fails (default 30 s). */
  writeTimeoutMs?: number;
  /** `close()` closes the client too (default true). */
  closeClient?: boolean;
  /**
   * Also read Services, EndpointSlices and Pods as the service registry (their ServiceEntries,
   * `control/kube/services.ts`, join the snapshot); `domain` is the cluster's DNS domain.
   */
  registry?: {
    domain?: string;
    /** Istio's mesh ConfigMap (MeshConfig in its `mesh` key; default `istio-system/istio`). */
    meshConfigMap?: { namespace: string; name: string };
  };
}

/** The collections the service registry reads (and the mesh ConfigMap's namespace's). */
const REGISTRY_PATHS = {
  services: "/api/v1/services",
  slices: "/apis/discovery.k8s.io/v1/endpointslices",
  pods: "/api/v1/pods",
  namespaces: "/api/v1/namespaces",
} as const;

const log = logger("kube-store");

/** The metadata fields that are a resource's content; the server sets the rest. */
const CONTENT_METADATA = ["name", "namespace", "labels", "annotations"] as const;

/** The kinds that live in the Kubernetes API (not mesh's own MeshConfig). */
export function kubeKinds(): Kind[] {
  return KINDS.filter((k) => KIND_INFO[k].group !== MESH);
}

interface Parsed {
  rv: string;
  /** The content it was validated from (JSON), when it came from a stored object. */
  text?: string;
  resource?: Resource;
  diagnostics: Diagnostic[];
}

/** Istio's resources in the Kubernetes API. */
export class KubeStore extends SnapshotStore implements ConfigStore {
  readonly backend = "kube";
  readonly #kube: KubeClient;
  readonly #factory: InformerFactory;
  readonly #informers = new Map<Kind, Informer>();
  readonly #queue = new SerialQueue();
  readonly #parsed = new Map<string, Parsed>();
  readonly #writeTimeoutMs: number;
  readonly #closeClient: boolean;
  #waiters = new Set<() => void>();
  #closed = false;
  #registry:
    | {
      domain: string;
      informers: Record<keyof typeof REGISTRY_PATHS | "configMaps", Informer>;
      meshConfigMap: { namespace: string; name: string };
    }
    | undefined;
  /** The MeshConfig from the mesh ConfigMap, validated once per version of it. */
  #meshConfig: { rv: string; parsed: Parsed } | undefined;
  /** Validated ServiceEntries made from Services, by their generated document. */
  #synthesized = new Map<string, Parsed>();

  private constructor(o: KubeStoreOptions) {
    super();
    this.#kube = o.kube;
    this.#factory = new InformerFactory(o.kube);
    this.#writeTimeoutMs = o.writeTimeoutMs ?? 30_000;
    this.#closeClient = o.closeClient ?? true;
  }

  /** Starts an informer per kind; resolves once each has listed (or `syncTimeoutMs` passed). */
  static async start(o: KubeStoreOptions): Promise<KubeStore> {
    const store = new KubeStore(o);
    for (const kind of o.kinds ?? kubeKinds()) {
      const info = KIND_INFO[kind];
      const path = resourcePath({
        group: info.group,
        version: info.versions[0],
        plural: info.plural,
      });
      const inf = store.#factory.for(path, kind);
      store.#informers.set(kind, inf);
      inf.subscribe(() => store.#changed());
    }
    if (o.registry) {
      const f = store.#factory;
      const cm = o.registry.meshConfigMap ?? { namespace: "istio-system", name: "istio" };
      store.#registry = {
        domain: o.registry.domain ?? "cluster.local",
        informers: {
          services: f.for(REGISTRY_PATHS.services, "Service"),
          slices: f.for(REGISTRY_PATHS.slices, "EndpointSlice"),
          pods: f.for(REGISTRY_PATHS.pods, "Pod"),
          namespaces: f.for(REGISTRY_PATHS.namespaces, "Namespace"),
          configMaps: f.for(`/api/v1/namespaces/${cm.namespace}/configmaps`, "ConfigMap"),
        },
        meshConfigMap: cm,
      };
      for (const inf of Object.values(store.#registry.informers)) {
        inf.subscribe(() => store.#changed());
      }
    }
    // Each kind's first LIST worked or failed (a missing CRD is a diagnostic, retried).
    const all = Promise.all(store.#factory.all().map((i) => i.settled));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all,
      new Promise<void>((r) => timer = setTimeout(r, o.syncTimeoutMs ?? 30_000)),
    ]);
    clearTimeout(timer);
    store.#publish();
    return store;
  }

  /** An informer batch arrived: publish a snapshot, wake writers waiting to see theirs. */
  #changed(): void {
    if (this.#closed) return;
    this.#publish();
    for (const w of [...this.#waiters]) w();
  }

  /** Rebuilds the snapshot from the caches (objects already validated at their version skip it). */
  #publish(): void {
    const resources: Resource[] = [];
    const diagnostics: Diagnostic[] = [];
    const seen = new Set<string>();
    for (const [kind, inf] of this.#informers) {
      if (inf.error) {
        diagnostics.push({
          severity: "warning",
          file: `kube:${KIND_INFO[kind].plural}`,
          line: 1,
          column: 1,
          kind,
          path: "",
          message: `${kind} resources can't be read from the API server: ${inf.error}`,
        });
      }
      for (const obj of inf.items()) {
        const key = `${kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
        seen.add(key);
        const p = this.#parse(kind, key, obj);
        if (p.resource) resources.push(p.resource);
        diagnostics.push(...p.diagnostics);
      }
    }
    for (const k of this.#parsed.keys()) if (!seen.has(k)) this.#parsed.delete(k);
    let served = resources;
    if (this.#registry) {
      this.#services(resources, diagnostics);
      served = this.#scoped(resources, diagnostics);
    }
    const prev = this.cell.current;
    const same = prev.resources.length === served.length &&
      served.every((r) => this.cell.get(r.kind, r.metadata.namespace, r.metadata.name) === r);
    if (same && canonical(diagnostics) === canonical(prev.diagnostics)) return;
    this.cell.publish(same ? undefined : served, diagnostics);
  }

  /** The ServiceEntries of the Kubernetes Services, validated (each once per version). */
  #services(resources: Resource[], diagnostics: Diagnostic[]): void {
    const reg = this.#registry!;
    for (const inf of Object.values(reg.informers)) {
      if (!inf.error) continue;
      diagnostics.push({
        severity: "warning",
        file: `kube:${inf.name}`,
        line: 1,
        column: 1,
        path: "",
        message: `${inf.name}s can't be read from the API server: ${inf.error}`,
      });
    }
    const inputs = serviceEntriesOf({
      services: reg.informers.services.items() as KubeService[],
      slices: reg.informers.slices.items() as KubeEndpointSlice[],
      pods: reg.informers.pods.items() as KubePod[],
      domain: reg.domain,
    });
    const next = new Map<string, Parsed>();
    for (const input of inputs) {
      const { source, ...doc } = input;
      const text = JSON.stringify(doc);
      let p = this.#synthesized.get(text);
      if (!p) {
        const r = validateResource(doc, { file: source?.file ?? "kube:Service", line: 1 });
        const resource = r.resources[0];
        p = {
          rv: "",
          ...(resource ? { resource: deepFreeze(resource) } : {}),
          diagnostics: r.diagnostics,
        };
      }
      next.set(text, p);
      if (p.resource) resources.push(p.resource);
      diagnostics.push(...p.diagnostics);
    }
    this.#synthesized = next;
  }

  /**
   * The MeshConfig of the mesh ConfigMap joins the resources, and its `discoverySelectors`
   * keep only what lives in the namespaces they pick (and the root namespace).
   */
  #scoped(resources: Resource[], diagnostics: Diagnostic[]): Resource[] {
    const reg = this.#registry!;
    const cm = reg.informers.configMaps.get(reg.meshConfigMap.namespace, reg.meshConfigMap.name);
    const rv = cm?.metadata.resourceVersion ?? "";
    if (!cm) this.#meshConfig = undefined;
    else if (this.#meshConfig?.rv !== rv) {
      const doc = meshConfigOf(cm);
      let parsed: Parsed;
      if (doc === undefined) parsed = { rv, diagnostics: [] };
      else if ("error" in doc) {
        parsed = {
          rv,
          diagnostics: [{
            severity: "error",
            file: `kube:ConfigMap/${cm.metadata.namespace}/${cm.metadata.name}`,
            line: 1,
            column: 1,
            kind: "MeshConfig",
            path: "",
            message: doc.error,
          }],
        };
      } else {
        const { source, ...body } = doc;
        const r = validateResource(body, { file: source?.file ?? "kube:ConfigMap", line: 1 });
        const resource = r.resources[0];
        parsed = {
          rv,
          ...(resource ? { resource: deepFreeze(resource) } : {}),
          diagnostics: r.diagnostics,
        };
        for (const d of r.diagnostics) {
          (d.severity === "error" ? log.error : log.warn)(formatDiagnostic(d));
        }
      }
      this.#meshConfig = { rv, parsed };
    }
    const mesh = this.#meshConfig?.parsed;
    if (mesh) diagnostics.push(...mesh.diagnostics);
    const spec = (mesh?.resource as
      | { spec?: { discoverySelectors?: LabelSelector[]; rootNamespace?: string } }
      | undefined)?.spec;
    const selected = selectedNamespaces(
      spec?.discoverySelectors,
      reg.informers.namespaces.items(),
      [spec?.rootNamespace ?? "istio-system", reg.meshConfigMap.namespace],
    );
    const out = selected ? resources.filter((r) => selected.has(r.metadata.namespace)) : resources;
    return mesh?.resource ? [...out, mesh.resource] : out;
  }

  #parse(kind: Kind, key: string, obj: KubeObject): Parsed {
    const rv = obj.metadata.resourceVersion ?? "";
    const hit = this.#parsed.get(key);
    if (hit && hit.rv === rv) return hit;
    // A new version with the same content (a status write) keeps the validated resource: no
    // second log line, no new snapshot.
    const content = contentOf(obj);
    const text = JSON.stringify(content);
    if (hit && hit.text === text) {
      hit.rv = rv;
      return hit;
    }
    const r = validateResource(content, { file: `kube:${key}`, line: 1 });
    const resource = r.resources.find((x) => x.kind === kind);
    const p: Parsed = {
      rv,
      text,
      ...(resource ? { resource: deepFreeze(resource) } : {}),
      diagnostics: r.diagnostics,
    };
    this.#parsed.set(key, p);
    // Logged once per version of the object: a stored resource mesh rejects is skipped, and
    // says so (it may predate the admission webhook, or have been written around it).
    for (const d of r.diagnostics) {
      (d.severity === "error" ? log.error : log.warn)(formatDiagnostic(d));
    }
    if (!resource && r.diagnostics.some((d) => d.severity === "error")) {
      log.error("stored resource rejected; not served until fixed", { resource: key });
    }
    return p;
  }

  /** Waits until `done()` holds after an informer batch, or fails after the write timeout. */
  #seen(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(`${what}: written, but not seen by the watch in ${this.#writeTimeoutMs} ms`),
        );
      }, this.#writeTimeoutMs);
      const check = () => {
        if (!done() && !this.#closed) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (this.#closed && !done()) reject(new Error(`${what}: the store closed meanwhile`));
        else resolve();
      };
      this.#waiters.add(check);
    });
  }

  apply(inputs: readonly ResourceInput[]): Promise<ApplyResult> {
    const { resources, diagnostics } = validateInputs(inputs);
    // Only the kinds this store watches can be written (MeshConfig lives in Istio's ConfigMap).
    for (const r of resources) {
      if (this.#informers.has(r.kind as Kind)) continue;
      diagnostics.push({
        severity: "error",
        file: r.source?.file ?? "<apply>",
        line: r.source?.line ?? 1,
        column: 1,
        kind: r.kind,
        name: r.metadata.name,
        path: "",
        message: r.kind === "MeshConfig"
          ? "on Kubernetes, MeshConfig is the `mesh` key of Istio's ConfigMap " +
            `(${this.#registry?.meshConfigMap.namespace ?? "istio-system"}/` +
            `${this.#registry?.meshConfigMap.name ?? "istio"}); edit it there`
          : `${r.kind} is not read from the Kubernetes API by this control plane`,
      });
    }
    if (diagnostics.some((d) => d.severity === "error")) {
      return Promise.resolve({ ok: false, results: [], diagnostics, revision: this.revision });
    }
    return this.#queue.run(async () => {
      const results: ChangeResult<ApplyAction>[] = [];
      for (const r of resources) {
        const key = keyOf(r);
        const old = this.get(key.kind, key.namespace, key.name);
        if (old && sameContent(old, r)) {
          results.push({ ...key, apiVersion: r.apiVersion, action: "unchanged" });
          continue;
        }
        const written = await this.#write(r);
        await this.#seen(
          () => sameRv(this.#cached(r.kind as Kind, key.namespace, key.name), written.rv),
          `${keyString(key)}`,
        );
        results.push({
          ...key,
          apiVersion: r.apiVersion,
          action: written.created ? "created" : "configured",
        });
      }
      return { ok: true, results, diagnostics, revision: this.revision };
    });
  }

  #cached(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    return this.#informers.get(kind)?.get(namespace, name);
  }

  /** Creates or replaces `r`; resolves with the resourceVersion the server gave it. */
  async #write(r: Resource): Promise<{ rv: string; created: boolean }> {
    const info = KIND_INFO[r.kind as Kind];
    const [, version] = r.apiVersion.split("/");
    const ns = r.metadata.namespace;
    const ref = { group: info.group, version: version ?? info.versions[0], plural: info.plural };
    // The document's own kind (`Gateway` for the Gateway API's, whose id is KubernetesGateway).
    const body = { ...contentOf(r as unknown as KubeObject), kind: info.kind };
    const cached = this.#cached(r.kind as Kind, ns, r.metadata.name);
    // A replace keeps the metadata other writers own (finalizers, ownerReferences); the
    // content (labels, annotations, spec) is ours.
    const put = async (rv: string, now: KubeObject | undefined = cached) =>
      await this.#kube.request<KubeObject>(
        "PUT",
        resourcePath({ ...ref, namespace: ns, name: r.metadata.name }),
        {
          body: {
            ...body,
            metadata: { ...ownedElsewhere(now), ...body.metadata, resourceVersion: rv },
          },
        },
      );
    try {
      if (cached?.metadata.resourceVersion) {
        const out = await put(cached.metadata.resourceVersion);
        return { rv: out.metadata.resourceVersion ?? "", created: false };
      }
      const out = await this.#kube.request<KubeObject>(
        "POST",
        resourcePath({ ...ref, namespace: ns }),
        { body },
      );
      return { rv: out.metadata.resourceVersion ?? "", created: true };
    } catch (err) {
      // The cache was behind (someone else wrote meanwhile): read the object, replace it once.
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
      const now = await this.#kube.request<KubeObject>(
        "GET",
        resourcePath({ ...ref, namespace: ns, name: r.metadata.name }),
      ).catch(() => undefined);
      if (!now?.metadata.resourceVersion) throw err;
      const out = await put(now.metadata.resourceVersion, now);
      return { rv: out.metadata.resourceVersion ?? "", created: false };
    }
  }

  delete(keys: readonly ResourceKey[]): Promise<DeleteResult> {
    return this.#queue.run(async () => {
      const results: ChangeResult<DeleteAction>[] = [];
      for (const key of keys) {
        const info = KIND_INFO[key.kind as Kind];
        const old = this.get(key.kind, key.namespace, key.name);
        if (!info) {
          results.push({ ...key, apiVersion: "", action: "notfound" });
          continue;
        }
        let action: DeleteAction = "deleted";
        try {
          await this.#kube.request(
            "DELETE",
            resourcePath({
              group: info.group,
              version: info.versions[0],
              plural: info.plural,
              namespace: key.namespace,
              name: key.name,
            }),
          );
        } catch (err) {
          if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
          action = "notfound";
        }
        if (action === "deleted") {
          await this.#seen(
            () => !this.#cached(key.kind as Kind, key.namespace, key.name),
            keyString(key),
          );
        }
        results.push({
          kind: key.kind,
          namespace: key.namespace,
          name: key.name,
          apiVersion: old?.apiVersion ??
            (action === "deleted" ? `${info.group}/${info.versions[0]}` : ""),
          action,
        });
      }
      return { results, revision: this.revision };
    });
  }

  info(): StoreInfo {
    const s = this.cell.current;
    return {
      backend: this.backend,
      location: this.#kube.config.server,
      revision: s.revision,
      resources: s.resources.length,
      rejected: [],
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of [...this.#waiters]) w(); // writes waiting for the watch give up
    await this.#queue.idle();
    await this.#factory.stop();
    if (this.#closeClient) this.#kube.close();
    this.cell.close();
  }
}

/** Whether a cached object is at (or past) the written resourceVersion. */
function sameRv(o: KubeObject | undefined, rv: string): boolean {
  const have = o?.metadata.resourceVersion;
  if (!have) return false;
  if (have === rv) return true;
  // resourceVersions are etcd revisions: a later write of the same object is as good.
  return /^\d+$/.test(have) && /^\d+$/.test(rv) && BigInt(have) > BigInt(rv);
}

/** Metadata of a stored object that other writers own and a replace must keep. */
function ownedElsewhere(o: KubeObject | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ["finalizers", "ownerReferences"]) {
    if (o?.metadata[k] !== undefined) out[k] = o.metadata[k];
  }
  return out;
}

/** The part of an object that is its content: apiVersion, kind, metadata mesh keeps, spec. */
function contentOf(o: KubeObject): KubeObject {
  const metadata: Record<string, unknown> = {};
  for (const k of CONTENT_METADATA) {
    const v = o.metadata[k];
    if (v !== undefined && !(typeof v === "object" && v && Object.keys(v).length === 0)) {
      metadata[k] = v;
    }
  }
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: metadata as KubeObject["metadata"],
    ...(o.spec !== undefined ? { spec: o.spec } : {}),
  };
}
