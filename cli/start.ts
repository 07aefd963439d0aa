/**
 * `mesh start --mode=control|proxy|gateway`: runs the control plane or a
 * proxy until SIGINT/SIGTERM. The mode's modules are loaded on demand, so a
 * proxy doesn't carry the control plane's code (or memory).
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { type Level, setLogLevel } from "../util/log.ts";
import { checkIdentityFlags, common, MODES, waitForSignal } from "./common.ts";
import { CA_KEY_TYPES, type CaKeyType } from "../ca/ca_key_types.ts";

/** Flags of control mode. */
export const controlFlags: FlagSpecs = {
  mode: { type: "string", values: MODES, help: "what to run", required: true },
  "config-source": {
    type: "list",
    default: ["file"],
    help: "where config comes from: file (--config-dir), kube (the Kubernetes API), or file,kube",
  },
  "config-dir": {
    type: "string",
    help: "directory of Istio YAML to serve (watched); needed by the file source",
  },
  kubeconfig: {
    type: "string",
    help:
      "kubeconfig of the kube source (default $KUBECONFIG, the pod's service account, ~/.kube/config)",
  },
  context: {
    type: "string",
    help: "kubeconfig context of the kube source (default its current one)",
  },
  "write-status": {
    type: "bool",
    default: false,
    help: "write each Istio resource's status (validation messages, Reconciled) through the " +
      "Kubernetes API, as istiod's PILOT_ENABLE_STATUS does; needs the kube source",
  },
  "data-dir": { type: "string", default: "./mesh-data", help: "where the CA and token keys live" },
  listen: {
    type: "string",
    default: "127.0.0.1:15012",
    help: "host:port of the TLS push and signing port",
  },
  "admin-port": {
    type: "port",
    default: 15014,
    help: "admin HTTP port on 127.0.0.1 (/ready, /debug/syncz, /debug/configz, /apis/v1/...)",
  },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  "cert-ttl": {
    type: "duration",
    default: "24h",
    help: "workload certificate lifetime (at most 90 days)",
  },
  "outbound-traffic-policy": {
    type: "string",
    values: ["ALLOW_ANY", "REGISTRY_ONLY"],
    default: "ALLOW_ANY",
    help: "what sidecars do with hosts outside the registry",
  },
  san: {
    type: "list",
    default: [],
    help: "extra DNS names or IPs for the control plane's certificate",
  },
  "ca-key-type": {
    type: "string",
    values: CA_KEY_TYPES,
    default: "ec-p256",
    help: "key type of a root created on first start",
  },
  "ca-plugin-dir": {
    type: "string",
    help: "run as an intermediate from Istio's plug-in CA files in DIR " +
      "(ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)",
  },
  "debounce-after": {
    type: "duration",
    default: "100ms",
    min: 0,
    max: 60_000,
    help: "quiet time after a change before pushing (Istio's PILOT_DEBOUNCE_AFTER)",
  },
  "debounce-max": {
    type: "duration",
    default: "10s",
    min: 1,
    max: 600_000,
    help: "longest wait from a burst's first change to its push (Istio's PILOT_DEBOUNCE_MAX)",
  },
  "workload-entry-grace": {
    type: "duration",
    default: "10s",
    min: 0,
    max: 86_400_000,
    help: "how long a WorkloadGroup workload stays registered after its proxy is gone " +
      "(Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD)",
  },
  "sign-rate": {
    type: "int",
    default: 10,
    help: "certificates per identity per second (burst 20); more are refused with 429",
  },
  ...common,
};

/** Flags of proxy and gateway modes. */
export const proxyFlags: FlagSpecs = {
  mode: { type: "string", values: MODES, help: "what to run", required: true },
  control: { type: "string", default: "https://127.0.0.1:15012", help: "URL of the control plane" },
  "token-file": {
    type: "string",
    required: true,
    help: "file with a bootstrap token from `mesh token create`",
  },
  "root-cert": {
    type: "string",
    help: "PEM file with the mesh root (default: trust the root pinned in the token)",
  },
  namespace: { type: "string", default: "default", help: "workload namespace" },
  "service-account": { type: "string", default: "default", help: "workload service account" },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  labels: { type: "labels", default: "", help: "workload labels, e.g. app=reviews,version=v1" },
  "workload-name": {
    type: "string",
    help: "name the workload registers under (default app-version)",
  },
  locality: {
    type: "string",
    help: "where the workload runs, region/zone/subzone (zone and subzone optional): its " +
      "endpoints' locality, and what locality load balancing prefers",
  },
  "cert-dir": {
    type: "string",
    help: "keep the certificate here (0600) so a restart renews with it, not the token " +
      "(VMs: /var/lib/mesh/certs)",
  },
  "workload-group": {
    type: "string",
    help: "WorkloadGroup (in --namespace) to register under: its template's labels apply " +
      "and its probe decides when the workload takes traffic (sidecar)",
  },
  address: {
    type: "string",
    default: "127.0.0.1",
    help: "address peers reach this workload at; inbound binds here",
  },
  "app-port": {
    type: "port",
    default: 0,
    help: "port of the local application (sidecar; 0 = no inbound)",
  },
  "inbound-port": { type: "port", default: 15006, help: "mTLS inbound listener port" },
  "outbound-port": {
    type: "port",
    default: 15001,
    help: "outbound listener port on 127.0.0.1 (use as HTTP_PROXY)",
  },
  "admin-port": {
    type: "port",
    default: 15000,
    help: "admin port on 127.0.0.1 (/ready, /config_dump, /stats/prometheus)",
  },
  capture: {
    type: "bool",
    default: false,
    help: "transparent capture (with `mesh iptables`): route redirected connections by their " +
      "original destination and answer DNS for mesh names (sidecar)",
  },
  "dns-port": {
    type: "port",
    default: 15053,
    help: "DNS proxy port on 127.0.0.1 with --capture (`mesh iptables --redirect-dns`)",
  },
  "gateway-address": {
    type: "string",
    default: "0.0.0.0",
    help: "address gateway listeners bind to (gateway)",
  },
  "credentials-dir": {
    type: "string",
    default: "/etc/mesh/credentials",
    help:
      "where Gateway credentialName certificates live: <dir>/<name>/tls.crt and tls.key (gateway)",
  },
  "max-connections": {
    type: "int",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    help: "connections each listener holds at once; more are closed when accepted",
  },
  "request-headers-timeout": {
    type: "duration",
    default: "10s",
    min: 100,
    max: 3_600_000,
    help: "a request head must arrive whole this long after its first byte (and a TLS handshake)",
  },
  "idle-timeout": {
    type: "duration",
    default: "60s",
    min: 100,
    max: 86_400_000,
    help: "a connection without a request in flight closes after this long idle",
  },
  "max-request-headers-kb": {
    type: "int",
    default: 60,
    min: 1,
    max: 8192,
    help: "largest request head in KiB, request line included; more is answered 431",
  },
  "max-request-headers": {
    type: "int",
    default: 100,
    min: 1,
    max: 10_000,
    help: "most header lines in a request; more is answered 431",
  },
  ...common,
};

/** Help text of `mesh start`. */
export function startHelp(): string {
  return `mesh start --mode=control|proxy|gateway [flags]\n\nControl mode flags:\n${
    flagHelp(controlFlags)
  }\n\nProxy and gateway mode flags:\n${flagHelp(proxyFlags)}`;
}

/** Runs `mesh start`. */
export async function startCommand(argv: string[]): Promise<number> {
  const modeArg = argv.find((a) => a.startsWith("--mode"));
  let mode = modeArg?.includes("=") ? modeArg.split("=")[1] : argv[argv.indexOf("--mode") + 1];
  if (!modeArg) mode = Deno.env.get("MESH_MODE") ?? "";
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(startHelp());
    return 0;
  }
  if (!MODES.includes(mode as typeof MODES[number])) {
    throw new UsageError(
      `--mode ${JSON.stringify(mode ?? "")}: must be one of control, proxy, gateway`,
    );
  }
  if (mode === "control") {
    const { flags, args } = parseFlags(argv, controlFlags);
    if (args.length) {
      throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (see --help)`);
    }
    setLogLevel(flags.logLevel as Level);
    const { startControl } = await import("../control/control.ts");
    const { checkSources, openConfigSources } = await import("../control/store/sources.ts");
    const sourceOpts = {
      sources: flags.configSource as string[],
      configDir: flags.configDir as string | undefined,
      kubeconfig: flags.kubeconfig as string | undefined,
      context: flags.context as string | undefined,
    };
    try {
      checkSources(sourceOpts);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const store = await openConfigSources(sourceOpts);
    // `--write-status`: a client of its own for the status writes (the store keeps its own).
    let statusKube: import("../control/kube/client.ts").KubeClient | undefined;
    if (flags.writeStatus === true) {
      if (!sourceOpts.sources.includes("kube")) {
        const { logger } = await import("../util/log.ts");
        logger("control").warn(
          "--write-status needs --config-source=kube (file resources have no status); ignored",
        );
      } else {
        const { loadKubeConfig } = await import("../control/kube/config.ts");
        const { KubeClient } = await import("../control/kube/client.ts");
        statusKube = new KubeClient(
          await loadKubeConfig({ kubeconfig: sourceOpts.kubeconfig, context: sourceOpts.context }),
        );
      }
    }
    const control = await startControl({
      store,
      dataDir: flags.dataDir as string,
      listen: flags.listen as string,
      adminPort: flags.adminPort as number,
      trustDomain: flags.trustDomain as string,
      workloadTtlMs: flags.certTtl as number,
      outboundTrafficPolicy: flags.outboundTrafficPolicy as "ALLOW_ANY",
      sans: flags.san as string[],
      caKeyType: flags.caKeyType as CaKeyType,
      caPluginDir: flags.caPluginDir as string | undefined,
      signRate: flags.signRate as number,
      debounce: debounceOf(flags.debounceAfter as number, flags.debounceMax as number),
      groupGraceMs: flags.workloadEntryGrace as number,
      ...(statusKube ? { writeStatus: { kube: statusKube } } : {}),
    });
    await waitForSignal();
    await control.close();
    statusKube?.close();
    await store.close();
    return 0;
  }
  const { flags, args } = parseFlags(argv, proxyFlags);
  if (args.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (see --help)`);
  }
  setLogLevel(flags.logLevel as Level);
  const gateway = mode === "gateway";
  let labels = flags.labels as Record<string, string>;
  if (gateway && Object.keys(labels).length === 0) {
    labels = { istio: "ingressgateway", app: "istio-ingressgateway" };
  }
  const explicit = (name: string) =>
    argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)) ||
    Deno.env.get(`MESH_${name.toUpperCase().replace(/-/g, "_")}`) !== undefined;
  checkIdentityFlags(flags.namespace as string, flags.serviceAccount as string);
  const locality = flags.locality as string | undefined;
  if (locality) checkLocality(locality);
  if (gateway && flags.capture === true) {
    throw new UsageError(
      "--capture is for sidecars (--mode=proxy); a gateway has no app to capture",
    );
  }
  const { startProxy } = await import("../proxy/proxy.ts");
  const proxy = await startProxy({
    mode: gateway ? "gateway" : "sidecar",
    control: flags.control as string,
    tokenFile: flags.tokenFile as string,
    rootCertFile: flags.rootCert as string | undefined,
    namespace: gateway && !explicit("namespace") ? "istio-system" : flags.namespace as string,
    serviceAccount: gateway && !explicit("service-account")
      ? "istio-ingressgateway"
      : flags.serviceAccount as string,
    trustDomain: flags.trustDomain as string,
    labels,
    address: flags.address as string,
    workloadName: flags.workloadName as string | undefined,
    workloadGroup: flags.workloadGroup as string | undefined,
    certDir: flags.certDir as string | undefined,
    appPort: (flags.appPort as number) || undefined,
    inboundPort: flags.inboundPort as number,
    outboundPort: flags.outboundPort as number,
    adminPort: flags.adminPort as number,
    gatewayAddress: flags.gatewayAddress as string,
    credentialsDir: flags.credentialsDir as string,
    capture: flags.capture === true,
    dnsPort: flags.dnsPort as number,
    ...(locality ? { locality } : {}),
    limits: {
      maxConnections: flags.maxConnections as number,
      requestHeadersTimeoutMs: flags.requestHeadersTimeout as number,
      idleTimeoutMs: flags.idleTimeout as number,
      maxRequestHeadersBytes: (flags.maxRequestHeadersKb as number) * 1024,
      maxRequestHeaders: flags.maxRequestHeaders as number,
    },
  });
  await waitForSignal();
  await proxy.close();
  return 0;
}

/** `--locality`: `region`, `region/zone` or `region/zone/subzone`, no empty part, no `*`. */
export function checkLocality(locality: string): void {
  const parts = locality.split("/");
  if (parts.length > 3 || parts.some((p) => p === "" || /[*\s]/.test(p))) {
    throw new UsageError(
      `--locality ${JSON.stringify(locality)}: use region, region/zone or region/zone/subzone ` +
        "(no empty parts, spaces or '*'), like us-east1/us-east1-b",
    );
  }
}

/** `--debounce-after` and `--debounce-max`, checked against each other. */
function debounceOf(afterMs: number, maxMs: number): { afterMs: number; maxMs: number } {
  if (maxMs < afterMs) {
    throw new UsageError(
      `--debounce-max ${maxMs}ms is shorter than --debounce-after ${afterMs}ms; make it at least as long`,
    );
  }
  return { afterMs, maxMs };
}
