/**
 * Where the Kubernetes API server is and how to authenticate to it, found as client-go finds
 * it: a kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`; its current
 * context, or the one named), or, inside a pod, the service account's token and CA at their
 * standard paths with `KUBERNETES_SERVICE_HOST`/`_PORT`.
 *
 * A kubeconfig's user may carry a bearer token (`token`, `tokenFile`) or a client certificate
 * (`client-certificate(-data)`, `client-key(-data)`); the cluster a CA (`certificate-authority`
 * or `-data`) or `insecure-skip-tls-verify`. Paths in a kubeconfig are relative to its file.
 * `exec` and `auth-provider` plugins are not run: such a user is refused with a message saying
 * so. Every error names the file and the field, and the fix.
 *
 * @example
 * ```ts
 * const cfg = await loadKubeConfig({ kubeconfig: "/root/.kube/config" });
 * cfg.server; // "https://127.0.0.1:6443"
 * ```
 * @module
 */
import { parseYaml } from "../../util/yaml.ts";

/** Where the service account's credentials are mounted in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A resolved connection to one API server. */
export interface KubeConfig {
  /** `https://host:port`, no trailing slash. */
  server: string;
  /** A bearer token, read once. */
  token?: string;
  /** A token file, re-read when it changes (projected service-account tokens rotate). */
  tokenFile?: string;
  /** PEM of the CAs that sign the server's certificate (else the system's). */
  caPem?: string;
  /** PEM of a client certificate and its key. */
  clientCert?: string;
  clientKey?: string;
  /** Don't verify the server's certificate (kubeconfig `insecure-skip-tls-verify`). */
  insecure?: boolean;
  /** The namespace of the context (or the pod's); `default` when unset. */
  namespace: string;
  /** Where it came from, for messages: `kubeconfig /path (context x)` or `in-cluster`. */
  source: string;
}

/** A kubeconfig or in-cluster setup that can't be used; the message names the fix. */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

/** What {@linkcode loadKubeConfig} reads. */
export interface LoadOptions {
  /** `--kubeconfig`. */
  kubeconfig?: string;
  /** `--context`: a context other than the current one. */
  context?: string;
  /** The environment (tests pass their own). */
  env?: (name: string) => string | undefined;
  /** Reads a file (tests pass their own). */
  readFile?: (path: string) => Promise<string>;
}

const readText = (path: string) => Deno.readTextFile(path);

/**
 * The API server from a kubeconfig (`o.kubeconfig`, `$KUBECONFIG`'s first existing file, or
 * `~/.kube/config`), else in-cluster. Throws {@linkcode KubeConfigError}.
 */
export async function loadKubeConfig(o: LoadOptions = {}): Promise<KubeConfig> {
  const env = o.env ?? ((n: string) => Deno.env.get(n));
  const read = o.readFile ?? readText;
  if (o.kubeconfig) return await fromKubeconfigFile(o.kubeconfig, o.context, read);
  const list = env("KUBECONFIG");
  if (list) {
    for (const path of list.split(":").filter(Boolean)) {
      if (await exists(path, read)) return await fromKubeconfigFile(path, o.context, read);
    }
    throw new KubeConfigError(
      `KUBECONFIG=${list}: none of its files exists; point it at a kubeconfig file or unset it`,
    );
  }
  if (env("KUBERNETES_SERVICE_HOST")) return await inCluster(env, read);
  const home = env("HOME");
  const path = home ? `${home}/.kube/config` : undefined;
  if (path && await exists(path, read)) return await fromKubeconfigFile(path, o.context, read);
  throw new KubeConfigError(
    "no Kubernetes API server configured: pass --kubeconfig FILE, set KUBECONFIG, or run in a " +
      "pod (KUBERNETES_SERVICE_HOST and the service account at " + SERVICE_ACCOUNT_DIR + ")",
  );
}

async function exists(path: string, read: (p: string) => Promise<string>): Promise<boolean> {
  try {
    await read(path);
    return true;
  } catch {
    return false;
  }
}

/** In a pod: the service account's token, CA and namespace, the service's host and port. */
async function inCluster(
  env: (name: string) => string | undefined,
  read: (p: string) => Promise<string>,
): Promise<KubeConfig> {
  const host = env("KUBERNETES_SERVICE_HOST")!;
  const port = env("KUBERNETES_SERVICE_PORT") ?? "443";
  const tokenFile = `${SERVICE_ACCOUNT_DIR}/token`;
  let caPem: string;
  let token: string;
  try {
    token = (await read(tokenFile)).trim();
    caPem = await read(`${SERVICE_ACCOUNT_DIR}/ca.crt`);
  } catch (err) {
    throw new KubeConfigError(
      `in-cluster: can't read the service account at ${SERVICE_ACCOUNT_DIR} ` +
        `(${(err as Error).message}); mount a service account token (automountServiceAccountToken)`,
    );
  }
  let namespace = "default";
  try {
    namespace = (await read(`${SERVICE_ACCOUNT_DIR}/namespace`)).trim() || "default";
  } catch { /* optional */ }
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    server: `https://${h}:${port}`,
    token,
    tokenFile,
    caPem,
    namespace,
    source: "in-cluster",
  };
}

type Named<T> = { name?: unknown } & Record<string, T | unknown>;

function record(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The entry called `name` of a kubeconfig list (`clusters`, `users`, `contexts`). */
function entry(list: unknown, name: string, what: string, where: string) {
  const items = Array.isArray(list) ? list as Named<unknown>[] : [];
  const hit = items.find((i) => record(i)?.name === name);
  const body = record(hit?.[what]);
  if (!body) {
    const known = items.map((i) => record(i)?.name).filter((n) => typeof n === "string");
    throw new KubeConfigError(
      `${where}: no ${what} named "${name}" (have: ${known.join(", ") || "none"}); ` +
        `fix the context or add the ${what}`,
    );
  }
  return body;
}

/** A kubeconfig file's current (or named) context, resolved. Exported for tests. */
export async function fromKubeconfigFile(
  path: string,
  context: string | undefined,
  read: (p: string) => Promise<string> = readText,
): Promise<KubeConfig> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${path}: can't read it (${(err as Error).message})`);
  }
  let doc: Record<string, unknown> | undefined;
  try {
    doc = record(parseYaml(text));
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${path}: not valid YAML (${(err as Error).message})`);
  }
  if (!doc) {
    throw new KubeConfigError(`kubeconfig ${path}: not a kubeconfig (no mapping at the top)`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const abs = (p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
  const ctxName = context ?? str(doc["current-context"]);
  if (!ctxName) {
    throw new KubeConfigError(
      `kubeconfig ${path}: no current-context; set one (kubectl config use-context NAME) or pass --context`,
    );
  }
  const where = `kubeconfig ${path} (context ${ctxName})`;
  const ctx = entry(doc.contexts, ctxName, "context", `kubeconfig ${path}`);
  const clusterName = str(ctx.cluster);
  const userName = str(ctx.user);
  if (!clusterName) throw new KubeConfigError(`${where}: the context names no cluster`);
  const cluster = entry(doc.clusters, clusterName, "cluster", where);
  const server = str(cluster.server)?.replace(/\/+$/, "");
  if (!server || !/^https?:\/\//.test(server)) {
    throw new KubeConfigError(`${where}: cluster "${clusterName}" has no https:// server`);
  }
  const pem = async (data: unknown, file: unknown, field: string) => {
    const d = str(data);
    if (d) {
      try {
        return new TextDecoder().decode(Uint8Array.from(atob(d), (c) => c.charCodeAt(0)));
      } catch {
        throw new KubeConfigError(`${where}: ${field}-data is not base64`);
      }
    }
    const f = str(file);
    if (!f) return undefined;
    try {
      return await read(abs(f));
    } catch (err) {
      throw new KubeConfigError(`${where}: ${field} ${abs(f)}: ${(err as Error).message}`);
    }
  };
  const out: KubeConfig = {
    server,
    namespace: str(ctx.namespace) ?? "default",
    source: where,
  };
  const ca = await pem(
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
    "certificate-authority",
  );
  if (ca) out.caPem = ca;
  if (cluster["insecure-skip-tls-verify"] === true) out.insecure = true;
  if (userName) {
    const user = entry(doc.users, userName, "user", where);
    if (user.exec || user["auth-provider"]) {
      throw new KubeConfigError(
        `${where}: user "${userName}" authenticates with an ${
          user.exec ? "exec" : "auth-provider"
        } ` +
          "plugin, which mesh doesn't run; give it a token, tokenFile or client certificate " +
          "(e.g. a service account token: kubectl create token NAME)",
      );
    }
    const token = str(user.token);
    if (token) out.token = token;
    const tokenFile = str(user.tokenFile);
    if (tokenFile) out.tokenFile = abs(tokenFile);
    const cert = await pem(
      user["client-certificate-data"],
      user["client-certificate"],
      "client-certificate",
    );
    const key = await pem(user["client-key-data"], user["client-key"], "client-key");
    if ((cert === undefined) !== (key === undefined)) {
      throw new KubeConfigError(
        `${where}: user "${userName}" has a client certificate without its key (or the reverse)`,
      );
    }
    if (cert && key) {
      out.clientCert = cert;
      out.clientKey = key;
    }
  }
  return out;
}
