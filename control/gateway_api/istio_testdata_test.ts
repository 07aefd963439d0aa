/**
 * Parity with istiod on its own conversion cases: every input of Istio's
 * pilot/pkg/config/kube/gateway/testdata is converted (in Istio's form: `istioForm`) and
 * compared with Istio's golden Gateways, VirtualServices and status, object by object, after the
 * normalizations below. The differences left are listed per case with the reason (each a
 * deliberate difference documented in docs/compatibility.md); anything else fails.
 *
 * Read from a git copy of istio/istio (`$MESH_ISTIO_GIT`, default /work/.mirror/istio+istio/repo);
 * skipped with one line when it isn't there.
 *
 * Normalizations: the CRD defaults a real apiserver applies (a rule without matches has the
 * match `PathPrefix /`; Istio's tests skip defaulting), durations compared by value, Istio's
 * credential names (`kubernetes-gateway://ns/name`) in mesh's form, the passthrough mode
 * written out, a Gateway's own Programmed condition (Istio's comes from its Service, mesh has
 * none), cipher suites (mesh's proxy doesn't set them).
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseResources } from "../../api/resources.ts";
import { durationMs } from "../../api/schemas/common.ts";
import { convertGatewayApi } from "./convert.ts";
import { credentialName } from "./convert_gateway.ts";
import { sortRoutes } from "./http_rules.ts";

const GIT = (() => {
  try {
    return Deno.env.get("MESH_ISTIO_GIT") ?? "/work/.mirror/istio+istio/repo";
  } catch {
    return "/work/.mirror/istio+istio/repo";
  }
})();
const DIR = "pilot/pkg/config/kube/gateway/testdata";

async function git(...args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", GIT, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

const available = (await git("rev-parse", "HEAD")) !== undefined;
if (!available) console.log(`skipped: Istio's git copy not found at ${GIT} (set MESH_ISTIO_GIT)`);

/** The services of Istio's test (conversion_test.go), as hosts. */
const HOSTS = [
  "istio-ingressgateway.istio-system",
  "httpbin.default",
  "httpbin-apple.apple",
  "httpbin-banana.banana",
  "httpbin-second.default",
  "httpbin-wildcard.default",
  "foo-svc.default",
  "httpbin-other.default",
  "example.default",
  "echo.default",
  "httpbin.cert",
  "my-svc.service",
  "a-example.allowed-1",
  "a-example.allowed-2",
  "b-example.allowed-1",
  "svc2.allowed-1",
  "svc2.allowed-2",
  "svc1.allowed-1",
  "svc3.allowed-2",
  "svc4.default",
  "httpbin.group-namespace1",
  "httpbin.group-namespace2",
  "httpbin-zero.default",
  "httpbin.istio-system",
  "httpbin-mirror.default",
  "httpbin-foo.default",
  "httpbin-alt.default",
  "istiod.istio-system",
  "echo.istio-system",
  "httpbin-bad.default",
  "echo-1.default",
  "echo-2.default",
  "echo-port.default",
  "not-found.default",
].map((h) => `${h}.svc.domain.suffix`).concat([
  "example.com",
  "google.com",
  "secure.example.net",
  "cross.example.net",
  "plaintext.example.net",
  "tcp.example.net",
]);

const SERVICES = HOSTS.map((h, i) =>
  `---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: test-service-${i}, namespace: test-services}\n` +
  `spec: {hosts: [${h}], ports: [{number: 80, name: http}], resolution: STATIC}\n`
).join("");

// deno-lint-ignore no-explicit-any
type Any = any;

const sortedJson = (v: unknown): string =>
  JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort())
        : x,
  );

/** Istio's route with the apiserver's defaults and durations as numbers. */
function normalizeHttp(h: Any): Any {
  const out = { ...h };
  out.match = (h.match?.length ? h.match : [{}]).map((
    m: Any,
  ) => (m.uri ? m : { ...m, uri: { prefix: "/" } }));
  if (out.timeout) out.timeout = durationMs(out.timeout);
  if (out.retries) {
    out.retries = { ...out.retries };
    for (const k of ["backoff", "perTryTimeout"]) {
      if (out.retries[k]) out.retries[k] = durationMs(out.retries[k]);
    }
  }
  if (out.corsPolicy?.maxAge) {
    out.corsPolicy = { ...out.corsPolicy, maxAge: durationMs(out.corsPolicy.maxAge) };
  }
  return out;
}

function normalizeTls(tls: Any, ns: string): Any {
  if (!tls) return undefined;
  const out = { ...tls };
  out.mode ??= "PASSTHROUGH";
  delete out.insecureSkipVerify;
  delete out.cipherSuites;
  const cred = (s: string) => {
    const m = /^(?:kubernetes-gateway|configmap):\/\/([^/]+)\/(.+?)(-cacert)?$/.exec(s);
    return m ? credentialName(m[1], m[2], ns) : s;
  };
  if (out.credentialName) out.credentialName = cred(out.credentialName);
  if (out.credentialNames) {
    out.credentialName = cred(out.credentialNames[0]);
    delete out.credentialNames; // mesh serves the first (a note says so)
  }
  if (out.caCertCredentialName) out.caCertCredentialName = cred(out.caCertCredentialName);
  return out;
}

/** mesh's invalid destinations (host "", or the placeholder of TCP) as Istio's `{}`. */
function istioDestinations(spec: Any): Any {
  const fix = (d: Any) =>
    d.destination?.host === "" || d.destination?.subset === "invalid-backend"
      ? { ...d, destination: {} }
      : d;
  const fixRoutes = (rs: Any[] | undefined) =>
    rs?.map((r) => (r.route ? { ...r, route: r.route.map(fix) } : r));
  return {
    ...spec,
    http: fixRoutes(spec.http),
    tcp: fixRoutes(spec.tcp),
    tls: fixRoutes(spec.tls),
  };
}

/** One line per object: what routing and status depend on. */
function summarize(kind: string, ns: string, name: string, spec: Any): string {
  if (kind === "Gateway") {
    return `Gateway ${ns}/${name} ` + sortedJson(spec.servers.map((s: Any) => ({
      port: s.port.number,
      protocol: s.port.protocol,
      hosts: s.hosts,
      tls: normalizeTls(s.tls, ns),
    })));
  }
  let http = (spec.http ?? []).map(normalizeHttp);
  if ((spec.http ?? []).some((h: Any) => !h.match?.length || h.match.some((m: Any) => !m.uri))) {
    http = sortRoutes(http);
  }
  return `VirtualService ${ns}/${name} ` +
    sortedJson({
      hosts: spec.hosts,
      gateways: spec.gateways,
      http,
      tcp: spec.tcp,
      tls: spec.tls,
      exportTo: spec.exportTo,
    });
}

function conditions(cs: Any[] | undefined, skipProgrammed = false): string {
  return (cs ?? []).filter((c) => !(skipProgrammed && c.type === "Programmed"))
    .map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`).sort().join("; ");
}

function summarizeStatus(kind: string, ns: string, name: string, st: Any): string {
  const parts = [`${kind} ${ns}/${name}: ${conditions(st.conditions, kind === "Gateway")}`];
  for (const l of st.listeners ?? []) {
    parts.push(
      `listener ${l.name} attached=${l.attachedRoutes} ${sortedJson(l.supportedKinds ?? [])} ${
        conditions(l.conditions)
      }`,
    );
  }
  for (const p of st.parents ?? []) {
    parts.push(`parent ${sortedJson(p.parentRef)} ${conditions(p.conditions)}`);
  }
  return parts.join("\n  ");
}

function documents(text: string): Any[] {
  return parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d);
}

const UPPER = "routes named with capitals are refused, as Kubernetes refuses them";

/** Objects that differ from Istio's output on purpose, by case, with why. */
const EXPECTED: Record<string, Record<string, string>> = {
  http: {
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~multi-infpool.domain.example":
      "InferencePool",
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~infpool.domain.example":
      "InferencePool",
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~infpool-multi.domain.example":
      "InferencePool",
    "HTTPRoute default/multi-route-infpool-1": "InferencePool",
    "HTTPRoute default/multi-route-infpool-2": "InferencePool",
    "HTTPRoute default/multiple-inferencepool-backend-refs": "InferencePool",
  },
  invalid: {
    "VirtualService default/default~httpbin.default.svc.domain.suffix": UPPER,
    "VirtualService default/default~not-found.default.svc.domain.suffix": UPPER,
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~first.domain.example":
      UPPER,
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~second.domain.example":
      UPPER,
    "VirtualService default/istio-system~gateway~istio-autogenerated-k8s-gateway~default~third.domain.example":
      UPPER,
    "HTTPRoute default/invalid-backendRef-hostname": UPPER,
    "HTTPRoute default/invalid-backendRef-kind": UPPER,
    "HTTPRoute default/invalid-backendRef-mirror": UPPER,
    "HTTPRoute default/invalid-backendRef-mixed": UPPER,
    "HTTPRoute default/invalid-backendRef-notfound": UPPER,
    "HTTPRoute default/invalid-backendRef-serviceimport": UPPER,
    "HTTPRoute default/invalid-parentRef-port": UPPER,
    "HTTPRoute default/invalid-parentRef-service": UPPER,
    "HTTPRoute default/invalid-parentRef-service-entry": UPPER,
    "Gateway istio-system/invalid-cert-malformed~istio-autogenerated-k8s-gateway~default":
      "Secrets are not read",
    "Gateway istio-system/invalid-cert-notfound~istio-autogenerated-k8s-gateway~default":
      "Secrets are not read",
    "Gateway istio-system/invalid-frontendvalidation-nonexistent~istio-autogenerated-k8s-gateway~default":
      "ConfigMaps are not read",
    "Gateway istio-system/invalid-cert-malformed": "Secrets are not read",
    "Gateway istio-system/invalid-cert-notfound": "Secrets are not read",
    "Gateway istio-system/invalid-frontendvalidation-nonexistent": "ConfigMaps are not read",
    "Gateway istio-system/gateway": UPPER,
  },
  status: {
    "HTTPRoute istio-system/existing-istio-first": "no earlier status to keep",
    "HTTPRoute istio-system/existing-istio-last": "no earlier status to keep",
    "HTTPRoute istio-system/stale-istio-reference": "no earlier status to keep",
    "HTTPRoute istio-system/stale-other-reference": "no earlier status to keep",
  },
};

/** Cases of features mesh doesn't implement (ListenerSets, waypoints, backend policies, ...). */
const SKIPPED =
  /^(listenerset|backend-|east-west|eastwest|waypoint|foreign-waypoint|reference-policy-inferencepool|xbackend|mix-backend-policy|mcs|gateway-invalid-parameters-ref|frontend-tls|benchmark)/;

Deno.test({
  name: "istiod's Gateway API conversion cases: the same Gateways, VirtualServices and status",
  ignore: !available,
  fn: async () => {
    const listing = (await git("ls-tree", "--name-only", "HEAD", `${DIR}/`)) ?? "";
    const cases = listing.split("\n").map((p) => p.slice(DIR.length + 1)).filter((f) =>
      f.endsWith(".yaml") && !SKIPPED.test(f)
    ).map((f) => f.slice(0, -5));
    const failures: string[] = [];
    let objects = 0;
    let agree = 0;
    for (const name of cases) {
      const input = (await git("show", `HEAD:${DIR}/${name}.yaml`))!;
      const golden = await git("show", `HEAD:${DIR}/${name}.yaml.golden`);
      const goldenStatus = await git("show", `HEAD:${DIR}/${name}.status.yaml.golden`);
      if (golden === undefined || goldenStatus === undefined) continue;
      const parsed = parseResources(`${input}\n${SERVICES}`, `${name}.yaml`);
      const namespaceLabels = Object.fromEntries(
        [...new Set(parsed.resources.map((r) => r.metadata.namespace))].filter((n) =>
          n !== "test-services"
        ).map((
          n,
        ) => [n, { "istio.io/test-name-part": n.split("-")[0] }]),
      );
      const out = convertGatewayApi(parsed.resources, {
        istioForm: true,
        domainSuffix: "domain.suffix",
        namespaceLabels,
      });
      const mine = new Map<string, string>();
      for (const r of [...out.gateways, ...out.virtualServices]) {
        mine.set(
          `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`,
          summarize(r.kind, r.metadata.namespace, r.metadata.name, istioDestinations(r.spec)),
        );
      }
      for (const s of out.statuses) {
        mine.set(
          `${s.kind} ${s.namespace ?? ""}/${s.name}`,
          summarizeStatus(s.kind, s.namespace ?? "", s.name, s.status),
        );
      }
      const theirs = new Map<string, string>();
      for (const d of documents(golden)) {
        theirs.set(
          `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`,
          summarize(d.kind, d.metadata.namespace, d.metadata.name, d.spec),
        );
      }
      for (const d of documents(goldenStatus)) {
        if (d.kind === "InferencePool" || d.kind === "BackendTLSPolicy") continue;
        theirs.set(
          `${d.kind} ${d.metadata.namespace ?? ""}/${d.metadata.name}`,
          summarizeStatus(d.kind, d.metadata.namespace ?? "", d.metadata.name, d.status),
        );
      }
      const expected = EXPECTED[name] ?? {};
      for (const key of new Set([...mine.keys(), ...theirs.keys()])) {
        objects++;
        const same = mine.get(key) === theirs.get(key);
        if (same) agree++;
        if (same === (key in expected)) {
          failures.push(
            `${name}: ${key}${same ? " agrees but is listed as a difference" : ""}\n    istio: ${
              theirs.get(key)
            }\n    mesh:  ${mine.get(key)}`,
          );
        }
      }
    }
    console.log(`${cases.length} cases, ${objects} objects, ${agree} the same as Istio's`);
    assert.ok(cases.length >= 20, `only ${cases.length} cases`);
    assert.deepEqual(failures, []);
  },
});
