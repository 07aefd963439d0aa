/**
 * The proxy process (sidecar or gateway): bootstrap identity, open the push
 * stream, and serve inbound, outbound, gateway and admin listeners from the
 * latest config. New config replaces the runtime atomically; listeners stay up.
 *
 * @example
 * ```ts
 * const proxy = await startProxy({ mode: "sidecar", control: "https://127.0.0.1:15012", tokenFile: "token", ... });
 * await proxy.close();
 * ```
 * @module
 */
import { ControlClient } from "./control_client.ts";
import { originationOf, Runtime } from "./runtime.ts";
import { type Origination, Upstreams } from "./forward.ts";
import { Tracer } from "./tracing.ts";
import { serveMutualTls } from "./tls_gateway.ts";
import { DEFAULT_LIMITS, type HttpListener, type ListenerLimits, serveHttp } from "./listener.ts";
import { outboundHandler } from "./outbound.ts";
import { gatewayHandler } from "./gateway.ts";
import type { RoutedContext } from "./stages/routed.ts";
import { ClusterStates } from "./stages/clusters.ts";
import { byProtocol, H1EndpointClient } from "./stages/endpoint.ts";
import { H2EndpointClient } from "./stages/h2_endpoint.ts";
import { AccessLog } from "./access_log.ts";
import { type Inbound, startInbound } from "./inbound.ts";
import { startTcpListener, type TcpContext } from "./tcp.ts";
import { outboundConnect } from "./connect.ts";
import { adminApp } from "./admin.ts";
import { Stats } from "./stats.ts";
import { fqdn } from "../api/host.ts";
import type { Endpoint, GatewayListener, GatewayTls, NodeInfo } from "../api/proxy_config.ts";
import { logger } from "../util/log.ts";
import { serveCaptured } from "./capture/listener.ts";
import { HealthProber } from "./health_probe.ts";
import type { DnsServer } from "./dns/server.ts";
import { startProxyDns } from "./dns/proxy_dns.ts";

const log = logger("proxy");

/** Settings of a proxy. */
export interface ProxyOptions {
  mode: "sidecar" | "gateway";
  control: string;
  tokenFile: string;
  rootCertFile?: string;
  namespace: string;
  serviceAccount: string;
  trustDomain?: string;
  labels: Record<string, string>;
  /** Address peers reach this workload at; the inbound listener binds to it. */
  address: string;
  /** Workload name for auto-registration and metrics. */
  workloadName?: string;
  /** Where the certificate is kept across restarts (`--cert-dir`). */
  certDir?: string;
  /** The WorkloadGroup to register under (`--workload-group`); its probe runs here. */
  workloadGroup?: string;
  appPort?: number;
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  /** Address gateway listeners bind to. */
  gatewayAddress?: string;
  /** Where a gateway finds Gateway `credentialName` credentials (`<name>/tls.crt`, `tls.key`). */
  credentialsDir?: string;
  /** Connection limits and timeouts of every listener but admin (defaults: Envoy-like). */
  limits?: ListenerLimits;
  /**
   * Transparent capture (`mesh iptables` redirects the workload's traffic here): the outbound
   * listener routes redirected connections by their original destination, and the DNS proxy
   * answers mesh names on `dnsPort` (127.0.0.1). Sidecars only.
   */
  capture?: boolean;
  /** The DNS proxy's port with `capture` (default 15053; 0: the kernel picks). */
  dnsPort?: number;
  /** Where this workload runs, `region/zone/subzone` (`--locality`): sent and balanced by. */
  locality?: string;
}

/** A running proxy. */
export interface Proxy {
  ports: { inbound?: number; outbound?: number; admin: number };
  client: ControlClient;
  close(): Promise<void>;
}

type Server = Deno.HttpServer<Deno.NetAddr>;

/** The admin port (loopback only) stays on `Deno.serve`. */
function serve(
  hostname: string,
  port: number,
  handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
): Server {
  const s = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  // An accept failure (out of file descriptors) must not become an unhandled rejection.
  s.finished.catch((err) => log.error("admin listener failed", { error: err }));
  return s;
}

/** How long a gateway listener reopening a port waits for the old one to release it. */
const PORT_RELEASE_WAIT_MS = 1_000;
/** How soon a gateway listener that couldn't open is tried again. */
const GATEWAY_RETRY_MS = 2_000;

/** How often a gateway looks for renewed certificate files. */
const CERT_CHECK_MS = 10_000;

/** The files a gateway's TLS reads, by their modification times (a change means reload). */
function certStamp(t: GatewayTls, dir: string): string {
  const files = t.credentialName
    ? [`${dir}/${t.credentialName}/tls.crt`, `${dir}/${t.credentialName}/tls.key`]
    : [t.serverCertificate, t.privateKey, t.caCertificates];
  return files.map((f) => {
    if (!f) return "";
    try {
      return String(Deno.statSync(f).mtime?.getTime() ?? 0);
    } catch {
      return "missing";
    }
  }).join(",");
}

/** The default directory where gateways find `credentialName` credentials. */
export const DEFAULT_CREDENTIALS_DIR = "/etc/mesh/credentials";

/**
 * Reads a gateway's serving certificate and key: the files a Gateway names, or a named
 * credential in `dir` laid out as a Kubernetes TLS secret (`<name>/tls.crt`, `<name>/tls.key`).
 */
export function readGatewayTls(
  t: GatewayTls,
  dir: string,
): { cert: string; key: string; ca?: string } {
  const certFile = t.credentialName ? `${dir}/${t.credentialName}/tls.crt` : t.serverCertificate;
  const keyFile = t.credentialName ? `${dir}/${t.credentialName}/tls.key` : t.privateKey;
  if (!certFile || !keyFile) {
    throw new Error(
      "the Gateway server's tls needs serverCertificate and privateKey, or credentialName",
    );
  }
  const read = (file: string, what: string) => {
    try {
      return Deno.readTextFileSync(file);
    } catch (err) {
      throw new Error(
        `can't read the gateway's ${what} ${file}: ${(err as Error).message}` +
          (t.credentialName ? ` (credential ${t.credentialName} in --credentials-dir ${dir})` : ""),
      );
    }
  };
  const out: { cert: string; key: string; ca?: string } = {
    cert: read(certFile, "certificate"),
    key: read(keyFile, "private key"),
  };
  if (t.mode === "MUTUAL") {
    // The client CAs: the Gateway's file, or the credential's `ca.crt` (or `<name>-cacert`).
    let caFile = t.caCertificates;
    if (!caFile && t.credentialName) {
      caFile = `${dir}/${t.credentialName}/ca.crt`;
      try {
        Deno.statSync(caFile);
      } catch {
        caFile = `${dir}/${t.credentialName}-cacert/ca.crt`;
      }
    }
    if (!caFile) {
      throw new Error("a MUTUAL Gateway server needs caCertificates (or a credential with ca.crt)");
    }
    out.ca = read(caFile, "client CA certificates");
  }
  return out;
}

/** Starts a proxy; resolves once it has its certificate and its listeners are open. */
export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const trustDomain = opts.trustDomain ?? "cluster.local";
  const workload = opts.workloadName ??
    (opts.labels.app
      ? `${opts.labels.app}${opts.labels.version ? "-" + opts.labels.version : ""}`
      : opts.serviceAccount);
  const principal = `spiffe://${trustDomain}/ns/${opts.namespace}/sa/${opts.serviceAccount}`;
  const stats = new Stats({ namespace: opts.namespace, workload, principal });
  let runtime: Runtime | undefined;
  const upstreams = new Upstreams(() => runtime?.config.trustDomainAliases);
  // HTTP/2 upstreams (GRPC/HTTP2 ports outside the mesh), keyed and dialled as `upstreams`.
  const h2Upstreams = new H2EndpointClient({ dialer: upstreams });
  // Balancers, breakers, outlier ejections and pools live across pushes, pruned as clusters go.
  const clusters = new ClusterStates({ pools: [upstreams, h2Upstreams] });
  const accessLog = new AccessLog();
  // Tracing (Telemetry with a zipkin provider): spans go to the collector through the
  // proxy's own upstream pools, like any request to that service.
  let tracer: Tracer | undefined;
  const sendSpans = async (body: string) => {
    const t = tracer?.settings;
    const rt = runtime;
    if (!t || !rt) return;
    let ep: Endpoint | undefined;
    let authority: string;
    let origination: Origination | undefined;
    if ("cluster" in t.collector) {
      const lb = rt.balancers.get(t.collector.cluster);
      ep = lb?.pick();
      authority = lb ? `${lb.cluster.host}:${lb.cluster.port}` : "";
      origination = lb ? originationOf(lb.cluster) : undefined;
    } else {
      ep = { address: t.collector.address, port: t.collector.port, mtls: false, labels: {} };
      authority = `${t.collector.address}:${t.collector.port}`;
    }
    if (!ep) throw new Error("the tracing collector has no endpoint");
    const bytes = new TextEncoder().encode(body);
    const res = await upstreams.request(ep, {
      method: "POST",
      path: t.path,
      headers: [["host", authority], ["content-type", "application/json"]],
      body: bytes,
      length: bytes.length,
      // A collector that never answers costs one batch, not tracing.
      signal: AbortSignal.timeout(5_000),
    }, origination);
    if (!res.full) await res.body.cancel();
    if (res.status >= 300) throw new Error(`the collector answered ${res.status}`);
  };
  // Inbound requests that arrive before the first config wait for it (up to 10 s), so that
  // AuthorizationPolicies are never skipped for lack of a config.
  let configured!: () => void;
  const firstConfig = new Promise<void>((resolve) => configured = resolve);
  const waitForConfig = (): Promise<boolean> | boolean => {
    if (runtime) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      firstConfig.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
    ]).finally(() => clearTimeout(timer));
  };
  const client = new ControlClient({
    url: opts.control,
    tokenFile: opts.tokenFile,
    ...(opts.certDir ? { certDir: opts.certDir } : {}),
    rootCertFile: opts.rootCertFile,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
    trustDomain,
    validate: (config) => {
      try {
        const next = Runtime.compile(config, { locality: opts.locality, labels: opts.labels });
        clusters.adopt(next, runtime);
        runtime = next;
        accessLog.configure(config.accessLog);
        stats.overrides = config.metrics ?? [];
        if (config.tracing) {
          if (tracer) tracer.settings = config.tracing;
          else tracer = new Tracer(config.tracing, sendSpans);
        } else {
          tracer?.close();
          tracer = undefined;
        }
        configured();
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    check: (config) => {
      try {
        Runtime.compile(config, { locality: opts.locality, labels: opts.labels });
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  });
  client.config.subscribe((cfg) => {
    if (cfg) {
      log.info("config applied", {
        version: cfg.version,
        clusters: Object.keys(cfg.clusters).length,
      });
    }
  });

  const node: NodeInfo = {
    id: `${opts.mode}~${opts.address}~${workload}-${
      crypto.randomUUID().slice(0, 8)
    }.${opts.namespace}`,
    mode: opts.mode,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
    labels: opts.labels,
    address: opts.address,
    appPort: opts.appPort,
    workloadName: workload,
    ...(opts.workloadGroup ? { workloadGroup: opts.workloadGroup } : {}),
    ...(opts.locality ? { locality: opts.locality } : {}),
  };

  // Admin first, so /ready can say what we're waiting for.
  const admin = serve(
    "127.0.0.1",
    opts.adminPort,
    adminApp({
      ready: () => {
        if (!client.credentials.get()) return { ok: false, reason: "no certificate yet" };
        if (!client.config.get()) {
          return { ok: false, reason: "no config from the control plane yet" };
        }
        return { ok: true };
      },
      config: () => client.config.get(),
      credentials: () => client.credentials.get(),
      connected: () => client.connected,
      stats,
      node,
    }).fetch,
  );

  log.info("admin listening", { address: `127.0.0.1:${admin.addr.port}` });

  await client.bootstrap();
  const creds = client.credentials.get();
  if (!creds) {
    await admin.shutdown();
    throw new Error("proxy stopped before it got a certificate");
  }
  upstreams.setCredentials(creds, client.trust.get());

  const ctx: RoutedContext = {
    runtime: () => runtime,
    endpoints: byProtocol({ http1: new H1EndpointClient(upstreams), http2: h2Upstreams }),
    clusters,
    stats,
    accessLog,
    tracer: () => tracer,
    ownPorts: () => [outboundPort, inbound?.port, admin.addr.port],
  };
  // How TCP listeners (gateway TCP servers, Sidecar egress TCP ports, captured TCP) reach upstreams.
  const tcpCtx: TcpContext = {
    runtime: () => runtime,
    tls: () => {
      const c = client.credentials.get();
      return c ? { creds: c, roots: client.trust.get() ?? c.rootsPem } : undefined;
    },
    stats,
    outliers: clusters.outliers,
  };
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const servers: HttpListener[] = [];
  let dns: DnsServer | undefined;
  let inbound: Inbound | undefined;
  let outboundPort: number | undefined;
  try {
    if (opts.mode === "sidecar") {
      if (opts.appPort) {
        inbound = await startInbound({
          address: opts.address,
          port: opts.inboundPort,
          appPort: opts.appPort,
          service: opts.labels.app ? fqdn(opts.labels.app, opts.namespace) : "unknown",
          credentials: creds,
          roots: client.trust.get() ?? creds.rootsPem,
          stats,
          authorize: () => runtime?.authorize,
          mtlsMode: () => runtime?.config.inboundMtls,
          trustDomainAliases: () => runtime?.config.trustDomainAliases,
          pathNormalization: () => runtime?.config.pathNormalization,
          appProtocol: () => runtime?.config.inboundProtocol,
          authenticate: () => runtime?.jwt,
          tracer: () => tracer,
          waitForConfig,
          accessLog,
          limits,
        });
        node.inboundPort = inbound.port;
      }
      const outboundOpts = {
        name: "outbound",
        hostname: "127.0.0.1",
        port: opts.outboundPort,
        handler: outboundHandler(ctx, { table: (rt) => rt.outbound, port: 80 }),
        limits,
        // Apps using the sidecar as their HTTPS proxy: CONNECT tunnels (connect.ts).
        onConnect: outboundConnect({
          runtime: () => runtime,
          tls: () => {
            const c = client.credentials.get();
            return c ? { creds: c, roots: client.trust.get() ?? c.rootsPem } : undefined;
          },
          stats,
          outliers: clusters.outliers,
          accessLog,
          ownPorts: () => [outboundPort, inbound?.port, admin.addr.port],
          idleTimeoutMs: limits.idleTimeoutMs,
        }),
      };
      const outbound = opts.capture
        ? await serveCaptured({
          ...outboundOpts,
          routed: ctx,
          tcp: tcpCtx,
          count: (kind) => stats.captured(kind),
        })
        : await serveHttp(outboundOpts);
      servers.push(outbound);
      outboundPort = outbound.port;
      if (opts.capture) {
        dns = await startProxyDns({
          config: () => runtime?.config,
          namespace: opts.namespace,
          port: opts.dnsPort,
        });
      }
    }
  } catch (err) {
    client.close();
    await dns?.close();
    await inbound?.close();
    await Promise.all(servers.map((s) => s.shutdown()));
    await admin.shutdown();
    throw new Error(`can't open the proxy's listeners: ${(err as Error).message}`);
  }

  // A renewed certificate or a new trust bundle (root rotation) applies to new
  // connections; connections already open finish on what they started with.
  const applyTls = () => {
    const c = client.credentials.get();
    if (!c) return;
    const roots = client.trust.get() ?? c.rootsPem;
    upstreams.setCredentials(c, roots);
    inbound?.rotate(c, roots);
  };
  client.credentials.subscribe(applyTls);
  client.trust.subscribe(applyTls);

  // Gateway listeners follow the config: opened and closed as Gateway servers come and go
  // (and reopened when a port's protocol or certificate changes).
  const gatewayServers = new Map<string, { shutdown(): Promise<void> }>();
  const address = opts.gatewayAddress ?? "0.0.0.0";

  const credentialsDir = opts.credentialsDir ?? DEFAULT_CREDENTIALS_DIR;
  // A listener's key changes with its certificate files, so renewed files reopen it.
  const listenerKey = (l: GatewayListener) =>
    `${l.port}|${l.protocol}|${JSON.stringify(l.tls ?? {})}|${
      l.tls ? certStamp(l.tls, credentialsDir) : ""
    }`;
  // One reconcile at a time, each reading the config as it is when it runs.
  let reconciling: Promise<void> = Promise.resolve();
  const reconcileGateway = () => {
    reconciling = reconciling.then(reconcileGatewayNow, reconcileGatewayNow);
    return reconciling;
  };
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let certCheck: ReturnType<typeof setInterval> | undefined;
  const reconcileGatewayNow = async () => {
    const wanted = new Map((runtime?.config.listeners ?? []).map((l) => [listenerKey(l), l]));
    const closing = new Map<number, Promise<void>>();
    for (const [key, s] of gatewayServers) {
      if (!wanted.has(key)) {
        gatewayServers.delete(key);
        // Requests in flight finish in the background; a listener that reopens the same
        // port below waits (briefly) for the port to be released.
        const port = Number(key.split("|")[0]);
        const done = s.shutdown().catch((err) =>
          log.warn("gateway listener shutdown failed", { error: err })
        );
        closing.set(port, done);
        log.info("gateway listener closed", { port });
      }
    }
    let failed = false;
    for (const [key, l] of wanted) {
      if (gatewayServers.has(key)) continue;
      const port = l.port;
      const released = closing.get(port);
      if (released) {
        await Promise.race([released, new Promise((r) => setTimeout(r, PORT_RELEASE_WAIT_MS))]);
      }
      try {
        if (l.protocol === "TCP" || l.protocol === "TLS") {
          const s = await startTcpListener(
            address,
            port,
            tcpCtx,
            (rt) => rt.config.listeners.find((x) => x.port === port),
            true,
            limits,
          );
          gatewayServers.set(key, { shutdown: () => s.close() });
        } else {
          const tls = l.protocol === "HTTPS"
            ? readGatewayTls(l.tls ?? {}, credentialsDir)
            : undefined;
          const handler = gatewayHandler(ctx, port);
          if (tls?.ca) {
            // MUTUAL: clients must present a certificate (node:tls; Deno.serve can't ask).
            const material = { cert: tls.cert, key: tls.key, ca: tls.ca };
            gatewayServers.set(
              key,
              await serveMutualTls(address, port, material, handler, limits),
            );
          } else {
            const plainTls = tls ? { cert: tls.cert, key: tls.key } : undefined;
            gatewayServers.set(
              key,
              await serveHttp({
                name: `gateway:${port}`,
                hostname: address,
                port,
                handler,
                tls: plainTls,
                limits,
              }),
            );
          }
        }
        log.info("gateway listener open", { address: `${address}:${port}`, protocol: l.protocol });
      } catch (err) {
        failed = true;
        log.error("can't open gateway listener; retrying", {
          port,
          protocol: l.protocol,
          error: err,
        });
      }
    }
    // A listener that couldn't open (port in use, a certificate not there yet) is tried
    // again; certificates are also read again, so renewed files take effect.
    clearTimeout(retryTimer);
    if (failed) {
      retryTimer = setTimeout(() => void reconcileGateway(), GATEWAY_RETRY_MS);
      Deno.unrefTimer(retryTimer);
    }
  };
  if (opts.mode === "gateway") {
    client.config.subscribe(() => void reconcileGateway());
    // Certificates renewed on disk (cert-manager, a secret sync) are picked up within this.
    certCheck = setInterval(() => {
      if (runtime?.config.listeners.some((l) => l.tls)) void reconcileGateway();
    }, CERT_CHECK_MS);
    Deno.unrefTimer(certCheck);
  }

  // Sidecar egress listeners (a Sidecar resource's egress ports) follow the config too.
  const egressServers = new Map<string, { close(): Promise<void> }>();
  const reconcileEgress = async () => {
    const wanted = new Map(
      (runtime?.config.egressListeners ?? []).map((l) => [`${l.protocol}|${l.bind}|${l.port}`, l]),
    );
    for (const [key, s] of egressServers) {
      if (!wanted.has(key)) {
        egressServers.delete(key);
        await s.close();
        log.info("egress listener closed", { listener: key });
      }
    }
    for (const [key, l] of wanted) {
      if (egressServers.has(key)) continue;
      try {
        if (l.protocol === "HTTP") {
          const port = l.port;
          const table = (rt: Runtime) => rt.egress.get(port) ?? rt.outbound;
          const s = await serveHttp({
            name: `egress:${port}`,
            hostname: l.bind,
            port,
            handler: outboundHandler(ctx, { table, port }),
            limits,
          });
          egressServers.set(key, { close: () => s.shutdown() });
        } else {
          egressServers.set(
            key,
            await startTcpListener(l.bind, l.port, tcpCtx, undefined, false, limits),
          );
        }
        log.info("egress listener open", { address: `${l.bind}:${l.port}`, protocol: l.protocol });
      } catch (err) {
        log.error("can't open egress listener; is the port in use?", { listener: key, error: err });
      }
    }
  };
  if (opts.mode === "sidecar") {
    client.config.subscribe(() => void reconcileEgress());
    if (runtime) void reconcileEgress();
  }

  // A WorkloadGroup's readiness probe decides whether this workload takes traffic.
  const prober = opts.workloadGroup
    ? new HealthProber({
      probe: () => runtime?.config.healthProbe,
      report: (healthy, message) => client.reportHealth(healthy, message),
    })
    : undefined;
  prober?.start();
  const streaming = client.run(() => node);
  log.info("proxy started", {
    mode: opts.mode,
    identity: creds.spiffeId,
    inbound: inbound?.port,
    outbound: outboundPort,
    admin: admin.addr.port,
  });

  return {
    ports: { inbound: inbound?.port, outbound: outboundPort, admin: admin.addr.port },
    client,
    async close() {
      prober?.stop();
      clearInterval(certCheck);
      clearTimeout(retryTimer);
      client.close();
      tracer?.close();
      tracer = undefined;
      await streaming;
      await Promise.all([...servers, ...gatewayServers.values()].map((s) => s.shutdown()));
      await Promise.all([...egressServers.values()].map((s) => s.close()));
      await inbound?.close();
      await dns?.close();
      upstreams.close();
      h2Upstreams.close();
      await admin.shutdown();
    },
  };
}
