/**
 * The file-backed config source: every `*.yaml`, `*.yml` and `*.json` under a
 * directory, watched for changes. A file that fails validation keeps its last
 * good version serving; its errors are logged with file, line and reason.
 *
 * This is the read side of {@linkcode FileStore} (control/store/file.ts) under
 * its original name; the control plane uses the store directly.
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
import { DEBOUNCE_MS, FileStore } from "./store/file.ts";
import type { StoreSnapshot } from "./store/types.ts";
import type { Watched } from "../util/watch.ts";

export { DEBOUNCE_MS };

/**
 * What the directory holds now: `revision` rises by one each time the set of good resources
 * changes; `diagnostics` are the current errors and warnings, per file.
 */
export type ConfigState = StoreSnapshot;

/** A directory of Istio YAML, watched. */
export class ConfigDir {
  /** The store doing the work; use it to write or to follow changes with `watch()`. */
  readonly store: FileStore;

  constructor(dir: string) {
    this.store = new FileStore(dir);
  }

  /** The directory, without a trailing slash. */
  get dir(): string {
    return this.store.dir;
  }

  /** The latest state, watched. */
  get state(): Watched<ConfigState> {
    return this.store.state;
  }

  /** Re-reads the directory; serialised so overlapping reloads never interleave. */
  reload(): Promise<void> {
    return this.store.reload();
  }

  /** Watches the directory and reloads (debounced) on changes; returns a stop function. */
  watch(): () => void {
    return this.store.watchFiles();
  }
}
