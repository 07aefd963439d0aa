/**
 * Seeded mutation fuzzing of {@linkcode parseResources}: valid resources of every kind (and
 * Istio's Bookinfo samples) are mutated — fields dropped, types changed, unknown keys inserted,
 * deep nesting, ~1 MB strings, alias bombs, random bytes — and each result must be read without
 * throwing, without hanging, in bounded memory, with well-formed diagnostics. The work is bounded
 * by the number of cases, not by time: a case only fails on time when it takes so long
 * ({@linkcode HANG_MS}) that it is a hang, never because the machine is loaded.
 *
 * Reproducible: the PRNG is seeded (`MESH_FUZZ_SEED` overrides the seed, `MESH_FUZZ_CASES` the
 * number of cases); a failure names the case, its mutations and the start of its input.
 */
import assert from "node:assert/strict";
import { type Diagnostic, formatDiagnostic } from "./diagnostic.ts";
import { KINDS, parseResources } from "./resources.ts";
import { parseYamlDocuments, stringifyYaml } from "../util/yaml.ts";
import { NETWORKING, withoutSamples } from "../tests/samples.ts";

const SEED = Number(Deno.env.get("MESH_FUZZ_SEED") ?? 0x5eed);
const CASES = Number(Deno.env.get("MESH_FUZZ_CASES") ?? 2500);
/** One case taking this long is a hang (a pathological input), not a slow machine. */
const HANG_MS = 30_000;
/** Allowed growth of the V8 heap over the run. */
const HEAP_GROWTH = 200 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32) and helpers

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

class Random {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------------------------
// Seeds: one valid resource of each kind, plus Istio's samples

const meta = (name: string) => ({ name, namespace: "shop" });
const SEEDS: Json[] = [
  {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: meta("reviews"),
    spec: {
      hosts: ["reviews"],
      gateways: ["mesh", "istio-system/edge"],
      http: [{
        name: "canary",
        match: [{ uri: { prefix: "/r" }, headers: { "end-user": { regex: "^j.*" } }, port: 9080 }],
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 75 },
          { destination: { host: "reviews", subset: "v2" }, weight: 25 },
        ],
        timeout: "1.5s",
        retries: { attempts: 3, perTryTimeout: "500ms", retryOn: "5xx,reset" },
        fault: { delay: { fixedDelay: "100ms", percentage: { value: 1 } } },
        corsPolicy: { allowOrigins: [{ exact: "https://a.example.com" }], maxAge: "1h" },
      }],
      tcp: [{ match: [{ port: 3306 }], route: [{ destination: { host: "db.example.com" } }] }],
    },
  },
  {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "DestinationRule",
    metadata: meta("reviews"),
    spec: {
      host: "reviews",
      trafficPolicy: {
        loadBalancer: { simple: "ROUND_ROBIN", localityLbSetting: { enabled: true } },
        connectionPool: { tcp: { maxConnections: 10, connectTimeout: "30ms" } },
        outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s" },
        tls: { mode: "ISTIO_MUTUAL" },
        portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: "RANDOM" } }],
      },
      subsets: [{ name: "v1", labels: { version: "v1" } }, {
        name: "v2",
        labels: { version: "v2" },
      }],
    },
  },
  {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "Gateway",
    metadata: meta("edge"),
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [
        { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*/*.example.com"] },
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["shop/shop.example.com"],
          tls: { mode: "SIMPLE", credentialName: "shop-cert" },
        },
      ],
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: meta("db"),
    spec: {
      hosts: ["db.internal"],
      addresses: ["10.1.0.0/16"],
      ports: [{ number: 5432, name: "tcp-pg", protocol: "TCP" }],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      endpoints: [{ address: "10.1.0.5", ports: { "tcp-pg": 5433 }, labels: { app: "db" } }],
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: meta("vm1"),
    spec: { address: "10.2.0.7", ports: { http: 8080 }, labels: { app: "vm" }, weight: 3 },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "Sidecar",
    metadata: meta("default"),
    spec: {
      workloadSelector: { labels: { app: "reviews" } },
      ingress: [{
        port: { number: 9080, protocol: "HTTP", name: "http" },
        defaultEndpoint: "127.0.0.1:8080",
      }],
      egress: [{ hosts: ["./*", "istio-system/*"] }],
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadGroup",
    metadata: meta("vms"),
    spec: {
      metadata: { labels: { app: "vm" } },
      template: { serviceAccount: "vm", ports: { http: 8080 } },
      probe: { periodSeconds: 5, httpGet: { port: 8080, path: "/ready" } },
    },
  },
  {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: meta("strict"),
    spec: {
      selector: { matchLabels: { app: "db" } },
      mtls: { mode: "STRICT" },
      portLevelMtls: { "8080": { mode: "DISABLE" } },
    },
  },
  {
    apiVersion: "security.istio.io/v1beta1",
    kind: "AuthorizationPolicy",
    metadata: meta("allow"),
    spec: {
      selector: { matchLabels: { app: "reviews" } },
      action: "ALLOW",
      rules: [{
        from: [{ source: { principals: ["cluster.local/ns/shop/sa/web"] } }],
        to: [{ operation: { methods: ["GET"], paths: ["/r/*"], ports: ["9080"] } }],
        when: [{ key: "request.auth.claims[groups]", values: ["dev"] }],
      }],
    },
  },
  {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: meta("jwt"),
    spec: {
      jwtRules: [{
        issuer: "https://issuer.example.com",
        jwksUri: "https://issuer.example.com/jwks.json",
        fromHeaders: [{ name: "authorization", prefix: "Bearer " }],
        timeout: "5s",
      }],
    },
  },
  {
    apiVersion: "telemetry.istio.io/v1",
    kind: "Telemetry",
    metadata: meta("default"),
    spec: {
      tracing: [{ providers: [{ name: "otel" }], randomSamplingPercentage: 5 }],
      metrics: [{
        providers: [{ name: "prometheus" }],
        overrides: [{ match: { metric: "REQUEST_COUNT" }, tagOverrides: { x: { value: "y" } } }],
      }],
      accessLogging: [{ providers: [{ name: "envoy" }] }],
    },
  },
  {
    apiVersion: "config.mesh.dev/v1alpha1",
    kind: "MeshConfig",
    metadata: { name: "mesh" },
    spec: {
      trustDomain: "cluster.local",
      rootNamespace: "istio-system",
      outboundTrafficPolicy: { mode: "ALLOW_ANY" },
      defaultConfig: { concurrency: 2, drainDuration: "45s", proxyMetadata: { A: "b" } },
      extensionProviders: [{ name: "otel", opentelemetry: { service: "otel.svc", port: 4317 } }],
      defaultProviders: { tracing: ["otel"] },
    },
  },
];

function sampleSeeds(): Json[] {
  const out: Json[] = [];
  for (const entry of Deno.readDirSync(NETWORKING)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const text = Deno.readTextFileSync(`${NETWORKING}/${entry.name}`);
    for (const doc of parseYamlDocuments(text)) if (!doc.error) out.push(doc.value as Json);
  }
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Every path to a value inside `v` (bounded), the root included. */
function pathsOf(v: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (prefix.length > 12 || out.length > 2000) return out;
  if (Array.isArray(v)) v.forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (v && typeof v === "object") {
    for (const [k, item] of Object.entries(v)) pathsOf(item, [...prefix, k], out);
  }
  return out;
}

function getAt(v: Json, path: Path): Json {
  let cur: Json = v;
  for (const p of path) cur = (cur as Record<string | number, Json>)[p];
  return cur;
}

function setAt(root: Json, path: Path, value: Json): Json {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  Object.defineProperty(parent, path[path.length - 1], {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return root;
}

function deleteAt(root: Json, path: Path): Json {
  if (path.length === 0) return root;
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete (parent as Record<string, Json>)[key as string];
  return root;
}

const TRICKY_STRINGS = [
  "",
  " ",
  "*",
  "*/*",
  "./*",
  "~",
  "..",
  "-1s",
  "1d",
  "0s",
  "5",
  "1.5ms",
  "(?=x)",
  "(a)\\1",
  "[",
  "\\",
  "%",
  "%%%",
  "a\u0000b",
  "line\nbreak",
  "tab\there",
  "ünïcödé",
  "\u{1F600}",
  "\u202e",
  "__proto__",
  "constructor",
  "null",
  "true",
  "0x1F",
  "1e999",
  "NaN",
  "https://",
  "unix://",
  "unix:///",
  "10.0.0.300",
  "::1",
  "10.0.0.0/33",
  "@request.auth.claims.x",
  "request.headers[",
  "UPPER_CASE",
  "a".repeat(64),
  "a.".repeat(130),
];

function randomString(rnd: Random): string {
  if (rnd.chance(0.5)) return rnd.pick(TRICKY_STRINGS);
  const alphabet = "abcXYZ019-_.:/*?[](){}|\\^$%@~ \t\"'#&!,";
  return Array.from({ length: rnd.int(40) }, () => rnd.pick([...alphabet])).join("");
}

function randomValue(rnd: Random, depth = 0): Json {
  switch (rnd.int(depth > 2 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return rnd.chance(0.5);
    case 2:
      return rnd.pick([0, -1, 1, 65535, 65536, 2 ** 31, 2 ** 53, 1e308, -1e308, 0.5, 99.999]);
    case 3:
    case 4:
      return randomString(rnd);
    case 5:
      return [];
    case 6:
      return {};
    case 7:
      return Array.from({ length: 1 + rnd.int(3) }, () => randomValue(rnd, depth + 1));
    default: {
      const o: Record<string, Json> = {};
      for (let i = 0; i < 1 + rnd.int(3); i++) {
        setAt(o, [randomString(rnd)], randomValue(rnd, depth + 1));
      }
      return o;
    }
  }
}

function nest(rnd: Random, levels: number, leaf: Json): Json {
  let v = leaf;
  for (let i = 0; i < levels; i++) {
    v = rnd.chance(0.5) ? [v] : { [rnd.pick(["a", "spec", "http"])]: v };
  }
  return v;
}

/** A string of about `size` characters (built by doubling, so cheap). */
function hugeString(rnd: Random, size: number): string {
  let s = randomString(rnd) + "x";
  while (s.length < size) s += s;
  return s.slice(0, size);
}

type ObjectMutation = (v: Json, rnd: Random) => Json;

const OBJECT_MUTATIONS: Record<string, ObjectMutation> = {
  dropField(v, rnd) {
    const paths = pathsOf(v).filter((p) => p.length > 0);
    return paths.length ? deleteAt(v, rnd.pick(paths)) : v;
  },
  changeType(v, rnd) {
    return setAt(v, rnd.pick(pathsOf(v)), randomValue(rnd));
  },
  insertUnknownKey(v, rnd) {
    const objects = pathsOf(v).filter((p) => {
      const x = getAt(v, p);
      return x !== null && typeof x === "object" && !Array.isArray(x);
    });
    if (!objects.length) return v;
    const key = rnd.chance(0.3)
      ? rnd.pick(["__proto__", "constructor", "toString"])
      : randomString(rnd);
    return setAt(v, [...rnd.pick(objects), key], randomValue(rnd));
  },
  deepNesting(v, rnd) {
    return setAt(v, rnd.pick(pathsOf(v)), nest(rnd, 20 + rnd.int(300), randomValue(rnd, 3)));
  },
  hugeString(v, rnd) {
    const size = rnd.pick([1024 * 1024, 900 * 1024, 64 * 1024]);
    const paths = pathsOf(v).filter((p) => typeof getAt(v, p) === "string");
    const at = paths.length && rnd.chance(0.8) ? rnd.pick(paths) : [...rnd.pick(pathsOf(v))];
    return setAt(v, at, hugeString(rnd, size));
  },
  trickyString(v, rnd) {
    const paths = pathsOf(v).filter((p) => typeof getAt(v, p) === "string");
    return paths.length ? setAt(v, rnd.pick(paths), randomString(rnd)) : v;
  },
  duplicateListItem(v, rnd) {
    const lists = pathsOf(v).filter((p) =>
      Array.isArray(getAt(v, p)) && (getAt(v, p) as Json[]).length
    );
    if (!lists.length) return v;
    const list = getAt(v, rnd.pick(lists)) as Json[];
    list.push(structuredClone(rnd.pick(list)));
    return v;
  },
  swapKind(v, rnd) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const other = rnd.pick(SEEDS) as Record<string, Json>;
    v.kind = rnd.chance(0.8) ? rnd.pick(KINDS) : randomString(rnd);
    v.apiVersion = rnd.chance(0.8) ? other.apiVersion : randomString(rnd);
    return v;
  },
  wideObject(v, rnd) {
    const objects = pathsOf(v).filter((p) => {
      const x = getAt(v, p);
      return x !== null && typeof x === "object" && !Array.isArray(x);
    });
    if (!objects.length) return v;
    const target = getAt(v, rnd.pick(objects)) as Record<string, Json>;
    for (let i = 0; i < 200 + rnd.int(800); i++) target[`k${i}`] = i;
    return v;
  },
};

/** Mutation names, each as often as it should be picked: 1 MB strings are rarer (they're slow). */
const WEIGHTED_OBJECT_MUTATIONS = Object.keys(OBJECT_MUTATIONS).flatMap((name) =>
  Array<string>(name === "hugeString" ? 1 : 3).fill(name)
);

type TextMutation = (text: string, rnd: Random) => string;

const TEXT_MUTATIONS: Record<string, TextMutation> = {
  flipCharacters(text, rnd) {
    const chars = [...text.slice(0, 200_000)];
    for (let i = 0; i < 1 + rnd.int(8); i++) {
      chars[rnd.int(chars.length)] = rnd.pick([..."{}[]:-?&*!|>'\"#%@`\t\n \\,"]);
    }
    return chars.join("") + text.slice(200_000);
  },
  truncate(text, rnd) {
    return text.slice(0, rnd.int(text.length + 1));
  },
  aliasBomb(text, rnd) {
    const width = 5 + rnd.int(6);
    const lines = [`b0: &b0 [${Array(width).fill("lol").join(", ")}]`];
    for (let i = 1; i < 10; i++) {
      lines.push(`b${i}: &b${i} [${Array(width).fill(`*b${i - 1}`).join(", ")}]`);
    }
    const bomb = lines.join("\n") + "\n";
    return rnd.chance(0.5)
      ? bomb + text.replace(/^spec:/m, "spec: *b9\nspec_:")
      : text + "\n---\n" + bomb + "spec: *b9\n";
  },
  randomBytes(_text, rnd) {
    const bytes = new Uint8Array(1 + rnd.int(4096));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rnd.int(256);
    return new TextDecoder().decode(bytes);
  },
  documentSeparators(text, rnd) {
    const lines = text.split("\n");
    for (let i = 0; i < 1 + rnd.int(3); i++) {
      lines.splice(
        rnd.int(lines.length + 1),
        0,
        rnd.pick(["---", "...", "--- |", "%YAML 1.2", "- x"]),
      );
    }
    return lines.join("\n");
  },
  flowNesting(text, rnd) {
    const depth = 100 + rnd.int(400);
    return text.replace(/^spec:/m, `spec: ${"[".repeat(depth)}1${"]".repeat(depth)}\nspec_:`);
  },
  listOfEverything(text) {
    return `apiVersion: v1\nkind: List\nitems:\n${"- " + text.split("\n").join("\n  ")}\n`;
  },
};

// ---------------------------------------------------------------------------------------------
// The run

interface Generated {
  text: string;
  mutations: string[];
}

function generate(rnd: Random, seeds: readonly Json[]): Generated {
  let value = structuredClone(rnd.pick(seeds));
  const mutations: string[] = [];
  for (let i = 0; i < 1 + rnd.int(4); i++) {
    const name = rnd.pick(WEIGHTED_OBJECT_MUTATIONS);
    mutations.push(name);
    value = OBJECT_MUTATIONS[name](value, rnd);
  }
  let text: string;
  try {
    text = rnd.chance(0.75) ? stringifyYaml(value) : JSON.stringify(value, null, rnd.int(3));
  } catch {
    text = JSON.stringify(value);
  }
  if (rnd.chance(0.35)) {
    const name = rnd.pick(Object.keys(TEXT_MUTATIONS));
    mutations.push(name);
    text = TEXT_MUTATIONS[name](text, rnd);
  }
  return { text, mutations };
}

function checkDiagnostic(d: Diagnostic): void {
  assert.ok(d.severity === "error" || d.severity === "warning");
  assert.ok(Number.isInteger(d.line) && d.line >= 1, formatDiagnostic(d));
  assert.ok(Number.isInteger(d.column) && d.column >= 1, formatDiagnostic(d));
  assert.equal(typeof d.path, "string");
  assert.ok(d.message.length > 0 && d.message.length < 2000, d.message.slice(0, 200));
  assert.ok(!d.message.startsWith("internal error"), formatDiagnostic(d));
}

Deno.test({
  name: `fuzz: ${CASES} mutated resources never throw, never hang and stay within memory`,
  ignore: withoutSamples(),
  fn: fuzz,
});

function fuzz(): void {
  const seeds = [...SEEDS, ...sampleSeeds()];
  // The unmutated seeds are valid (so mutations start from the interesting place).
  for (const seed of seeds) {
    const { diagnostics } = parseResources(stringifyYaml(seed), "seed.yaml");
    assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], stringifyYaml(seed));
  }

  const rnd = new Random(prng(SEED));
  const gc = (globalThis as { gc?: () => void }).gc; // with --v8-flags=--expose-gc
  gc?.();
  const heapBefore = Deno.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  // The heap's low point late in the run: what is retained once garbage is collected (1 MB
  // strings live in V8's large-object space until a major GC, so the peak is mostly garbage).
  let heapLow = Infinity;
  const started = performance.now();
  let slowest = { ms: 0, index: -1, mutations: [] as string[] };
  const stats = { accepted: 0, rejected: 0, diagnostics: 0 };
  for (let i = 0; i < CASES; i++) {
    const { text, mutations } = generate(rnd, seeds);
    const where = () =>
      `case ${i} (seed ${SEED}; ${mutations.join(", ")}): ${JSON.stringify(text.slice(0, 300))}`;
    let result: ReturnType<typeof parseResources>;
    const t0 = performance.now();
    try {
      result = parseResources(text, "fuzz.yaml");
    } catch (e) {
      assert.fail(`parseResources threw on ${where()}: ${e instanceof Error ? e.stack : e}`);
    }
    const ms = performance.now() - t0;
    if (ms > slowest.ms) slowest = { ms, index: i, mutations };
    assert.ok(ms < HANG_MS, `hung: ${Math.round(ms)} ms on ${where()}`);
    try {
      for (const d of result.diagnostics) checkDiagnostic(d);
      for (const r of result.resources) {
        assert.ok((KINDS as readonly string[]).includes(r.kind));
        assert.equal(typeof r.metadata.name, "string");
        assert.equal(typeof r.metadata.namespace, "string");
      }
    } catch (e) {
      assert.fail(`${e instanceof Error ? e.message : e} on ${where()}`);
    }
    stats.accepted += result.resources.length;
    stats.rejected += result.diagnostics.some((d) => d.severity === "error") ? 1 : 0;
    stats.diagnostics += result.diagnostics.length;
    const heap = Deno.memoryUsage().heapUsed;
    heapPeak = Math.max(heapPeak, heap);
    if (i >= CASES * 0.6) heapLow = Math.min(heapLow, heap);
  }
  const elapsed = performance.now() - started;
  if (gc) {
    gc();
    heapLow = Deno.memoryUsage().heapUsed;
  }
  const mb = (n: number) => Math.round(n / 1024 / 1024);
  assert.ok(heapLow - heapBefore < HEAP_GROWTH, `heap retained ${mb(heapLow - heapBefore)} MB`);
  assert.ok(
    heapPeak - heapBefore < 5 * HEAP_GROWTH,
    `heap peaked at +${mb(heapPeak - heapBefore)} MB`,
  );
  // Mutations hit both sides: some inputs stay valid, most get errors.
  assert.ok(stats.accepted > 0 && stats.rejected > CASES / 4, JSON.stringify(stats));
  console.log(
    `fuzz: ${CASES} cases in ${Math.round(elapsed)} ms (slowest ${
      Math.round(slowest.ms)
    } ms: case ${slowest.index}, ${slowest.mutations.join(", ")}); heap retained +${
      mb(heapLow - heapBefore)
    } MB, peak +${mb(heapPeak - heapBefore)} MB; ${JSON.stringify(stats)}`,
  );
}
