/**
 * The control plane's config sources (`--config-source`): `file` (a watched directory,
 * `--config-dir`), `kube` (the Kubernetes API, from `--kubeconfig`, `$KUBECONFIG` or the pod's
 * service account), or several, merged in the order given (`file,kube`).
 *
 * @example
 * ```ts
 * const store = await openConfigSources({ sources: ["kube"], kubeconfig: "/root/.kube/config" });
 * ```
 * @module
 */
import { FileStore } from "./file.ts";
import { MergedStore } from "./merged.ts";
import type { ConfigStore } from "./types.ts";

/** The sources mesh reads config from. */
export const CONFIG_SOURCES = ["file", "kube"] as const;
/** One of {@linkcode CONFIG_SOURCES}. */
export type ConfigSource = typeof CONFIG_SOURCES[number];

/** What {@linkcode openConfigSources} takes. */
export interface SourceOptions {
  sources: readonly string[];
  /** `--config-dir` (the `file` source). */
  configDir?: string;
  /** `--kubeconfig` and `--context` (the `kube` source). */
  kubeconfig?: string;
  context?: string;
}

/** Checks `--config-source`; throws an error naming the fix. */
export function checkSources(o: SourceOptions): ConfigSource[] {
  if (o.sources.length === 0) throw new Error("--config-source: give file, kube or file,kube");
  const out: ConfigSource[] = [];
  for (const s of o.sources) {
    if (!(CONFIG_SOURCES as readonly string[]).includes(s)) {
      throw new Error(
        `--config-source ${JSON.stringify(s)}: must be file or kube (or both: file,kube)`,
      );
    }
    if (out.includes(s as ConfigSource)) throw new Error(`--config-source lists ${s} twice`);
    out.push(s as ConfigSource);
  }
  if (out.includes("file") && !o.configDir) {
    throw new Error(
      "--config-source file needs --config-dir DIR (or MESH_CONFIG_DIR): the directory of Istio YAML",
    );
  }
  return out;
}

/** Opens and starts the sources; one store, merged when there are several. */
export async function openConfigSources(o: SourceOptions): Promise<ConfigStore> {
  const stores: ConfigStore[] = [];
  try {
    for (const s of checkSources(o)) {
      if (s === "file") {
        try {
          const st = await Deno.stat(o.configDir!);
          if (!st.isDirectory) throw new Error(`--config-dir ${o.configDir} is not a directory`);
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) {
            throw new Error(
              `--config-dir ${o.configDir} does not exist; create it or point to your Istio YAML`,
            );
          }
          throw err;
        }
        stores.push(await new FileStore(o.configDir!).start());
      } else {
        // Loaded on demand: a file-only control plane doesn't carry the Kubernetes client.
        const { loadKubeConfig } = await import("../kube/config.ts");
        const { KubeClient } = await import("../kube/client.ts");
        const { KubeStore } = await import("./kube.ts");
        const cfg = await loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
        // Istio's mesh ConfigMap lives in the control plane's namespace: in a pod, its service
        // account's (where `mesh install rbac --namespace` grants it); else istio-system.
        const namespace = cfg.source === "in-cluster" ? cfg.namespace : "istio-system";
        stores.push(
          await KubeStore.start({
            kube: new KubeClient(cfg),
            registry: { meshConfigMap: { namespace, name: "istio" } },
          }),
        );
      }
    }
  } catch (err) {
    await Promise.all(stores.map((s) => s.close()));
    throw err;
  }
  return stores.length === 1 ? stores[0] : new MergedStore(stores);
}
