/**
 * The proxy's admin listener (127.0.0.1 only), in Envoy's paths:
 * `/ready`, `/config_dump`, `/stats/prometheus`, `/memory`.
 * @module
 */
import { Hono } from "hono";
import type { ProxyConfig } from "../api/proxy_config.ts";
import type { Credentials } from "./control_client.ts";
import type { Stats } from "./stats.ts";

/** What the admin API reads. */
export interface AdminState {
  ready(): { ok: boolean; reason?: string };
  config(): ProxyConfig | undefined;
  credentials(): Credentials | undefined;
  connected(): boolean;
  stats: Stats;
  node: unknown;
}

/** Builds the admin app. */
export function adminApp(state: AdminState): Hono {
  const app = new Hono();
  app.get("/ready", (c) => {
    const r = state.ready();
    return r.ok ? c.text("LIVE\n") : c.text(`NOT READY: ${r.reason}\n`, 503);
  });
  app.get("/config_dump", (c) => {
    const creds = state.credentials();
    const config = state.config();
    return c.json({
      version: config?.version ?? null,
      controlPlaneConnected: state.connected(),
      node: state.node,
      certificate: creds
        ? { identity: creds.spiffeId, notBefore: creds.notBefore, notAfter: creds.notAfter }
        : null,
      config: config ?? null,
    });
  });
  app.get(
    "/stats/prometheus",
    (c) => c.body(state.stats.prometheus(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  // Envoy's `/memory` names, from V8's heap plus the process's resident set.
  app.get("/memory", (c) => {
    const m = Deno.memoryUsage();
    return c.json({
      allocated: String(m.heapUsed),
      heap_size: String(m.heapTotal),
      external: String(m.external),
      total_physical_bytes: String(m.rss),
    });
  });
  return app;
}
