/**
 * The sidecar's DNS proxy as `mesh start --capture` runs it: `server.ts` on 127.0.0.1,
 * answering from the name table of the config being served (`ProxyConfig.names`, made into
 * a `names.ts` table once per config) and forwarding the rest to the host's resolvers.
 *
 * @example
 * ```ts
 * const dns = await startProxyDns({ config: () => runtime?.config, namespace: "default", port: 15053 });
 * ```
 * @module
 */
import type { ProxyConfig } from "../../api/proxy_config.ts";
import { logger } from "../../util/log.ts";
import { buildNameTable, type NameTable } from "./names.ts";
import { DEFAULT_DNS_PORT, type DnsServer, startDnsServer } from "./server.ts";

const log = logger("dns");

const tables = new WeakMap<ProxyConfig, NameTable>();
const NO_NAMES = buildNameTable({ hosts: [], namespace: "default" });

/** The DNS table of a config (built once per config); empty before the first. */
export function nameTableOf(config: ProxyConfig | undefined, namespace: string): NameTable {
  if (!config) return NO_NAMES;
  let t = tables.get(config);
  if (!t) {
    const hosts = (config.names ?? []).map((e) => ({
      hostname: e.host,
      addresses: e.addresses,
      namespace: e.namespace,
    }));
    t = buildNameTable({ hosts, namespace });
    tables.set(config, t);
  }
  return t;
}

/** Starts the DNS proxy on 127.0.0.1:`port` (default 15053; 0: the kernel picks). */
export async function startProxyDns(o: {
  config: () => ProxyConfig | undefined;
  namespace: string;
  port?: number;
}): Promise<DnsServer> {
  const dns = await startDnsServer({
    host: "127.0.0.1",
    port: o.port ?? DEFAULT_DNS_PORT,
    table: () => nameTableOf(o.config(), o.namespace),
  });
  log.info("dns proxy listening", {
    address: `127.0.0.1:${dns.port}`,
    upstreams: dns.upstreams.join(",") || "(none)",
  });
  return dns;
}
