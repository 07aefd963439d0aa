/**
 * The control plane process: config store → snapshot → per-proxy push, the CA,
 * the token issuer, and the admin port (debug pages and the admin API), wired
 * together.
 *
 * @example
 * ```ts
 * const control = await startControl({ configDir: "./config", dataDir: "./data", listen: "127.0.0.1:15012" });
 * await control.close();
 * ```
 * @module
 */
import { Hono } from "hono";
import type { CaKeyType, CertificateAuthority } from "../ca/ca.ts";
import { TokenIssuer } from "../ca/token.ts";
import { UsedTokens } from "../ca/used_tokens.ts";
import { CaManager } from "./ca_manager.ts";
import { openConfigSources } from "./store/sources.ts";
import { Debouncer } from "../util/debounce.ts";
import type { ConfigStore } from "./store/types.ts";
import { adminApi } from "./admin_api.ts";
import { PushHub } from "./push.ts";
import { PushRequest } from "./changes.ts";
import {
  buildSnapshot,
  MESH_DEFAULTS,
  type MeshSettings,
  meshSettingsFrom,
  type Snapshot,
} from "./snapshot.ts";
import { startControlServer } from "./server.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import { logger } from "../util/log.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { JwksCache, NO_KEYS } from "./jwks.ts";
import { jwksTimeoutOf, jwksUriOf } from "./request_authn.ts";
import type { Resource } from "../api/resources.ts";
import type { KubeClient } from "./kube/client.ts";

const log = logger("control");

/** Settings of the control plane. */
export interface ControlOptions {
  /** Directory of Istio YAML, served through a file store (`store/file.ts`). Required unless `store`. */
  configDir?: string;
  /** A store to serve instead of `configDir` (e.g. a `MemoryStore`); the caller closes it. */
  store?: ConfigStore;
  dataDir: string;
  /** `host:port` of the TLS port. */
  listen: string;
  /**
   * Port of the plain-HTTP admin listener on 127.0.0.1: debug pages and the admin API
   * (0 picks one; -1 disables).
   */
  adminPort?: number;
  trustDomain?: string;
  /** Workload certificate lifetime, milliseconds. */
  workloadTtlMs?: number;
  outboundTrafficPolicy?: MeshSettings["outboundTrafficPolicy"];
  /** Extra DNS names or IPs for the serving certificate. */
  sans?: string[];
  /** Key type of a root created on first start. */
  caKeyType?: CaKeyType;
  /** Run as an intermediate from Istio's plug-in CA files in this directory. */
  caPluginDir?: string;
  /** Certificates per identity per second (sustained). */
  signRate?: number;
  /**
   * How long workloads registered before a restart stay endpoints while their proxies
   * reconnect (default {@linkcode WORKLOAD_GRACE_MS}); a workload's grace ends when its proxy
   * reconnects.
   */
  workloadGraceMs?: number;
  /**
   * How long a WorkloadGroup workload stays registered once its proxy is gone (Istio's
   * PILOT_WORKLOAD_ENTRY_GRACE_PERIOD, default 10 s).
   */
  groupGraceMs?: number;
  /** Push debounce: quiet time and maximum wait, ms (default 100 ms and 10 s, as istiod). */
  debounce?: { afterMs: number; maxMs: number };
  /**
   * `--write-status`: write each Istio resource's `status` (validation messages, the
   * Reconciled condition, observedGeneration) through this client, as istiod does with
   * `PILOT_ENABLE_STATUS` (`control/kube/status.ts`). Only the kube source's resources.
   */
  writeStatus?: { kube: Pick<KubeClient, "request">; analyzers?: boolean };
}

/** A running control plane. */
export interface Control {
  port: number;
  adminPort?: number;
  /** The CA as it is now. */
  readonly ca: CertificateAuthority;
  /** Where the configuration lives. */
  store: ConfigStore;
  snapshot(): Snapshot | undefined;
  close(): Promise<void>;
}

/**
 * How long workloads registered before a restart stay endpoints while their
 * proxies reconnect (each one's grace ends as soon as its proxy is back).
 */
export const WORKLOAD_GRACE_MS = 60_000;

/** Quiet time between a change and the push it causes (`--debounce-after`, Istio's 100 ms). */
export const PUSH_DEBOUNCE_MS = 100;
/** Longest wait from the first change of a burst to its push (`--debounce-max`, Istio's 10 s). */
export const PUSH_DEBOUNCE_MAX_MS = 10_000;
/** Registered workloads are saved at most this often. */
export const WORKLOADS_SAVE_MS = 1000;

/** Debounce between a change and the resource statuses it causes (`writeStatus`). */
export const STATUS_DEBOUNCE_MS = 200;

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { host, port: Number(listen.slice(i + 1)) };
}

/** Starts the control plane. */
export async function startControl(opts: ControlOptions): Promise<Control> {
  if (!opts.store && opts.configDir === undefined) {
    throw new Error("startControl needs configDir or store");
  }
  // A config dir alone is the file source, opened (checked and started) as --config-source does.
  const ownStore = opts.store
    ? undefined
    : await openConfigSources({ sources: ["file"], configDir: opts.configDir });
  const store: ConfigStore = opts.store ?? ownStore!;
  // A MeshConfig in the config sets the trust domain; it can't change while the CA runs.
  const meshConfig = store.snapshot().resources.find((r) => r.kind === "MeshConfig") as
    | { spec: { trustDomain?: string } }
    | undefined;
  const trustDomain = meshConfig?.spec.trustDomain ?? opts.trustDomain ?? MESH_DEFAULTS.trustDomain;
  await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const { host, port } = splitListen(opts.listen);
  // The serving certificate is issued by our own CA and never written to disk.
  const caMgr = await CaManager.start({
    dataDir: opts.dataDir,
    trustDomain,
    workloadTtlMs: opts.workloadTtlMs,
    keyType: opts.caKeyType,
    pluginDir: opts.caPluginDir,
    servingNames: [...new Set(["localhost", "127.0.0.1", "::1", host, ...(opts.sans ?? [])])]
      .filter((n) => n && n !== "0.0.0.0" && n !== "::"),
  });
  const tokens = await TokenIssuer.loadOrCreate(opts.dataDir);
  const usedTokens = await UsedTokens.load(`${opts.dataDir}/used-tokens.json`);

  let warnedTrustDomain: string | undefined;
  const mesh: MeshSettings = {
    trustDomain,
    outboundTrafficPolicy: opts.outboundTrafficPolicy ?? MESH_DEFAULTS.outboundTrafficPolicy,
  };
  let revision = 0;
  let current: Snapshot | undefined;
  // The first snapshot revision whose trust bundle carried the pending root.
  let pendingTrustedSince: number | undefined;
  // What changed since the last push (what the next one can affect).
  let pending = new PushRequest();
  let pushedOnce = false;
  // RequestAuthentication key sets are fetched here and pushed inline, as istiod does.
  const jwksCache = new JwksCache({
    onChange: () => {
      pending.jwks();
      schedule();
    },
  });
  /** The `jwksUri`s of the RequestAuthentications in `resources`, with their fetch timeouts. */
  const jwksUris = (resources: readonly Resource[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const r of resources) {
      if (r.kind !== "RequestAuthentication") continue;
      for (const rule of (r as Resource<"RequestAuthentication">).spec.jwtRules ?? []) {
        const uri = jwksUriOf(rule);
        if (uri !== undefined && !out.has(uri)) out.set(uri, jwksTimeoutOf(rule));
      }
    }
    return out;
  };
  const jwksOf = (resources: readonly Resource[]): Map<string, string> => {
    const out = new Map<string, string>();
    for (const [uri, timeoutMs] of jwksUris(resources)) {
      // Until its first fetch ends, a set has no keys (its tokens are refused).
      out.set(uri, jwksCache.get(uri, timeoutMs) ?? NO_KEYS);
    }
    jwksCache.retain(new Set(out.keys()));
    return out;
  };
  const rebuild = () => {
    const ca = caMgr.ca;
    const resources = store.snapshot().resources;
    current = buildSnapshot({
      revision: ++revision,
      resources,
      jwks: jwksOf(resources),
      workloads: hub.workloads(),
      mesh: meshSettingsFrom(mesh, resources, (wanted) => {
        if (wanted === warnedTrustDomain) return;
        warnedTrustDomain = wanted;
        log.warn("MeshConfig asks for another trust domain; it takes effect at the next start", {
          running: mesh.trustDomain,
          wanted,
        });
      }),
      roots: ca.trustBundlePem,
      signingRoot: ca.rootSha256,
    });
    if (ca.phase === "pending") pendingTrustedSince ??= current.revision;
    else pendingTrustedSince = undefined;
    const request = pending;
    pending = new PushRequest();
    hub.push(current, pushedOnce ? request : undefined);
    pushedOnce = true;
  };
  // Changes are debounced into one rebuild and push: after a quiet time, but never later than
  // the maximum wait after the first change of a burst, as istiod's PILOT_DEBOUNCE_AFTER/MAX.
  const debounce = new Debouncer({
    afterMs: opts.debounce?.afterMs ?? PUSH_DEBOUNCE_MS,
    maxMs: opts.debounce?.maxMs ?? PUSH_DEBOUNCE_MAX_MS,
    fn: () => rebuild(),
  });
  const schedule = () => debounce.trigger();
  const hub = new PushHub(() => {
    pending.endpoints("workloads");
    schedule();
    saveSoon.trigger();
  }, { groupGraceMs: opts.groupGraceMs });
  // Auto-registered workloads survive a restart of the control plane for a grace period.
  const workloadsFile = `${opts.dataDir}/workloads.json`;
  let savingWorkloads: Promise<void> = Promise.resolve();
  let closing = false;
  // Saved at most once a second, the latest list (not once per connect).
  const saveSoon = new Debouncer({
    afterMs: WORKLOADS_SAVE_MS,
    maxMs: WORKLOADS_SAVE_MS,
    fn: () => saveWorkloads(),
  });
  const saveWorkloads = () => {
    if (closing) return; // proxies dropping off at shutdown must not erase the list
    savingWorkloads = savingWorkloads
      .then(() =>
        atomicWrite(workloadsFile, JSON.stringify(hub.workloads(), null, 1), { mode: 0o600 })
      )
      .catch((err) =>
        log.warn("can't save registered workloads", { file: workloadsFile, error: err })
      );
  };
  try {
    const saved = JSON.parse(await Deno.readTextFile(workloadsFile));
    if (Array.isArray(saved) && saved.length) {
      hub.restore(saved, opts.workloadGraceMs ?? WORKLOAD_GRACE_MS);
      log.info("restored registered workloads until their proxies reconnect", {
        workloads: saved.length,
      });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      log.warn("ignoring an unreadable workloads file", { file: workloadsFile, error: err });
    }
  }
  // The first push carries the key sets (each fetch bounded by its rule's timeout), so a
  // restarted control plane never pushes a config that refuses valid tokens.
  await jwksCache.prefetch(jwksUris(store.snapshot().resources));
  rebuild();
  // Rebuild when the resources change (a snapshot with only new diagnostics keeps its revision).
  let storeRevision = store.revision;
  let storeResources = store.snapshot().resources;
  const unsubscribe = store.subscribe((s) => {
    if (s.revision === storeRevision) return;
    storeRevision = s.revision;
    pending.addResources(storeResources, s.resources);
    storeResources = s.resources;
    schedule();
  });

  // Status of the kube source's resources, after each change (diagnostics-only ones too).
  let statusWriter: import("./kube/status.ts").StatusWriter | undefined;
  let statusSoon: Debouncer | undefined;
  let unsubscribeStatus = () => {};
  if (opts.writeStatus) {
    const { StatusWriter, statusMessagesOf } = await import("./kube/status.ts");
    const writer = statusWriter = new StatusWriter({ kube: opts.writeStatus.kube });
    const analyzers = opts.writeStatus.analyzers ?? true;
    const computeStatus = () => {
      try {
        writer.update(statusMessagesOf(store.snapshot(), { analyzers }));
      } catch (err) {
        log.error("can't compute resource status", { error: err });
      }
    };
    const soon = statusSoon = new Debouncer({
      afterMs: STATUS_DEBOUNCE_MS,
      maxMs: PUSH_DEBOUNCE_MAX_MS,
      fn: computeStatus,
    });
    unsubscribeStatus = store.subscribe(() => soon.trigger());
    computeStatus();
  }

  const server = await startControlServer({
    host,
    port,
    keyPem: caMgr.serving.keyPem,
    certPem: caMgr.serving.certPem,
    ca: () => caMgr.ca,
    tokens,
    hub,
    usedTokens,
    audit: (r) => caMgr.audit(r),
    signRate: opts.signRate,
    onProxyReport: () => void tick(),
  });

  // Root rotation: notice steps written on disk, and move a rotation on when proxies caught up.
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      let changed = await caMgr.reloadIfChanged();
      changed = (await caMgr.advanceRotation(hub.connections(), pendingTrustedSince)) || changed;
      if (changed) {
        server.updateTls(caMgr.serving.keyPem, caMgr.serving.certPem, caMgr.ca.trustBundlePem);
        pending.secrets();
        schedule();
      }
    } catch (err) {
      log.error("CA rotation step failed; will retry", { error: err });
    } finally {
      ticking = false;
    }
  };
  const caTimer = setInterval(() => void tick(), 250);
  log.info("control plane listening", {
    address: `${host}:${server.port}`,
    trustDomain,
    ca: caMgr.ca.mode,
  });

  let admin: Deno.HttpServer | undefined;
  if ((opts.adminPort ?? -1) >= 0) {
    const app = new Hono();
    app.get("/ready", (c) => c.text("ready\n"));
    app.get("/debug/syncz", (c) =>
      c.json(
        hub.connections().map((conn) => ({
          node: conn.node.id,
          mode: conn.node.mode,
          identity: `${conn.identity.namespace}/${conn.identity.serviceAccount}`,
          sent: conn.sentVersion,
          acked: conn.ackedVersion,
          lastNack: conn.lastNack,
          connectedAt: conn.connectedAt.toISOString(),
          protocol: conn.protocol,
          instance: hub.instance,
          revision: current?.revision,
          parts: conn.status(hub.generator),
        })),
      ));
    app.get("/metrics", (c) =>
      c.text(hub.metrics.render(), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }));
    app.get("/debug/configz", (c) => {
      const s = store.snapshot();
      return c.json({
        revision: current?.revision,
        store: store.info(),
        resources: s.resources.map((r) => ({
          kind: r.kind,
          namespace: r.metadata.namespace,
          name: r.metadata.name,
          file: r.source.file,
        })),
        diagnostics: [...s.diagnostics, ...(current?.gatewayApi?.diagnostics ?? [])]
          .map(formatDiagnostic),
        workloads: current?.workloads,
        // The status Istio would write on each Gateway API object.
        ...(current?.gatewayApi ? { gatewayApi: current.gatewayApi.statuses } : {}),
      });
    });
    app.route("/", adminApi({ store, tokens }));
    admin = Deno.serve({
      hostname: "127.0.0.1",
      port: opts.adminPort,
      onListen: () => {},
    }, app.fetch);
    log.info("admin listening", { address: `127.0.0.1:${(admin.addr as Deno.NetAddr).port}` });
  }

  return {
    port: server.port,
    adminPort: (admin?.addr as Deno.NetAddr | undefined)?.port,
    get ca() {
      return caMgr.ca;
    },
    store,
    snapshot: () => current,
    async close() {
      // The list as it was before the proxies drop off; then no more saves.
      saveSoon.flush();
      closing = true;
      saveSoon.close();
      debounce.close();
      clearInterval(caTimer);
      jwksCache.close();
      hub.close();
      unsubscribe();
      unsubscribeStatus();
      statusSoon?.close();
      await statusWriter?.close();
      await ownStore?.close();
      await server.close();
      await admin?.shutdown();
      await savingWorkloads;
    },
  };
}
