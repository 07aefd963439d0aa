/**
 * The kinds mesh validates beyond routing (Sidecar, WorkloadGroup, the security kinds,
 * Telemetry, MeshConfig): valid examples parse without errors, and the warning policy holds.
 */
import assert from "node:assert/strict";
import { type Diagnostic, formatDiagnostic } from "./diagnostic.ts";
import {
  type AuthorizationPolicy,
  ENFORCED_KINDS,
  KINDS,
  MAX_DIAGNOSTICS,
  type MeshConfig,
  NOT_SUPPORTED,
  notEnforced,
  parseResources,
  type PeerAuthentication,
  type RequestAuthentication,
  resourceKey,
  type Sidecar,
  type Telemetry,
  type WorkloadGroup,
} from "./resources.ts";

function show(diagnostics: Diagnostic[]): string {
  return diagnostics.map(formatDiagnostic).join("\n");
}

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "error");
}

const VALID = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-reviewers
  namespace: shop
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/productpage"]
    - source:
        namespaces: ["frontend", "team-*"]
        notIpBlocks: ["10.0.0.0/8"]
    to:
    - operation:
        methods: ["GET", "HEAD"]
        paths: ["/reviews/*", "/api/{*}/ratings"]
        ports: ["9080"]
    when:
    - key: request.auth.claims[groups]
      values: ["reviewers"]
    - key: request.headers[x-tenant]
      notValues: ["blocked"]
    - key: source.ip
      values: ["10.1.0.0/16"]
    - key: destination.port
      values: ["9080"]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-outsiders
  namespace: shop
spec:
  action: DENY
  rules:
  - from:
    - source:
        notNamespaces: ["shop", "istio-system"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: shop
spec:
  selector:
    matchLabels: {app: productpage}
  action: CUSTOM
  provider:
    name: opa
  rules:
  - to:
    - operation:
        paths: ["/admin/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: vault
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gateway-policy
  namespace: edge
spec:
  targetRefs:
  - kind: Gateway
    group: gateway.networking.k8s.io
    name: edge
  action: AUDIT
  rules:
  - to:
    - operation:
        hosts: ["*.example.com"]
        ports: ["443"]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: shop
spec:
  selector:
    matchLabels: {app: productpage}
  jwtRules:
  - issuer: "https://accounts.example.com"
    jwksUri: "https://accounts.example.com/.well-known/jwks.json"
    audiences: ["bookinfo"]
    forwardOriginalToken: true
    fromHeaders:
    - name: Authorization
      prefix: "Bearer "
    fromParams: ["access_token"]
    fromCookies: ["session"]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - header: x-user
      claim: sub
    timeout: 5s
  - issuer: "testing@secure.istio.io"
    jwks: '{"keys": [{"kty": "RSA", "e": "AQAB", "n": "xAE7eB6qugXyCAG3yhh7pkDkT65pHymX"}]}'
    spaceDelimitedClaims: ["scope"]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: db-strict
  namespace: shop
spec:
  selector:
    matchLabels:
      app: ratings-db
  mtls:
    mode: STRICT
  portLevelMtls:
    8080:
      mode: DISABLE
    "9090":
      mode: PERMISSIVE
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: PERMISSIVE
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  tracing:
  - providers:
    - name: otel
    randomSamplingPercentage: 10.5
    customTags:
      cluster:
        literal: {value: east}
      pod:
        environment: {name: POD_NAME, defaultValue: unknown}
      user:
        header: {name: x-user}
  metrics:
  - providers:
    - name: prometheus
    reportingInterval: 15s
    overrides:
    - match:
        metric: REQUEST_COUNT
        mode: CLIENT_AND_SERVER
      tagOverrides:
        request_host:
          operation: REMOVE
        tenant:
          value: "request.headers['x-tenant']"
    - match:
        customMetric: my_metric
      disabled: true
  accessLogging:
  - providers:
    - name: envoy
    match: {mode: SERVER}
    filter:
      expression: "response.code >= 400"
---
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata:
  name: reviews-off
  namespace: shop
spec:
  selector:
    matchLabels: {app: reviews}
  accessLogging:
  - disabled: true
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
spec:
  workloadSelector:
    labels:
      app: reviews
  ingress:
  - port:
      number: 9080
      protocol: HTTP
      name: http
    defaultEndpoint: 127.0.0.1:8080
    connectionPool:
      http: {http1MaxPendingRequests: 100}
  egress:
  - port:
      number: 3306
      protocol: MYSQL
      name: mysql
    bind: 127.0.0.1
    hosts:
    - "*/mysql.data.svc.cluster.local"
  - hosts:
    - "./*"
    - "istio-system/*"
    - "~/*.internal.example.com"
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
  inboundConnectionPool:
    tcp: {maxConnections: 1000, connectTimeout: 250ms}
---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata:
  name: egress-proxy
  namespace: legacy
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy:
      host: squid.proxy.svc.cluster.local
      port: {number: 3128}
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: reviews-vm
  namespace: shop
spec:
  metadata:
    labels:
      app: reviews
      version: v4
    annotations:
      team: books
  template:
    serviceAccount: bookinfo-reviews
    network: vm-network
    ports:
      http: 9080
  probe:
    initialDelaySeconds: 5
    periodSeconds: 10
    timeoutSeconds: 2
    successThreshold: 1
    failureThreshold: 3
    httpGet:
      path: /ready
      port: 9080
      scheme: HTTP
      httpHeaders:
      - name: X-Probe
        value: mesh
---
apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  trustDomain: example.org
  rootNamespace: mesh-system
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
`;

/** The AuthorizationPolicy fields of VALID that mesh can't evaluate, each warned about. */
const AUTHZ_WARNINGS = [
  "allow-reviewers spec.rules[0].to[0].operation.paths[1]", // a path template
  "ext-authz spec.action", // CUSTOM
  "gateway-policy spec.targetRefs",
  "gateway-policy spec.action", // AUDIT
];

Deno.test("valid examples of every validated-only kind parse without errors", () => {
  const { resources, diagnostics } = parseResources(VALID, "valid.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.deepEqual(resources.map(resourceKey), [
    "AuthorizationPolicy/shop/allow-reviewers",
    "AuthorizationPolicy/shop/deny-outsiders",
    "AuthorizationPolicy/shop/ext-authz",
    "AuthorizationPolicy/vault/allow-nothing",
    "AuthorizationPolicy/edge/gateway-policy",
    "RequestAuthentication/shop/jwt",
    "PeerAuthentication/shop/db-strict",
    "PeerAuthentication/istio-system/default",
    "Telemetry/istio-system/mesh-default",
    "Telemetry/shop/reviews-off",
    "Sidecar/shop/default",
    "Sidecar/legacy/egress-proxy",
    "WorkloadGroup/shop/reviews-vm",
    "MeshConfig/default/mesh",
  ]);
  // Exactly one warning per resource of a kind mesh doesn't enforce, at `spec`; nothing else.
  const notEnforcedKeys = resources.filter((r) => !ENFORCED_KINDS.includes(r.kind));
  const partly = ["Sidecar", "AuthorizationPolicy", "Telemetry"];
  assert.deepEqual(
    diagnostics.filter((d) => !partly.includes(d.kind ?? "")).map((d) => [
      d.kind,
      d.name,
      d.path,
      d.message,
    ]),
    notEnforcedKeys.map((r) => [r.kind, r.metadata.name, "spec", notEnforced(r.kind)]),
    show(diagnostics),
  );
  // Telemetry: tracing and access logging are enforced; metrics and a few fields are warned about.
  assert.deepEqual(
    diagnostics.filter((d) => d.kind === "Telemetry").map((d) => `${d.name} ${d.path}`),
    [
      "mesh-default spec.metrics[0].reportingInterval",
      "mesh-default spec.metrics[0].overrides[0].tagOverrides.tenant.value",
      "mesh-default spec.metrics[0].overrides[1].match.customMetric",
      "mesh-default spec.accessLogging[0].match",
      "mesh-default spec.accessLogging[0].filter",
    ],
    show(diagnostics),
  );
  // AuthorizationPolicies are enforced; what mesh can't evaluate is warned about, field by field.
  assert.deepEqual(
    diagnostics.filter((d) => d.kind === "AuthorizationPolicy").map((d) => `${d.name} ${d.path}`),
    AUTHZ_WARNINGS,
    show(diagnostics),
  );
  // Sidecars are enforced for egress listeners with a port; every other part is warned about.
  assert.deepEqual(
    diagnostics.filter((d) => d.kind === "Sidecar").map((d) => `${d.name} ${d.path}`),
    [
      "default spec.ingress",
      "default spec.egress[0].port.protocol",
      "default spec.inboundConnectionPool",
      "egress-proxy spec.outboundTrafficPolicy.egressProxy",
    ],
    show(diagnostics),
  );
  assert.equal(
    formatDiagnostic(diagnostics[0]),
    "valid.yaml:22:31: warning: AuthorizationPolicy shop/allow-reviewers: " +
      "spec.rules[0].to[0].operation.paths[1]: path templates are not supported by mesh yet: " +
      "an ALLOW rule with one never matches, a DENY rule treats it as any path",
  );
});

Deno.test("validated resources keep their typed specs", () => {
  const { resources } = parseResources(VALID, "valid.yaml");
  const byName = (name: string, kind?: string) =>
    resources.find((r) => r.metadata.name === name && (kind === undefined || r.kind === kind))!;
  const allow = byName("allow-reviewers") as AuthorizationPolicy;
  assert.equal(allow.spec.rules?.[0].when?.[0].key, "request.auth.claims[groups]");
  const jwt = byName("jwt") as RequestAuthentication;
  assert.equal(jwt.spec.jwtRules?.[0].timeout, "5s");
  const pa = byName("db-strict") as PeerAuthentication;
  assert.deepEqual(Object.keys(pa.spec.portLevelMtls ?? {}), ["8080", "9090"]);
  const tel = byName("mesh-default") as Telemetry;
  assert.equal(tel.spec.tracing?.[0].randomSamplingPercentage, 10.5);
  const sidecar = byName("default", "Sidecar") as Sidecar;
  assert.equal(sidecar.spec.egress?.[0].port?.protocol, "MYSQL");
  const wg = byName("reviews-vm") as WorkloadGroup;
  assert.equal(wg.spec.probe?.httpGet?.port, 9080);
  const mesh = byName("mesh") as MeshConfig;
  assert.equal(mesh.apiVersion, "config.mesh.dev/v1alpha1");
  assert.deepEqual(mesh.spec, {
    trustDomain: "example.org",
    rootNamespace: "mesh-system",
    outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
  });
  // `kind` narrows `spec` for the new kinds too.
  for (const r of resources) {
    if (r.kind === "MeshConfig") assert.equal(r.spec.trustDomain, "example.org");
  }
  assert.equal(KINDS.length, 19);
});

Deno.test("MeshConfig: trust domain, root namespace, outbound policy, access logs and telemetry providers are honoured; the rest warns", () => {
  const text = [
    "apiVersion: config.mesh.dev/v1alpha1", // 1
    "kind: MeshConfig",
    "metadata: {name: mesh}",
    "spec:",
    "  trustDomain: cluster.local", // 5
    "  trustDomainAliases: [old.example.org]",
    "  rootNamespace: istio-system",
    "  outboundTrafficPolicy:",
    "    mode: ALLOW_ANY",
    "  enableTracing: true", // 10
    "  accessLogFile: /dev/stdout",
    "  accessLogEncoding: JSON",
    '  accessLogFormat: "[%START_TIME%] %REQ(:METHOD)%\\n"',
    "  ingressClass: istio",
    "  defaultConfig:", // 15
    "    concurrency: 2",
    "    drainDuration: 45s",
    "    terminationDrainDuration: 5s",
    "    holdApplicationUntilProxyStarts: true",
    "    proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'true'}", // 20
    "    tracing: {sampling: 1.0, zipkin: {address: 'zipkin.istio-system:9411'}}",
    "    proxyStatsMatcher: {inclusionRegexps: ['.*outlier_detection.*']}",
    "  extensionProviders:",
    "  - name: otel",
    "    opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}", // 25
    "  - name: opa",
    "    envoyExtAuthzGrpc: {service: opa.opa.svc.cluster.local, port: 9191, timeout: 1s}",
    "  - name: envoy-json",
    "    envoyFileAccessLog:",
    "      path: /dev/stdout", // 30
    "      logFormat: {labels: {code: '%RESPONSE_CODE%', extra: {nested: true}}}",
    "  - name: als",
    "    envoyOtelAls: {service: otel.observability.svc.cluster.local, port: 4317}",
    "  - name: prom",
    "    prometheus: {}", // 35
    "  - name: zipkin",
    "    zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}",
    "  defaultProviders:",
    "    tracing: [otel]",
    "    metrics: [prometheus]", // 40
    "    accessLogging: [envoy]",
    "  connectTimeout: 10s",
    "  protocolDetectionTimeout: 0s",
    "  enableAutoMtls: true",
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "mesh.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.equal(resources.length, 1);
  const warned = diagnostics.map((d) => `${d.line} ${d.path}`);
  assert.deepEqual(warned, [
    "10 spec.enableTracing",
    "13 spec.accessLogFormat",
    "14 spec.ingressClass",
    "16 spec.defaultConfig.concurrency",
    "17 spec.defaultConfig.drainDuration",
    "18 spec.defaultConfig.terminationDrainDuration",
    "19 spec.defaultConfig.holdApplicationUntilProxyStarts",
    "20 spec.defaultConfig.proxyMetadata",
    "21 spec.defaultConfig.tracing.zipkin",
    "22 spec.defaultConfig.proxyStatsMatcher",
    "25 spec.extensionProviders[0].opentelemetry",
    "27 spec.extensionProviders[1].envoyExtAuthzGrpc",
    "31 spec.extensionProviders[2].envoyFileAccessLog.logFormat",
    "33 spec.extensionProviders[3].envoyOtelAls",
    "35 spec.extensionProviders[4].prometheus",
    "40 spec.defaultProviders.metrics",
    "42 spec.connectTimeout",
    "43 spec.protocolDetectionTimeout",
    "44 spec.enableAutoMtls",
  ]);
  assert.ok(
    diagnostics.every((d) =>
      /not supported by mesh yet/.test(d.message) && d.kind === "MeshConfig"
    ),
  );

  const dynamic = parseResources(
    text.replace("mode: ALLOW_ANY", "mode: ALLOW_ANY_DYNAMIC_DNS"),
    "mesh.yaml",
  );
  const mode = dynamic.diagnostics.find((d) => d.path === "spec.outboundTrafficPolicy.mode");
  assert.equal(mode?.severity, "warning");
  assert.equal(mode?.message, `ALLOW_ANY_DYNAMIC_DNS is ${NOT_SUPPORTED}`);
});

Deno.test("Istio's semantic warnings are warnings, not errors", () => {
  const text = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation:
        methods: [DELETE]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: two-tracers, namespace: shop}
spec:
  tracing:
  - providers: [{name: a}, {name: b}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: legacy-mirror}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    mirror: {host: reviews-shadow}
    mirrorPercent: 50
`;
  const { resources, diagnostics } = parseResources(text, "w.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.equal(resources.length, 3);
  const messages = diagnostics.map((d) => `${d.kind} ${d.path}: ${d.message}`);
  assert.ok(
    messages.some((m) =>
      m.startsWith("AuthorizationPolicy spec.rules[0]: this DENY rule uses only HTTP attributes")
    ),
    messages.join("\n"),
  );
  assert.ok(messages.includes(
    "Telemetry spec.tracing[0].providers: Istio sends traces to one provider; keep one",
  ));
  assert.ok(messages.includes(
    "VirtualService spec.http[0].mirrorPercent: mirrorPercent is deprecated; use mirrorPercentage",
  ));
});

Deno.test("every field of a fully specified VirtualService and DestinationRule is accepted", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: full, namespace: shop}
spec:
  hosts: [reviews, reviews.example.com]
  gateways: [mesh, istio-system/edge]
  exportTo: [".", "istio-system"]
  http:
  - name: canary
    match:
    - name: jason
      uri: {prefix: /reviews}
      scheme: {exact: https}
      method: {regex: "(?i)get|head"}
      authority: {exact: reviews.example.com}
      headers:
        end-user: {exact: jason}
        x-present: {}
      withoutHeaders:
        x-debug: {}
      queryParams:
        v: {regex: "^[0-9]+$"}
      port: 9080
      sourceLabels: {app: productpage}
      sourceNamespace: shop
      gateways: [mesh]
      ignoreUriCase: true
      statPrefix: canary
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
      weight: 90
      headers:
        request: {set: {x-canary: "true"}, remove: [x-debug]}
        response: {add: {x-served-by: "%HOSTNAME%"}}
    - destination: {host: reviews, subset: v1}
      weight: 10
    rewrite:
      uriRegexRewrite: {match: "^/reviews/(.*)$", rewrite: "/\\\\1"}
      authority: reviews.internal
    timeout: 1.5s
    retries:
      attempts: 3
      perTryTimeout: 500ms
      retryOn: gateway-error,connect-failure,503
      retryRemoteLocalities: true
      retryIgnorePreviousHosts: true
      backoff: 25ms
    fault:
      delay: {fixedDelay: 100ms, percentage: {value: 0.5}}
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.1}}
    mirrors:
    - destination: {host: reviews-shadow}
      percentage: {value: 5}
    corsPolicy:
      allowOrigins: [{exact: "https://example.com"}, {regex: "https://.*\\\\.example\\\\.org"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-user, "*"]
      exposeHeaders: [x-trace]
      maxAge: 24h
      allowCredentials: true
      unmatchedPreflights: IGNORE
    headers:
      request: {add: {x-request-start: "t=%START_TIME(%s.%3f)%"}}
  - name: legacy
    match: [{uri: {exact: /old}}]
    redirect: {uri: /new, authority: new.example.com, derivePort: FROM_REQUEST_PORT, redirectCode: 308}
  - name: gone
    match: [{uri: {prefix: /gone}}]
    directResponse: {status: 410, body: {string: "gone"}}
  - name: delegated
    match: [{uri: {prefix: /team}}]
    delegate: {name: team-routes, namespace: team}
  - name: default
    route:
    - destination: {host: reviews, subset: v1}
  tcp:
  - match: [{port: 3306, destinationSubnets: [10.0.0.0/8], sourceLabels: {app: x}}]
    route: [{destination: {host: mysql.example.com}}]
  tls:
  - match: [{sniHosts: [reviews.example.com], port: 443}]
    route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: full, namespace: shop}
spec:
  host: reviews
  exportTo: ["."]
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, path: /, ttl: 0s, attributes: [{name: SameSite, value: Lax}]}
        ringHash: {minimumRingSize: 1024}
      localityLbSetting:
        enabled: true
        distribute:
        - from: us-west/zone1/*
          to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}
      warmup: {duration: 30s, minimumPercent: 10, aggression: 1.5}
    connectionPool:
      tcp:
        maxConnections: 100
        connectTimeout: 30ms
        tcpKeepalive: {probes: 3, time: 7200s, interval: 75s}
        maxConnectionDuration: 1h
        idleTimeout: 1h
      http:
        http1MaxPendingRequests: 10
        http2MaxRequests: 1000
        maxRequestsPerConnection: 10
        maxRetries: 3
        idleTimeout: 60s
        h2UpgradePolicy: DO_NOT_UPGRADE
        useClientProtocol: true
        maxConcurrentStreams: 100
        http2KeepAlive: {interval: 30s, timeout: 5s}
    outlierDetection:
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 5
      consecutiveGatewayErrors: 7
      consecutive5xxErrors: 7
      interval: 5m
      baseEjectionTime: 15m
      maxEjectionPercent: 50
      minHealthPercent: 10
      outlierDetectionHttpErrorCodes: [500, 503]
    tls:
      mode: SIMPLE
      caCertificates: /etc/certs/ca.pem
      sni: reviews.example.com
      subjectAltNames: [reviews.example.com]
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: LEAST_REQUEST}
    tunnel: {protocol: CONNECT, targetHost: proxy.example.com, targetPort: 8080}
    retryBudget: {percent: 20, minRetryConcurrency: 3, budgetInterval: 10s}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
`;
  const { resources, diagnostics } = parseResources(text, "full.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.equal(resources.length, 2);
  // Fields mesh doesn't enforce are warned about, and only with the standard message.
  const extra = diagnostics.filter((d) => !d.message.includes(NOT_SUPPORTED));
  assert.deepEqual(extra, [], show(extra));
});

Deno.test("a resource with a flood of problems reports a bounded number of them", () => {
  const keys = Array.from({ length: 500 }, (_, i) => `  unknown${i}: 1`);
  const text = [
    "apiVersion: networking.istio.io/v1",
    "kind: DestinationRule",
    "metadata: {name: flood}",
    "spec:",
    "  host: reviews",
    ...keys,
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "flood.yaml");
  assert.deepEqual(resources, []);
  assert.equal(diagnostics.length, MAX_DIAGNOSTICS + 1);
  const summary = diagnostics.find((d) => d.path === "");
  assert.equal(summary?.severity, "error");
  assert.match(summary!.message, /^400 more errors and 0 more warnings not shown/);
});

Deno.test("diagnostics are plain JSON", () => {
  const text = VALID + "---\n" + VALID.replaceAll("mode: STRICT", "mode: ON");
  const { diagnostics } = parseResources(text, "json.yaml");
  assert.ok(diagnostics.length > 0);
  for (const d of diagnostics) {
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
    assert.ok(Object.values(d).every((v) => ["string", "number"].includes(typeof v)));
  }
});

// ---------------------------------------------------------------------------------------------
// The kind registry (api/kinds.ts)

Deno.test("the registry holds every kind's group, versions, plural and short names", async () => {
  const { KIND_INFO, KINDS: ids, kindOf } = await import("./kinds.ts");
  for (const id of ids) {
    const k = KIND_INFO[id];
    assert.equal(kindOf(k.group, k.kind), id, id);
    assert.ok(k.versions.length > 0 && k.plural === k.plural.toLowerCase(), id);
  }
  assert.deepEqual(KIND_INFO.VirtualService.shortNames, ["vs"]);
  assert.equal(kindOf("networking.istio.io", "Nope"), undefined);
});

Deno.test("documents mesh doesn't read are named, never skipped in silence", () => {
  const text = [
    "apiVersion: v1",
    "kind: Service",
    "metadata: {name: details}",
    "---",
    "apiVersion: networking.istio.io/v1alpha3",
    "kind: EnvoyFilter",
    "metadata: {name: ef}",
    "spec: {}",
    "---",
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata: {name: wp}",
    "spec: {url: oci://example.com/wp:1}",
    "---",
    "apiVersion: cert-manager.io/v1",
    "kind: Certificate",
    "metadata: {name: c}",
    "",
  ].join("\n");
  const { resources, diagnostics, skipped } = parseResources(text, "mixed.yaml");
  assert.equal(resources.length, 0);
  assert.deepEqual(skipped.map((s) => `${s.kind}@${s.line}`), [
    "Service@1",
    "EnvoyFilter@5",
    "WasmPlugin@10",
    "Certificate@15",
  ]);
  const warned = diagnostics.filter((d) =>
    d.severity === "warning" && /not supported by mesh/.test(d.message)
  ).map((d) => d.kind);
  assert.deepEqual(warned, ["EnvoyFilter", "WasmPlugin"]);
  // The only other diagnostic: Istio's own warning on every EnvoyFilter.
  assert.deepEqual(
    diagnostics.filter((d) => !/not supported by mesh/.test(d.message)).map((d) => d.kind),
    ["EnvoyFilter"],
    show(diagnostics),
  );
});

Deno.test("a resource with errors is handed back as invalid, with its spec as written", () => {
  const text = [
    "apiVersion: networking.istio.io/v1",
    "kind: VirtualService",
    "metadata: {name: bad, namespace: ns}",
    "spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}, weight: -900}]}]}",
    "",
  ].join("\n");
  const { resources, invalid } = parseResources(text, "bad.yaml");
  assert.equal(resources.length, 0);
  assert.equal(invalid.length, 1);
  assert.equal(invalid[0].kind, "VirtualService");
  assert.equal(invalid[0].metadata.namespace, "ns");
  assert.deepEqual((invalid[0].spec as { hosts: string[] }).hosts, ["reviews"]);
});
