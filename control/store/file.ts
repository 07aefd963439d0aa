/**
 * A {@linkcode ConfigStore} backed by a directory of Istio YAML: every `*.yaml`, `*.yml` and
 * `*.json` under it (hidden files and folders skipped), watched for changes.
 *
 * Reading: a file that fails validation keeps its last good version serving; its errors are
 * logged with file, line and reason, listed in the snapshot's diagnostics and in
 * {@linkcode FileStore.info}. Bursts of file events are debounced. When two files define the
 * same resource, the file whose path sorts later wins (with a warning).
 *
 * Writing (`apply`, `delete`), serialised through one queue so writes never interleave:
 *
 * - A new resource goes to `<dir>/<namespace>/<kind>-<name>.yaml` (kind in lower case, e.g.
 *   `default/virtualservice-reviews.yaml`), one resource per file. If that file exists already,
 *   the resource is added to it as another document.
 * - A resource that exists is replaced in the file it is served from (the later file, if several
 *   define it). Other documents in that file keep their text, comments included; the replaced
 *   document keeps its leading comment lines. A resource inside a `kind: List` is replaced in
 *   the list (that list document is re-rendered).
 * - Delete removes the resource from every file that defines it; a file left without documents
 *   is removed.
 * - If a file that must change fails validation now, nothing is written and the call throws
 *   {@linkcode StoreConflictError}: fix or remove that file first.
 * - Each file is written atomically (temporary file, fsync, rename). Writes are validated first:
 *   an invalid resource writes nothing. Every changed file's new text is written and synced
 *   before any is renamed into place, so a full or read-only disk ({@linkcode StorageError}
 *   from `util/atomic_write.ts`) changes no file and leaves no temporary file behind.
 *
 * @example
 * ```ts
 * const store = await new FileStore("/etc/mesh/config").start();
 * await store.apply([resource]);
 * await store.close();
 * ```
 * @module
 */
import { parseResources, type Resource, skippedWarnings } from "../../api/resources.ts";
import { type Diagnostic, formatDiagnostic, hasErrors } from "../../api/diagnostic.ts";
import { parseYamlDocuments, stringifyYaml } from "../../util/yaml.ts";
import { asStorageError, prepareAtomicWrite, type PreparedWrite } from "../../util/atomic_write.ts";
import type { Watched } from "../../util/watch.ts";
import { logger } from "../../util/log.ts";
import {
  bodyOf,
  canonical,
  deepFreeze,
  keyOf,
  keyString,
  sameContent,
  SerialQueue,
  SnapshotStore,
  validateInputs,
} from "./common.ts";
import {
  type ApplyAction,
  type ApplyResult,
  type ChangeResult,
  type ConfigStore,
  type DeleteAction,
  type DeleteResult,
  type ResourceInput,
  type ResourceKey,
  StoreConflictError,
  type StoreInfo,
  type StoreSnapshot,
} from "./types.ts";
import { groupOf, groupOfKind, isMeshGroup } from "./kinds.ts";

const log = logger("config");

/** Debounce for bursts of file events: a reload starts this long after the last event. */
export const DEBOUNCE_MS = 50;
/** Under a steady stream of events, a reload starts at most this long after the first one. */
export const MAX_DEBOUNCE_MS = 500;

const CONFIG_FILE = /\.(ya?ml|json)$/i;

interface FileEntry {
  text: string;
  /** The last version that validated. */
  good?: Resource[];
  diagnostics: Diagnostic[];
}

/** Options of {@linkcode FileStore}. */
export interface FileStoreOptions {
  /** See {@linkcode DEBOUNCE_MS}. */
  debounceMs?: number;
  /** See {@linkcode MAX_DEBOUNCE_MS}. */
  maxDebounceMs?: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.name.startsWith(".")) continue;
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if ((e.isFile || e.isSymlink) && CONFIG_FILE.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The file a new resource is written to, relative to the directory. */
export function filePathFor(key: ResourceKey): string {
  return `${key.namespace}/${key.kind.toLowerCase()}-${key.name}.yaml`;
}

/** A directory of Istio YAML as a config store. */
export class FileStore extends SnapshotStore implements ConfigStore {
  readonly backend = "file";
  /** The directory, without a trailing slash. */
  readonly dir: string;
  #files = new Map<string, FileEntry>();
  #queue = new SerialQueue();
  #loaded = false;
  #stops = new Set<() => void>();
  #debounceMs: number;
  #maxDebounceMs: number;

  constructor(dir: string, options: FileStoreOptions = {}) {
    super();
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.#debounceMs = options.debounceMs ?? DEBOUNCE_MS;
    this.#maxDebounceMs = options.maxDebounceMs ?? MAX_DEBOUNCE_MS;
  }

  /** Loads the directory and starts watching it. */
  async start(): Promise<this> {
    await this.reload();
    this.watchFiles();
    return this;
  }

  /** The latest snapshot as a watched value. */
  get state(): Watched<StoreSnapshot> {
    return this.cell.watched;
  }

  info(): StoreInfo {
    const s = this.cell.current;
    const rejected = [...this.#files.entries()]
      .filter(([, f]) => hasErrors(f.diagnostics))
      .map(([p, f]) => ({
        file: this.#rel(p),
        errors: f.diagnostics.filter((d) => d.severity === "error").length,
        servingLastGood: f.good !== undefined && f.good.length > 0,
      }))
      .sort((a, b) => a.file < b.file ? -1 : 1);
    return {
      backend: this.backend,
      location: this.dir,
      revision: s.revision,
      resources: s.resources.length,
      rejected,
    };
  }

  /** Re-reads the directory; serialised with writes. Errors are logged, not thrown. */
  reload(): Promise<void> {
    return this.#queue.run(() => this.#reload()).catch((err) => {
      log.error("reading config dir failed", { dir: this.dir, error: err });
    });
  }

  /** Watches the directory and reloads (debounced) on changes; returns a stop function. */
  watchFiles(): () => void {
    const watcher = Deno.watchFs(this.dir, { recursive: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let first: number | undefined;
    const fire = () => {
      timer = undefined;
      first = undefined;
      this.reload();
    };
    (async () => {
      try {
        for await (const _ of watcher) {
          const now = Date.now();
          first ??= now;
          clearTimeout(timer);
          const wait = Math.min(this.#debounceMs, Math.max(0, first + this.#maxDebounceMs - now));
          timer = setTimeout(fire, wait);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) log.error("watch failed", { error: err });
      }
    })();
    const stop = () => {
      clearTimeout(timer);
      this.#stops.delete(stop);
      try {
        watcher.close();
      } catch {
        // already closed
      }
    };
    this.#stops.add(stop);
    return stop;
  }

  apply(inputs: readonly ResourceInput[]): Promise<ApplyResult> {
    const { resources, diagnostics } = validateInputs(inputs);
    if (hasErrors(diagnostics)) {
      return Promise.resolve({ ok: false, results: [], diagnostics, revision: this.revision });
    }
    return this.#queue.run(async () => {
      await this.#reload(); // see the directory as it is now, not as the watcher last saw it
      const plan = new Plan(this.dir, (p) => this.#files.get(p));
      const results: ChangeResult<ApplyAction>[] = [];
      for (const r of resources) {
        const key = keyOf(r);
        const current = this.cell.get(key.kind, key.namespace, key.name);
        if (current && sameContent(current, r)) {
          results.push({
            ...key,
            apiVersion: r.apiVersion,
            action: "unchanged",
            location: current.source.file,
          });
          continue;
        }
        let rel = current?.source.file;
        if (rel === undefined || !(await plan.open(rel)).replace(key, r)) {
          rel = filePathFor(key);
          (await plan.open(rel)).add(r);
        }
        results.push({
          ...key,
          apiVersion: r.apiVersion,
          action: current ? "configured" : "created",
          location: rel,
        });
      }
      await this.#commit(plan);
      return { ok: true, results, diagnostics, revision: this.revision };
    });
  }

  delete(keys: readonly ResourceKey[]): Promise<DeleteResult> {
    return this.#queue.run(async () => {
      await this.#reload();
      const plan = new Plan(this.dir, (p) => this.#files.get(p));
      const results: ChangeResult<DeleteAction>[] = [];
      for (const key of keys) {
        const k = keyString(key);
        const current = this.cell.get(key.kind, key.namespace, key.name);
        const holders = [...this.#files.entries()]
          .filter(([, f]) => f.good?.some((r) => keyString(keyOf(r)) === k))
          .map(([p]) => this.#rel(p));
        let removed = false;
        for (const rel of holders) removed = (await plan.open(rel)).remove(key) || removed;
        const { kind, namespace, name } = key;
        results.push({
          kind,
          namespace,
          name,
          apiVersion: current?.apiVersion ?? "",
          action: current && removed ? "deleted" : "notfound",
          location: current?.source.file,
        });
      }
      await this.#commit(plan);
      return { results, revision: this.revision };
    });
  }

  /** Stops watching and waits for pending reloads and writes. */
  async close(): Promise<void> {
    for (const stop of [...this.#stops]) stop();
    await this.#queue.idle();
    this.cell.close();
  }

  async #commit(plan: Plan): Promise<void> {
    try {
      await plan.commit();
    } finally {
      // Whatever reached the disk is what serves.
      await this.#reload();
    }
  }

  async #reload(): Promise<void> {
    const paths = await listFiles(this.dir);
    let changed = false;
    const seen = new Set(paths);
    for (const p of [...this.#files.keys()]) {
      if (!seen.has(p)) {
        this.#files.delete(p);
        changed = true;
        log.info("config file removed", { file: this.#rel(p) });
      }
    }
    for (const p of paths) {
      let text: string;
      try {
        text = await Deno.readTextFile(p);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // removed during the scan
        log.error("can't read config file; keeping its last good version", {
          file: this.#rel(p),
          error: err,
        });
        continue;
      }
      const prev = this.#files.get(p);
      if (prev && prev.text === text) continue;
      const parsed = parseResources(text, this.#rel(p));
      const { resources } = parsed;
      const diagnostics = [...parsed.diagnostics, ...skippedWarnings(parsed)];
      for (const d of diagnostics) {
        (d.severity === "error" ? log.error : log.warn)(formatDiagnostic(d));
      }
      if (hasErrors(diagnostics)) {
        log.error(
          prev?.good
            ? "config file rejected; its last good version keeps serving"
            : "config file rejected; nothing from it is served",
          { file: this.#rel(p), errors: diagnostics.filter((d) => d.severity === "error").length },
        );
        this.#files.set(p, { text, good: prev?.good, diagnostics });
        continue;
      }
      this.#files.set(p, { text, good: resources.map((r) => deepFreeze(r)), diagnostics });
      changed = true;
    }
    const ordered = [...this.#files.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    const diagnostics = ordered.flatMap(([, f]) => f.diagnostics);
    if (!changed && this.#loaded) {
      this.cell.publish(undefined, diagnostics);
      return;
    }
    // Later files win for the same kind/namespace/name, with a warning.
    const byKey = new Map<string, Resource>();
    for (const [, f] of ordered) {
      for (const r of f.good ?? []) {
        const key = keyString(keyOf(r));
        const dup = byKey.get(key);
        if (dup) {
          log.warn("duplicate resource; the later file wins", {
            resource: key,
            first: dup.source.file,
            second: r.source.file,
          });
        }
        byKey.set(key, r);
      }
    }
    const prevResources = this.cell.current.resources;
    const next = [...byKey.values()];
    // A change of files that leaves the same resources (e.g. a comment edit) keeps the revision.
    if (this.#loaded && sameSet(prevResources, next)) {
      this.cell.publish(undefined, diagnostics);
      return;
    }
    this.#loaded = true;
    const s = this.cell.publish(next, diagnostics);
    log.info("config loaded", { dir: this.dir, revision: s.revision, resources: byKey.size });
  }

  #rel(p: string): string {
    return p.startsWith(this.dir + "/") ? p.slice(this.dir.length + 1) : p;
  }
}

function sameSet(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  const byKey = new Map(a.map((r) => [keyString(keyOf(r)), r]));
  return b.every((r) => {
    const old = byKey.get(keyString(keyOf(r)));
    return old !== undefined && (old === r || (old.source.file === r.source.file &&
      old.source.line === r.source.line && sameContent(old, r)));
  });
}

// ---------------------------------------------------------------------------------------------
// Editing files

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether a decoded document is the resource `key` (namespace defaulting to `default`). */
function isResource(v: unknown, key: ResourceKey): boolean {
  if (!isRecord(v) || v.kind !== key.kind || groupOf(v.apiVersion) !== groupOfKind(key.kind)) {
    return false;
  }
  const meta = isRecord(v.metadata) ? v.metadata : {};
  return meta.name === key.name && (meta.namespace ?? "default") === key.namespace;
}

function isList(v: unknown): v is { items: unknown[] } {
  return isRecord(v) && Array.isArray(v.items) && typeof v.kind === "string" &&
    (v.kind === "List" || (isMeshGroup(groupOf(v.apiVersion)) && v.kind.endsWith("List")));
}

/** One YAML document of a file: the separator line before it, its text, its decoded value. */
interface Chunk {
  sep: string;
  body: string;
  value: unknown;
}

/** Renders a value as a document for a file (JSON for `.json` files). */
function render(value: unknown, json: boolean): string {
  return json ? JSON.stringify(value, null, 2) + "\n" : stringifyYaml(value);
}

/**
 * Splits a file into documents, keeping each document's text. If the text can't be split
 * safely on `---` lines (directives, `...` markers, content on a `---` line), the documents are
 * re-rendered from their values instead (comments are lost then).
 */
function splitDocuments(text: string, json: boolean): Chunk[] | undefined {
  const docs = parseYamlDocuments(text);
  if (docs.some((d) => d.error)) return undefined;
  const rerendered = () =>
    docs.map((d, i) => ({ sep: i ? "---\n" : "", body: render(d.value, json), value: d.value }));
  const chunks: Chunk[] = [];
  let sep = "";
  let body = "";
  for (const line of text.split(/(?<=\n)/)) {
    if (/^---[ \t]*(#.*)?\r?\n?$/.test(line)) {
      chunks.push({ sep, body, value: undefined });
      sep = line.endsWith("\n") ? line : line + "\n";
      body = "";
    } else if (/^(---|\.\.\.)(\s|$)|^%/.test(line)) {
      return rerendered();
    } else {
      body += line;
    }
  }
  chunks.push({ sep, body, value: undefined });
  for (const c of chunks) {
    const d = parseYamlDocuments(c.body);
    if (d.length > 1 || d.some((x) => x.error)) return rerendered();
    c.value = d[0]?.value;
  }
  const values = chunks.filter((c) => c.value !== undefined).map((c) => c.value);
  if (
    values.length !== docs.length ||
    values.some((v, i) => canonical(v) !== canonical(docs[i].value))
  ) {
    return rerendered();
  }
  return chunks;
}

/** Comment and blank lines at the start of a document's text. */
function leadingComments(body: string): string {
  return /^(?:[ \t]*(?:#[^\n]*)?\n)*/.exec(body)?.[0] ?? "";
}

/** The pending edit of one file. */
class FileEdit {
  readonly rel: string;
  readonly json: boolean;
  chunks: Chunk[];
  changed = false;
  mode?: number;
  /** Where to write: the file, or the target of a symbolic link (the link stays). */
  target?: string;

  constructor(rel: string, chunks: Chunk[], mode?: number) {
    this.rel = rel;
    this.json = /\.json$/i.test(rel);
    this.chunks = chunks;
    this.mode = mode;
  }

  /** Replaces the document (or List item) that is `key`; false when the file has none. */
  replace(key: ResourceKey, r: Resource): boolean {
    const body = bodyOf(r);
    for (const c of this.chunks) {
      if (isResource(c.value, key)) {
        c.value = body;
        c.body = leadingComments(c.body) + render(body, this.json);
        this.changed = true;
        return true;
      }
      if (isList(c.value)) {
        const i = c.value.items.findIndex((item) => isResource(item, key));
        if (i >= 0) {
          const items = [...c.value.items];
          items[i] = body;
          c.value = { ...c.value, items };
          c.body = leadingComments(c.body) + render(c.value, this.json);
          this.changed = true;
          return true;
        }
      }
    }
    return false;
  }

  /** Adds `r` as a new document. */
  add(r: Resource): void {
    const body = bodyOf(r);
    const hasContent = this.chunks.some((c) => c.body.trim() !== "");
    this.chunks.push({
      sep: hasContent ? "---\n" : "",
      body: render(body, this.json),
      value: body,
    });
    this.changed = true;
  }

  /** Removes every document (or List item) that is `key`; false when there was none. */
  remove(key: ResourceKey): boolean {
    let found = false;
    const kept: Chunk[] = [];
    for (const c of this.chunks) {
      if (isResource(c.value, key)) {
        found = true;
        continue;
      }
      if (isList(c.value) && c.value.items.some((item) => isResource(item, key))) {
        found = true;
        c.value = { ...c.value, items: c.value.items.filter((item) => !isResource(item, key)) };
        c.body = leadingComments(c.body) + render(c.value, this.json);
      }
      kept.push(c);
    }
    if (found) {
      if (kept.length > 0 && kept[0].body.trim() === "" && kept.length > 1) {
        // Keep a file from starting with an empty document.
        kept.splice(0, 1);
      }
      if (kept.length > 0) kept[0] = { ...kept[0], sep: "" };
      this.chunks = kept;
      this.changed = true;
    }
    return found;
  }

  /** The new text, or undefined when nothing is left and the file should go. */
  text(): string | undefined {
    const left = this.chunks.some((c) =>
      c.value !== undefined && !(isList(c.value) && c.value.items.length === 0)
    );
    if (!left) return undefined;
    let out = "";
    for (const c of this.chunks) {
      if (out && !out.endsWith("\n")) out += "\n";
      out += c.sep + c.body;
    }
    return out;
  }
}

/** File edits gathered before anything is written. */
class Plan {
  #dir: string;
  #entry: (path: string) => FileEntry | undefined;
  #edits = new Map<string, FileEdit>();

  constructor(dir: string, entry: (path: string) => FileEntry | undefined) {
    this.#dir = dir;
    this.#entry = entry;
  }

  /** The edit of `rel`, reading the file on first use; throws if it fails validation now. */
  async open(rel: string): Promise<FileEdit> {
    const have = this.#edits.get(rel);
    if (have) return have;
    const path = `${this.#dir}/${rel}`;
    let text = "";
    let mode: number | undefined;
    let target: string | undefined;
    try {
      text = await Deno.readTextFile(path);
      mode = (await Deno.stat(path)).mode ?? undefined;
      if ((await Deno.lstat(path)).isSymlink) target = await Deno.realPath(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const entry = this.#entry(path);
    const bad = entry && entry.text === text
      ? entry.diagnostics
      : parseResources(text, rel).diagnostics;
    const errors = bad.filter((d) => d.severity === "error");
    const chunks = errors.length === 0 ? splitDocuments(text, /\.json$/i.test(rel)) : undefined;
    if (!chunks) {
      throw new StoreConflictError(
        `${rel} fails validation now, so mesh won't rewrite it (${
          errors.length ? formatDiagnostic(errors[0]) : "it can't be parsed"
        }); fix or remove that file first`,
      );
    }
    const edit = new FileEdit(rel, chunks, mode === undefined ? undefined : mode & 0o777);
    edit.target = target;
    this.#edits.set(rel, edit);
    return edit;
  }

  /**
   * Writes every changed file atomically, in path order, all or nothing as far as the disk
   * goes: every new file is written and synced beside its target first; only when all of them
   * are does any rename (or removal) happen. A full or read-only disk throws
   * {@linkcode StorageError} and leaves every file as it was, with no temporary file behind.
   */
  async commit(): Promise<void> {
    const edits = [...this.#edits.values()].filter((e) => e.changed)
      .sort((a, b) => a.rel < b.rel ? -1 : 1);
    const prepared: PreparedWrite[] = [];
    const madeDirs: string[] = [];
    const steps: (() => Promise<void>)[] = [];
    try {
      for (const e of edits) {
        const path = `${this.#dir}/${e.rel}`;
        const text = e.text();
        if (text === undefined) {
          steps.push(async () => {
            await Deno.remove(path).catch((err) => {
              if (!(err instanceof Deno.errors.NotFound)) throw asStorageError(err, path);
            });
            log.info("config file removed by delete", { file: e.rel });
          });
          continue;
        }
        const to = e.target ?? path;
        madeDirs.push(...await makeDirs(to.slice(0, to.lastIndexOf("/"))));
        const w = await prepareAtomicWrite(to, text, e.mode === undefined ? {} : { mode: e.mode });
        prepared.push(w);
        steps.push(async () => {
          await w.commit();
          log.info("config file written", { file: e.rel });
        });
      }
    } catch (err) {
      await Promise.all(prepared.map((w) => w.abort()));
      for (const d of madeDirs.reverse()) await Deno.remove(d).catch(() => {});
      throw asStorageError(err, this.#dir);
    }
    for (const step of steps) await step();
  }
}

/** Creates `dir` and missing parents; returns the ones it created, outermost first. */
async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; d && d !== "/" && d !== "."; d = d.slice(0, Math.max(d.lastIndexOf("/"), 0))) {
    try {
      await Deno.stat(d);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) break;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      await Deno.mkdir(d);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw asStorageError(err, `${d}/`);
    }
  }
  return missing;
}
