/**
 * The file-backed config source: every `*.yaml`, `*.yml` and `*.json` under a
 * directory, watched for changes. A file that fails validation keeps its last
 * good version serving; its errors are logged with file, line and reason.
 *
 * @example
 * ```ts
 * const src = new ConfigDir("/etc/mesh/config");
 * await src.reload();
 * src.state.subscribe((s) => console.log("revision", s.revision));
 * const stop = src.watch();
 * ```
 * @module
 */
import { parseResources, type Resource } from "../api/resources.ts";
import { type Diagnostic, formatDiagnostic } from "../api/diagnostic.ts";
import { Watched } from "../util/watch.ts";
import { logger } from "../util/log.ts";

const log = logger("config");

/** What the directory holds now. */
export interface ConfigState {
  /** Rises by one each time the set of good resources changes. */
  revision: number;
  resources: Resource[];
  /** Current errors and warnings, per file. */
  diagnostics: Diagnostic[];
}

interface FileEntry {
  text: string;
  good?: Resource[];
  diagnostics: Diagnostic[];
}

const CONFIG_FILE = /\.(ya?ml|json)$/i;
/** Debounce for bursts of file events. */
export const DEBOUNCE_MS = 50;

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

/** A directory of Istio YAML, watched. */
export class ConfigDir {
  readonly dir: string;
  readonly state = new Watched<ConfigState>({ revision: 0, resources: [], diagnostics: [] });
  #files = new Map<string, FileEntry>();
  #reloading: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir.replace(/\/+$/, "") || "/";
  }

  /** Re-reads the directory; serialised so overlapping reloads never interleave. */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reload()).catch((err) => {
      log.error("reading config dir failed", { dir: this.dir, error: err });
    });
    return this.#reloading;
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
      const { resources, diagnostics } = parseResources(text, this.#rel(p));
      const errors = diagnostics.filter((d) => d.severity === "error");
      for (const d of diagnostics) {
        (d.severity === "error" ? log.error : log.warn)(formatDiagnostic(d));
      }
      if (errors.length > 0) {
        log.error(
          prev?.good
            ? "config file rejected; its last good version keeps serving"
            : "config file rejected; nothing from it is served",
          { file: this.#rel(p), errors: errors.length },
        );
        this.#files.set(p, { text, good: prev?.good, diagnostics });
        continue;
      }
      this.#files.set(p, { text, good: resources, diagnostics });
      changed = true;
    }
    const diagnostics = [...this.#files.values()].flatMap((f) => f.diagnostics);
    if (!changed && this.state.get().revision > 0) {
      this.state.set({ ...this.state.get(), diagnostics });
      return;
    }
    // Later files win for the same kind/namespace/name, with a warning.
    const byKey = new Map<string, Resource>();
    const ordered = [...this.#files.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    for (const [, f] of ordered) {
      for (const r of f.good ?? []) {
        const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
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
    const revision = this.state.get().revision + 1;
    this.state.set({ revision, resources: [...byKey.values()], diagnostics });
    log.info("config loaded", { dir: this.dir, revision, resources: byKey.size });
  }

  #rel(p: string): string {
    return p.startsWith(this.dir + "/") ? p.slice(this.dir.length + 1) : p;
  }

  /** Watches the directory and reloads (debounced) on changes; returns a stop function. */
  watch(): () => void {
    const watcher = Deno.watchFs(this.dir, { recursive: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      try {
        for await (const _ of watcher) {
          clearTimeout(timer);
          timer = setTimeout(() => this.reload(), DEBOUNCE_MS);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) log.error("watch failed", { error: err });
      }
    })();
    return () => {
      clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // already closed
      }
    };
  }
}
