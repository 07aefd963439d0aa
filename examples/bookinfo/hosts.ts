/**
 * Bookinfo as a fleet (`deno task demo --hosts`, and `tests/bookinfo_hosts_test.ts`): every
 * workload on a host of its own (a network namespace with its own address, tests/topology.ts),
 * the control plane and the ingress gateway on theirs. Each workload host runs as a VM would:
 * `mesh iptables --redirect-dns` captures its traffic, and its sidecar runs with `--capture`
 * (with group 1337, which the rules exempt), so the unmodified apps call
 * `http://details:9080/...` with no proxy variables: their DNS is answered by the sidecar,
 * their connections redirected to it and carried to the other hosts over mTLS.
 *
 * @example
 * ```ts
 * const t = await Topology.create({ hosts: BOOKINFO_HOSTS });
 * const fleet = await startBookinfoFleet(t, { dir });
 * await fleet.ready(); // the product page, through the gateway, with every service behind it
 * ```
 * @module
 */
import { denoRunArgs } from "../../util/v8_flags.ts";
import type { Host, Topology } from "../../tests/topology.ts";
import type { Proc } from "../../tests/helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const APPS = `${ROOT}/examples/bookinfo/apps`;
const CONFIG = `${ROOT}/examples/bookinfo/config`;

/** The workloads, one host each. */
export const WORKLOADS = [
  { host: "productpage", app: "productpage", version: "v1", script: "productpage.ts" },
  { host: "details", app: "details", version: "v1", script: "details.ts" },
  { host: "ratings", app: "ratings", version: "v1", script: "ratings.ts" },
  { host: "reviews-v1", app: "reviews", version: "v1", script: "reviews.ts" },
  { host: "reviews-v2", app: "reviews", version: "v2", script: "reviews.ts" },
  { host: "reviews-v3", app: "reviews", version: "v3", script: "reviews.ts" },
] as const;

/** Every host of the fleet: the control plane's, the gateway's, then the workloads'. */
export const BOOKINFO_HOSTS = ["control", "gateway", ...WORKLOADS.map((w) => w.host)];

/** The group `mesh iptables` exempts: the sidecars run with it. */
const PROXY_GID = 1337;
const APP_PORT = 9080;
/** The gateway's port (examples/bookinfo/config/gateway.yaml). */
export const GATEWAY_PORT = 8080;

/** A started fleet. */
export interface BookinfoFleet {
  /** `http://<gateway host>:8080/productpage`. */
  url: string;
  configDir: string;
  procs: Proc[];
  /** Resolves once the product page came back whole (bounded by `timeoutMs`). */
  ready(timeoutMs?: number): Promise<string>;
  /** The product page fetched from the control host (outside the mesh), as a client would. */
  productPage(): Promise<string>;
}

/** Starts the control plane, the workloads and the gateway on `t`'s hosts. */
export async function startBookinfoFleet(
  t: Topology,
  o: { dir: string; extraConfig?: Record<string, string> },
): Promise<BookinfoFleet> {
  const configDir = `${o.dir}/config`;
  const dataDir = `${o.dir}/data`;
  await Deno.mkdir(configDir, { recursive: true });
  for (const e of Deno.readDirSync(CONFIG)) {
    if (e.isFile && e.name.endsWith(".yaml")) {
      await Deno.copyFile(`${CONFIG}/${e.name}`, `${configDir}/${e.name}`);
    }
  }
  for (const [name, text] of Object.entries(o.extraConfig ?? {})) {
    await Deno.writeTextFile(`${configDir}/${name}`, text);
  }
  const procs: Proc[] = [];
  const control = t.host("control");
  const { proc: cp, port } = await control.control({ configDir, dataDir });
  procs.push(cp);
  const controlUrl = `https://${control.address}:${port}`;

  const token = (namespace: string, serviceAccount: string) =>
    control.token({ dataDir, namespace, serviceAccount });

  await Promise.all(WORKLOADS.map(async (w) => {
    const h = t.host(w.host);
    const ipt = await h.meshRun([
      "iptables",
      `--proxy-uid=${PROXY_GID}`,
      `--proxy-gid=${PROXY_GID}`,
      "--redirect-dns",
      "--dns-servers=*",
    ]);
    if (ipt.code !== 0) throw new Error(`mesh iptables on ${w.host}: ${ipt.stderr}`);
    const name = `${w.app}-${w.version}`;
    const app = h.spawn(name, Deno.execPath(), [
      "run",
      "--allow-net",
      "--allow-env",
      `${APPS}/${w.script}`,
      `--port=${APP_PORT}`,
      ...(w.app === "reviews" ? [`--version=${w.version}`] : []),
    ], { POD_NAME: name });
    procs.push(app);
    const sidecar = h.spawn(`${name}-sidecar`, "setpriv", [
      `--regid=${PROXY_GID}`,
      "--clear-groups",
      Deno.execPath(),
      ...denoRunArgs(`${ROOT}/main.ts`),
      "start",
      "--mode=proxy",
      `--control=${controlUrl}`,
      `--token-file=${await token("default", `bookinfo-${w.app}`)}`,
      "--namespace=default",
      `--service-account=bookinfo-${w.app}`,
      `--labels=app=${w.app},version=${w.version}`,
      `--workload-name=${name}`,
      `--address=${h.address}`,
      `--app-port=${APP_PORT}`,
      "--inbound-port=15006",
      "--outbound-port=15001",
      "--admin-port=15000",
      "--capture",
      "--dns-port=15053",
    ]);
    procs.push(sidecar);
    await Promise.all([
      app.waitFor(/listening on/, 30_000),
      sidecar.waitFor(/proxy started/, 30_000),
    ]);
  }));

  const gw = t.host("gateway");
  const gateway = gw.mesh("istio-ingressgateway", [
    "start",
    "--mode=gateway",
    `--control=${controlUrl}`,
    `--token-file=${await token("istio-system", "istio-ingressgateway")}`,
    `--address=${gw.address}`,
    `--gateway-address=${gw.address}`,
    "--admin-port=0",
  ]);
  procs.push(gateway);
  await gateway.waitFor(/gateway listener open/, 30_000);

  const url = `http://${gw.address}:${GATEWAY_PORT}/productpage`;
  const productPage = async () => {
    const r = await control.run(["curl", "-s", "--max-time", "10", url]);
    return r.stdout;
  };
  return {
    url,
    configDir,
    procs,
    productPage,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      for (let delay = 50;; delay = Math.min(delay * 2, 500)) {
        last = await productPage();
        if (last.includes("Reviews served by") && !last.includes("currently unavailable")) {
          return last;
        }
        if (Date.now() > deadline) {
          throw new Error(`${url} did not serve the whole page in time:\n${last.slice(0, 2000)}`);
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    },
  };
}

/** The sidecar stats of a workload host (from inside it: the admin port is its loopback's). */
export async function sidecarStats(h: Host): Promise<string> {
  const r = await h.run([
    "curl",
    "-s",
    "--max-time",
    "5",
    "http://127.0.0.1:15000/stats/prometheus",
  ]);
  return r.stdout;
}
