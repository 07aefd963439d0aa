import assert from "node:assert/strict";
import { KubeConfigError, loadKubeConfig, SERVICE_ACCOUNT_DIR } from "./config.ts";

const b64 = (s: string) => btoa(s);

/** A reader over an in-memory file system. */
function files(map: Record<string, string>) {
  return (p: string) =>
    p in map ? Promise.resolve(map[p]) : Promise.reject(new Error(`ENOENT ${p}`));
}

const KUBECONFIG = `apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: istio-system}
- name: other
  context: {cluster: c2, user: u2}
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority-data: ${b64("CA PEM")}}
- name: c2
  cluster: {server: "https://10.0.0.1", certificate-authority: ca.crt}
users:
- name: u1
  user: {token: abc}
- name: u2
  user: {client-certificate: certs/c.crt, client-key-data: ${b64("KEY PEM")}, tokenFile: tok}
- name: plugin
  user: {exec: {command: aws}}
`;

Deno.test("kubeconfig: the current context's server, CA and token; paths relative to the file", async () => {
  const read = files({
    "/k/config": KUBECONFIG,
    "/k/ca.crt": "CA2",
    "/k/certs/c.crt": "CERT PEM",
  });
  const dev = await loadKubeConfig({
    kubeconfig: "/k/config",
    readFile: read,
    env: () => undefined,
  });
  assert.equal(dev.server, "https://127.0.0.1:6443");
  assert.equal(dev.caPem, "CA PEM");
  assert.equal(dev.token, "abc");
  assert.equal(dev.namespace, "istio-system");
  assert.match(dev.source, /kubeconfig \/k\/config \(context dev\)/);
  const other = await loadKubeConfig({
    kubeconfig: "/k/config",
    context: "other",
    readFile: read,
    env: () => undefined,
  });
  assert.equal(other.caPem, "CA2");
  assert.equal(other.clientCert, "CERT PEM");
  assert.equal(other.clientKey, "KEY PEM");
  assert.equal(other.tokenFile, "/k/tok");
  assert.equal(other.namespace, "default");
});

Deno.test("kubeconfig: KUBECONFIG's first existing file, then in-cluster, then ~/.kube/config", async () => {
  const read = files({
    "/b/config": KUBECONFIG,
    [`${SERVICE_ACCOUNT_DIR}/token`]: "sa-token\n",
    [`${SERVICE_ACCOUNT_DIR}/ca.crt`]: "SA CA",
    [`${SERVICE_ACCOUNT_DIR}/namespace`]: "mesh-system",
    "/home/u/.kube/config": KUBECONFIG.replace("token: abc", "token: home"),
  });
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const viaList = await loadKubeConfig({
    readFile: read,
    env: env({ KUBECONFIG: "/a/config:/b/config" }),
  });
  assert.equal(viaList.token, "abc");
  const pod = await loadKubeConfig({
    readFile: read,
    env: env({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }),
  });
  assert.deepEqual(
    [pod.server, pod.token, pod.caPem, pod.namespace, pod.source],
    ["https://10.96.0.1:443", "sa-token", "SA CA", "mesh-system", "in-cluster"],
  );
  assert.equal(pod.tokenFile, `${SERVICE_ACCOUNT_DIR}/token`);
  const v6 = await loadKubeConfig({
    readFile: read,
    env: env({ KUBERNETES_SERVICE_HOST: "fd00::1" }),
  });
  assert.equal(v6.server, "https://[fd00::1]:443");
  const home = await loadKubeConfig({ readFile: read, env: env({ HOME: "/home/u" }) });
  assert.equal(home.token, "home");
});

Deno.test("kubeconfig: what can't be used is an error naming the file, the field and the fix", async () => {
  const read = files({ "/k/config": KUBECONFIG, "/bad": "a: [", "/noctx": "clusters: []" });
  const fails = async (o: Parameters<typeof loadKubeConfig>[0], re: RegExp) => {
    await assert.rejects(loadKubeConfig({ readFile: read, env: () => undefined, ...o }), (e) => {
      assert.ok(e instanceof KubeConfigError);
      assert.match(e.message, re);
      return true;
    });
  };
  await fails({ kubeconfig: "/nope" }, /kubeconfig \/nope: can't read it/);
  await fails({ kubeconfig: "/bad" }, /kubeconfig \/bad: not valid YAML/);
  await fails({ kubeconfig: "/noctx" }, /no current-context; .*use-context/);
  await fails(
    { kubeconfig: "/k/config", context: "gone" },
    /no context named "gone" \(have: dev, other\)/,
  );
  await fails(
    { kubeconfig: "/k/config", context: "other" },
    /certificate-authority \/k\/ca\.crt: ENOENT/,
  );
  const withPlugin = KUBECONFIG.replace("current-context: dev", "current-context: p").replace(
    "contexts:\n",
    "contexts:\n- name: p\n  context: {cluster: c1, user: plugin}\n",
  );
  await assert.rejects(
    loadKubeConfig({
      kubeconfig: "/p",
      readFile: files({ "/p": withPlugin }),
      env: () => undefined,
    }),
    /exec plugin, which mesh doesn't run; give it a token/,
  );
  await assert.rejects(
    loadKubeConfig({ readFile: read, env: () => undefined }),
    /no Kubernetes API server configured: pass --kubeconfig/,
  );
  await assert.rejects(
    loadKubeConfig({ readFile: read, env: (n) => (n === "KUBECONFIG" ? "/x:/y" : undefined) }),
    /KUBECONFIG=\/x:\/y: none of its files exists/,
  );
});
