/**
 * A small Kubernetes API client on `fetch` (see docs/kubernetes.md for why not
 * `@kubernetes/client-node`): JSON requests with the kubeconfig's credentials, LIST and WATCH
 * (newline-delimited events, bookmarks), and errors that say what the API server said (a 403
 * names the verb, resource and group the role lacks).
 *
 * @example
 * ```ts
 * const kube = new KubeClient(await loadKubeConfig());
 * const vs = resourcePath({ group: "networking.istio.io", version: "v1", plural: "virtualservices" });
 * const { items, resourceVersion } = await kube.list(vs);
 * for await (const ev of kube.watch(vs, { resourceVersion })) console.log(ev.type);
 * ```
 * @module
 */
import { LineSplitter } from "../../util/ndjson.ts";
import type { KubeConfig } from "./config.ts";

/** A Kubernetes object as the API returns it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A LIST answer. */
export interface KubeList<T extends KubeObject = KubeObject> {
  items: T[];
  /** The collection's resourceVersion: watch from here. */
  resourceVersion: string;
}

/** The API server's Status object (errors, and a watch's ERROR event). */
export interface KubeStatus {
  kind?: "Status";
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** One watch event. */
export type WatchEvent<T extends KubeObject = KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: T }
  | { type: "ERROR"; object: KubeStatus };

/** A failed API call: the HTTP status, the server's reason and message. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** Where a resource lives: core (`group` "") or a named group, optionally a namespace and name. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  /** A subresource, e.g. `status`. */
  subresource?: string;
}

/** The API path of `r` (`/api/v1/...` for the core group, `/apis/group/version/...` else). */
export function resourcePath(r: ResourceRef): string {
  let p = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (r.namespace) p += `/namespaces/${encodeURIComponent(r.namespace)}`;
  p += `/${r.plural}`;
  if (r.name) p += `/${encodeURIComponent(r.name)}`;
  if (r.subresource) p += `/${r.subresource}`;
  return p;
}

/** What a request takes besides method and path. */
export interface RequestOptions {
  body?: unknown;
  /** Default `application/json`; patches name theirs. */
  contentType?: string;
  signal?: AbortSignal;
  /** Query parameters. */
  query?: Record<string, string | undefined>;
  /** The whole exchange's bound (default {@linkcode REQUEST_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** How long one API request (a watch: its own timeout and a margin) may take. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@linkcode KubeClient.watch}. */
export interface WatchOptions {
  resourceVersion: string;
  signal?: AbortSignal;
  /** Asks the server to end the watch after this long (it does, with some jitter). */
  timeoutSeconds?: number;
  labelSelector?: string;
}

const TOKEN_REREAD_MS = 60_000;
/** A watch event longer than this is refused (an object can be at most ~1.5 MB in etcd). */
const MAX_EVENT_CHARS = 8 << 20;

/** One API server, its credentials and an HTTP client for it. */
export class KubeClient {
  readonly config: KubeConfig;
  readonly #http: Deno.HttpClient | undefined;
  #token: string | undefined;
  #tokenReadAt = 0;

  constructor(config: KubeConfig) {
    if (config.insecure && !config.caPem) {
      throw new Error(
        `${config.source}: insecure-skip-tls-verify is not supported; give the cluster's ` +
          "certificate-authority(-data) instead",
      );
    }
    this.config = config;
    this.#token = config.token;
    const o: Deno.CreateHttpClientOptions = {};
    if (config.caPem) o.caCerts = [config.caPem];
    if (config.clientCert && config.clientKey) {
      Object.assign(o, { cert: config.clientCert, key: config.clientKey });
    }
    this.#http = Object.keys(o).length ? Deno.createHttpClient(o) : undefined;
  }

  async #authorization(): Promise<string | undefined> {
    const file = this.config.tokenFile;
    if (file && (!this.#token || Date.now() - this.#tokenReadAt > TOKEN_REREAD_MS)) {
      try {
        this.#token = (await Deno.readTextFile(file)).trim();
        this.#tokenReadAt = Date.now();
      } catch (err) {
        if (!this.#token) {
          throw new Error(`${this.config.source}: token file ${file}: ${(err as Error).message}`);
        }
      }
    }
    return this.#token ? `Bearer ${this.#token}` : undefined;
  }

  async #fetch(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.config.server + path);
    for (const [k, v] of Object.entries(o.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, v);
    }
    const headers: Record<string, string> = { accept: "application/json" };
    const auth = await this.#authorization();
    if (auth) headers.authorization = auth;
    let body: string | undefined;
    if (o.body !== undefined) {
      headers["content-type"] = o.contentType ?? "application/json";
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    }
    // Bounded: a request the server never answers (a half-open connection) fails in time.
    const bound = AbortSignal.timeout(o.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const signal = o.signal ? AbortSignal.any([o.signal, bound]) : bound;
    try {
      return await fetch(url, {
        method,
        headers,
        body,
        signal,
        ...(this.#http ? { client: this.#http } : {}),
      });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      if (bound.aborted) {
        throw new KubeApiError(
          0,
          `${method} ${path}: no answer from ${this.config.server} in time`,
        );
      }
      throw new KubeApiError(
        0,
        `${method} ${path}: can't reach the API server at ${this.config.server} ` +
          `(${(err as Error).message}); check ${this.config.source}`,
      );
    }
  }

  /** A JSON request; resolves with the decoded answer, rejects with {@linkcode KubeApiError}. */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.#fetch(method, path, o);
    const text = await res.text();
    if (!res.ok) throw apiError(method, path, res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** LISTs a collection (all pages). */
  async list<T extends KubeObject = KubeObject>(
    path: string,
    o: { labelSelector?: string; signal?: AbortSignal } = {},
  ): Promise<KubeList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.request<
        { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }
      >(
        "GET",
        path,
        {
          signal: o.signal,
          query: { limit: "500", continue: cont, labelSelector: o.labelSelector },
        },
      );
      items.push(...(page.items ?? []));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /**
   * WATCHes a collection from `resourceVersion`, with bookmarks. Yields events until the server
   * ends the watch (its timeout, a restart) or `signal` aborts; rejects with
   * {@linkcode KubeApiError} when the watch can't start (410 Gone: the version is too old).
   */
  async *watch<T extends KubeObject = KubeObject>(
    path: string,
    o: WatchOptions,
  ): AsyncGenerator<WatchEvent<T>> {
    const res = await this.#fetch("GET", path, {
      signal: o.signal,
      // The server ends the watch at `timeoutSeconds`; past that and a margin, it's stuck.
      timeoutMs: ((o.timeoutSeconds ?? 1800) + 30) * 1000,
      query: {
        watch: "1",
        resourceVersion: o.resourceVersion,
        allowWatchBookmarks: "true",
        timeoutSeconds: o.timeoutSeconds !== undefined ? String(o.timeoutSeconds) : undefined,
        labelSelector: o.labelSelector,
      },
    });
    if (!res.ok) throw apiError("WATCH", path, res.status, await res.text());
    if (!res.body) return;
    const lines = new LineSplitter(MAX_EVENT_CHARS);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const events: WatchEvent<T>[] = [];
        const ok = lines.feed(value, (line) => events.push(JSON.parse(line) as WatchEvent<T>));
        yield* events;
        if (!ok) {
          throw new KubeApiError(0, `WATCH ${path}: an event over ${MAX_EVENT_CHARS} characters`);
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /** Closes the HTTP client (open watches end). */
  close(): void {
    this.#http?.close();
  }
}

/** The error for a non-2xx answer, with the API server's own message. */
function apiError(method: string, path: string, status: number, text: string): KubeApiError {
  let s: KubeStatus | undefined;
  try {
    s = JSON.parse(text) as KubeStatus;
  } catch { /* not a Status */ }
  const said = s?.message ?? (text.trim().slice(0, 300) || "no message");
  let hint = "";
  if (status === 401) hint = "; the credentials were refused: check the token or certificate";
  if (status === 403) {
    hint = "; grant it in the role mesh runs with (`mesh install rbac` prints the ClusterRole)";
  }
  if (status === 404 && path.startsWith("/apis/gateway.networking.k8s.io/")) {
    hint = "; if the kind itself is unknown, install the Gateway API's CRDs";
  } else if (status === 404 && path.startsWith("/apis/")) {
    hint =
      "; if the kind itself is unknown, install its CRD (`mesh install crds | kubectl apply -f -`)";
  }
  // The server's text often starts with the status itself ("404 page not found").
  const what = said.startsWith(String(status)) ? said : `${status} ${said}`;
  return new KubeApiError(status, `${method} ${path}: ${what}${hint}`, s?.reason);
}
