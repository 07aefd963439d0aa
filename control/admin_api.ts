/**
 * The admin API: write and read configuration through the control plane, with validation before
 * anything is written (as Istio's validating webhook does). Served on the control plane's
 * plain-HTTP admin port on 127.0.0.1.
 *
 * Every route needs `Authorization: Bearer <admin token>` (from `mesh token create --admin`);
 * bootstrap tokens are refused.
 *
 * - `POST /apis/v1/apply[?namespace=NS]`: body YAML or JSON, one or more documents (`kind: List`
 *   too). 200 `{revision, results: [{kind, apiVersion, namespace, name, action, location}],
 *   warnings}` with action `created`, `configured` or `unchanged`; 400 `{error, diagnostics}` and
 *   nothing written when any resource is invalid; 409 `{error}` when a resource lives in a file
 *   that fails validation now; 507 (a full disk) or 503 (a read-only one) `{error}` naming the
 *   config dir and the fix when the files can't be written (nothing changed: every file is as
 *   it was).
 * - `POST /apis/v1/delete[?namespace=NS]`: body the same documents (only kind, namespace and
 *   name are read), or JSON `{"keys": [{"kind", "namespace", "name"}]}`. 200 `{revision,
 *   results}` with action `deleted` or `notfound`.
 * - `GET /apis/v1/resources?kind=&namespace=&name=`: 200 `{revision, items}`; kind accepts
 *   plural and short names (`vs`); 404 when `name` is given and there is no such resource.
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.route("/", adminApi({ store, tokens }));
 * ```
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Diagnostic, formatDiagnostic, hasErrors } from "../api/diagnostic.ts";
import { KINDS, parseResources } from "../api/resources.ts";
import { TokenError, type TokenIssuer } from "../ca/token.ts";
import { parseYamlDocuments } from "../util/yaml.ts";
import { logger } from "../util/log.ts";
import { bodyOf } from "./store/common.ts";
import {
  groupOf,
  groupOfKind,
  isMeshGroup,
  kindsHelp,
  resolveKind,
  typeName,
} from "./store/kinds.ts";
import { type ConfigStore, type ResourceKey, StoreConflictError } from "./store/types.ts";
import { StorageError, storageProblem } from "../util/atomic_write.ts";

const audit = logger("admin-audit");

/** Largest request body the admin API reads: 8 MiB. */
export const MAX_ADMIN_BODY_BYTES = 8 * 1024 * 1024;

/** What the admin API needs. */
export interface AdminApiOptions {
  store: ConfigStore;
  tokens: TokenIssuer;
  /** Default {@linkcode MAX_ADMIN_BODY_BYTES}. */
  maxBodyBytes?: number;
}

type Env = { Variables: { admin: string } };

const NO_CREDENTIAL = "no credential: send Authorization: Bearer <admin token>; create one with " +
  "`mesh token create --admin --data-dir DIR` on the control plane's host";

/** The file name diagnostics of request bodies carry. */
const REQUEST = "<request>";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Kind/namespace/name of every document in `text`, leniently: specs are not validated, so a
 * resource that fails validation can still be deleted. Also reads `{"keys": [...]}`.
 */
export function keysFromText(
  text: string,
  defaultNamespace: string,
  file = REQUEST,
): { keys: ResourceKey[]; diagnostics: Diagnostic[] } {
  const keys: ResourceKey[] = [];
  const diagnostics: Diagnostic[] = [];
  const error = (line: number, message: string) =>
    diagnostics.push({ severity: "error", file, line, column: 1, path: "", message });
  for (const doc of parseYamlDocuments(text)) {
    if (doc.error) {
      diagnostics.push({
        severity: "error",
        file,
        line: doc.error.line,
        column: doc.error.column,
        path: "",
        message: `invalid YAML: ${doc.error.message}`,
      });
      continue;
    }
    const v = doc.value;
    if (isRecord(v) && Array.isArray(v.keys) && v.kind === undefined) {
      for (const k of v.keys) {
        const kind = isRecord(k) && typeof k.kind === "string" ? resolveKind(k.kind) : undefined;
        if (!kind || !isRecord(k) || typeof k.name !== "string") {
          error(doc.line, `each key needs a known kind and a name; got ${JSON.stringify(k)}`);
          continue;
        }
        const namespace = typeof k.namespace === "string" ? k.namespace : defaultNamespace;
        keys.push({ kind, namespace, name: k.name });
      }
      continue;
    }
    const items = isRecord(v) && typeof v.kind === "string" && v.kind.endsWith("List") &&
        Array.isArray(v.items)
      ? v.items
      : [v];
    for (const item of items) {
      const meta = isRecord(item) && isRecord(item.metadata) ? item.metadata : {};
      const kind = isRecord(item) ? item.kind : undefined;
      const group = groupOf(isRecord(item) ? item.apiVersion : undefined);
      if (!isMeshGroup(group) && typeof kind === "string") {
        continue; // Kubernetes objects and other groups: not ours, as in parseResources.
      }
      if (
        typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind) ||
        groupOfKind(kind) !== group
      ) {
        error(
          doc.line,
          `kind ${JSON.stringify(kind)} is not one mesh stores; use ${KINDS.join(", ")}`,
        );
        continue;
      }
      if (typeof meta.name !== "string") {
        error(doc.line, `${kind} without metadata.name; name the resource to delete`);
        continue;
      }
      const namespace = typeof meta.namespace === "string" ? meta.namespace : defaultNamespace;
      keys.push({ kind, namespace, name: meta.name });
    }
  }
  return { keys, diagnostics };
}

/**
 * The answer to a write the store's disk refused: 507 Insufficient Storage for a full disk or
 * quota, 503 for a read-only file system; the message names the config dir and the fix.
 */
function storageFailure(err: StorageError, store: ConfigStore, what: string) {
  const dir = (store as { dir?: string }).dir ?? err.dir;
  const status = err.code === "EROFS" ? 503 : 507;
  return {
    status: status as 503 | 507,
    body: {
      error: `can't store the configuration in ${dir}: ${
        storageProblem(err.code, dir)
      }, then retry; nothing was ${what} (every file is as it was)`,
      code: err.code,
      file: err.path,
    },
  };
}

function rejected(diagnostics: Diagnostic[], what: string) {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  return {
    error: `${errors} error(s); nothing was ${what}`,
    diagnostics: diagnostics.map(formatDiagnostic),
  };
}

/** The admin API routes (full paths under `/apis/v1/`), to mount on the admin server. */
export function adminApi(opts: AdminApiOptions): Hono<Env> {
  const { store, tokens } = opts;
  const app = new Hono<Env>();

  app.use("/apis/*", async (c, next) => {
    const refuse = (reason: string) => {
      audit.warn("refused", { method: c.req.method, path: c.req.path, reason });
      c.header("WWW-Authenticate", 'Bearer realm="mesh-admin"');
      return c.json({ error: reason }, 401);
    };
    const auth = c.req.header("authorization");
    if (!auth) return refuse(NO_CREDENTIAL);
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(auth);
    if (!m) return refuse(`Authorization must be "Bearer <admin token>"; ${NO_CREDENTIAL}`);
    try {
      const claims = await tokens.verifyAdmin(m[1]);
      c.set("admin", claims.subject);
    } catch (err) {
      return refuse(err instanceof TokenError ? err.message : "token could not be verified");
    }
    await next();
    return undefined;
  });

  const limit = bodyLimit({
    maxSize: opts.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES,
    onError: (c) =>
      c.json({
        error: `request body over ${
          opts.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES
        } bytes; apply fewer resources at a time`,
      }, 413),
  });

  app.post("/apis/v1/apply", limit, async (c) => {
    const namespace = c.req.query("namespace") || "default";
    const text = await c.req.text();
    const { resources, diagnostics } = parseResources(text, REQUEST, {
      defaultNamespace: namespace,
    });
    if (hasErrors(diagnostics)) return c.json(rejected(diagnostics, "applied"), 400);
    if (resources.length === 0) {
      return c.json({
        error: "no Istio networking resources in the request; nothing was applied",
        diagnostics: diagnostics.map(formatDiagnostic),
      }, 400);
    }
    try {
      const result = await store.apply(resources);
      if (!result.ok) return c.json(rejected(result.diagnostics, "applied"), 400);
      const count = (a: string) => result.results.filter((r) => r.action === a).length;
      audit.info("apply", {
        by: c.get("admin"),
        created: count("created"),
        configured: count("configured"),
        unchanged: count("unchanged"),
        revision: result.revision,
      });
      return c.json({
        revision: result.revision,
        results: result.results,
        warnings: result.diagnostics.map(formatDiagnostic),
      });
    } catch (err) {
      if (err instanceof StoreConflictError) return c.json({ error: err.message }, 409);
      if (err instanceof StorageError) {
        const { status, body } = storageFailure(err, store, "applied");
        audit.error("apply failed: storage", { by: c.get("admin"), error: err.message });
        return c.json(body, status);
      }
      throw err;
    }
  });

  app.post("/apis/v1/delete", limit, async (c) => {
    const namespace = c.req.query("namespace") || "default";
    const { keys, diagnostics } = keysFromText(await c.req.text(), namespace);
    if (hasErrors(diagnostics)) return c.json(rejected(diagnostics, "deleted"), 400);
    if (keys.length === 0) {
      return c.json({ error: "no resources named in the request; nothing was deleted" }, 400);
    }
    try {
      const result = await store.delete(keys);
      audit.info("delete", {
        by: c.get("admin"),
        deleted: result.results.filter((r) => r.action === "deleted").length,
        notfound: result.results.filter((r) => r.action === "notfound").length,
        revision: result.revision,
      });
      return c.json(result);
    } catch (err) {
      if (err instanceof StoreConflictError) return c.json({ error: err.message }, 409);
      if (err instanceof StorageError) {
        const { status, body } = storageFailure(err, store, "deleted");
        audit.error("delete failed: storage", { by: c.get("admin"), error: err.message });
        return c.json(body, status);
      }
      throw err;
    }
  });

  app.get("/apis/v1/resources", (c) => {
    const kindArg = c.req.query("kind") || undefined;
    const namespace = c.req.query("namespace") || undefined;
    const name = c.req.query("name") || undefined;
    const kind = kindArg === undefined ? undefined : resolveKind(kindArg);
    if (kindArg !== undefined && !kind) {
      return c.json(
        { error: `unknown kind ${JSON.stringify(kindArg)}; mesh stores ${kindsHelp()}` },
        400,
      );
    }
    if (name !== undefined && (!kind || !namespace)) {
      return c.json({ error: "a name needs a kind and a namespace" }, 400);
    }
    const revision = store.revision;
    if (name !== undefined && kind && namespace) {
      const r = store.get(kind, namespace, name);
      if (!r) {
        return c.json(
          { error: `${typeName(kind)} "${name}" not found in namespace "${namespace}"` },
          404,
        );
      }
      return c.json({ revision, items: [bodyOf(r)] });
    }
    return c.json({ revision, items: store.list(kind, namespace).map(bodyOf) });
  });

  return app;
}
