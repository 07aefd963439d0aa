/**
 * DestinationRule traffic policies, rule by rule as Istio decides them: validateTrafficPolicy,
 * validateConnectionPool, validateLoadBalancer, validateOutlierDetection,
 * validatePortTrafficPolicies, validateTunnelSettings and validateProxyProtocol in
 * pkg/config/validation, agent.ValidateTLS, ValidateLocalityLbSetting, ValidateZoneAwareLbSetting
 * and validateLocalities, and the CRD's schema (enums, oneOf groups, ranges, the 1ms duration
 * rules). Every case of Istio's TestValidateTrafficPolicy, TestValidateConnectionPool,
 * TestValidateLoadBalancer, TestValidateOutlierDetection, TestValidateTLS,
 * TestValidateLocalityLbSetting, TestValidateZoneAwareLbSetting and TestValidateLocalities
 * tables and of testdata/crds/destinationrule-*.yaml is here (in our own YAML, inside a
 * DestinationRule), plus one case per rule they miss.
 *
 * Istio's load balancer tables call validateLoadBalancer without outlier detection; inside a
 * rule, failover without outlierDetection is then a warning, which those cases say.
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule" };

/** A rule for `reviews` with this traffic policy (flow YAML). */
const tp = (policy: string) => `host: reviews\ntrafficPolicy: ${policy}`;
/** A rule with this connection pool. */
const pool = (settings: string) => tp(`{connectionPool: ${settings}}`);
/** A rule with this load balancer. */
const lb = (settings: string) => tp(`{loadBalancer: ${settings}}`);
/** A rule with this outlier detection. */
const outlier = (settings: string) => tp(`{outlierDetection: ${settings}}`);
/** A rule with this client TLS. */
const tls = (settings: string) => tp(`{tls: ${settings}}`);
/** A rule with this locality load balancing, and outlier detection unless `bare`. */
const locality = (settings: string, bare = false) =>
  tp(`{loadBalancer: {localityLbSetting: ${settings}}${bare ? "" : ", outlierDetection: {}"}}`);
/** A rule with this zone-aware load balancing, and outlier detection unless `bare`. */
const zoneAware = (settings: string, bare = false) =>
  tp(`{loadBalancer: {zoneAwareLbSetting: ${settings}}${bare ? "" : ", outlierDetection: {}"}}`);
/** A rule distributing from each of these localities (Istio's validateLocalities table). */
const fromLocalities = (...from: string[]) =>
  locality(`{distribute: [${from.map((f) => `{from: '${f}', to: {r: 100}}`).join(", ")}]}`);

const GOOD = "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnections: 7}, " +
  "http: {http2MaxRequests: 11}}, outlierDetection: {minHealthPercent: 20}}";
const HTTP_POOL =
  "http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, " +
  "maxRetries: 4, maxConcurrentStreams: 5";
const COOKIE = "name: test-cookie, ttl: 3600s";
const TOPOLOGY = "[topology.istio.io/network, topology.kubernetes.io/region, " +
  "topology.kubernetes.io/zone, topology.istio.io/subzone]";

// deno-fmt-ignore
const ISTIO_TRAFFIC_POLICY: Case[] = [
  // --- TestValidateTrafficPolicy
  { name: "valid traffic policy", yaml: tp(GOOD), want: "valid" },
  { name: "empty traffic policy", yaml: tp("{}"), want: "error", message: "at least one field" },
  { name: "port level settings without a port", yaml: tp(`{portLevelSettings: [${GOOD}]}`), want: "error", message: "port" },
  { name: "empty connection pool", yaml: tp("{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {}, outlierDetection: {minHealthPercent: 20}}"), want: "error", message: "at least one field" },
  { name: "maxConnectionDuration of 500ns", yaml: tp("{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnectionDuration: 500ns}}}"), want: "error", message: "1ms" },
  { name: "minHealthPercent -1", yaml: tp("{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnections: 7}}, outlierDetection: {minHealthPercent: -1}}"), want: "error", message: "0 to 100" },
  { name: "h2UpgradePolicy UPGRADE with useClientProtocol", yaml: pool("{http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}"), want: "error", message: "useClientProtocol" },
  // --- TestValidateConnectionPool
  { name: "pool: tcp and http", yaml: pool(`{tcp: {maxConnections: 7, connectTimeout: 2s}, http: {${HTTP_POOL}, idleTimeout: 30s}}`), want: "valid" },
  { name: "pool: tcp only", yaml: pool("{tcp: {maxConnections: 7, connectTimeout: 2s}}"), want: "valid" },
  { name: "pool: http only", yaml: pool(`{http: {${HTTP_POOL}, idleTimeout: 30s}}`), want: "valid" },
  { name: "pool: http only without idleTimeout", yaml: pool(`{http: {${HTTP_POOL}}}`), want: "valid" },
  { name: "pool: http2 keepalive", yaml: pool("{http: {http2KeepAlive: {interval: 15s, timeout: 5s}}}"), want: "valid" },
  { name: "pool: empty", yaml: pool("{}"), want: "error", message: "at least one field" },
  { name: "pool: maxConnections -1", yaml: pool("{tcp: {maxConnections: -1}}"), want: "error", message: "maxConnections" },
  { name: "pool: connectTimeout finer than 1ms", yaml: pool("{tcp: {connectTimeout: 2.000000005s}}"), want: "error", message: "millisecond" },
  { name: "pool: http1MaxPendingRequests -1", yaml: pool("{http: {http1MaxPendingRequests: -1}}"), want: "error", message: "http1MaxPendingRequests" },
  { name: "pool: http2MaxRequests -1", yaml: pool("{http: {http2MaxRequests: -1}}"), want: "error", message: "http2MaxRequests" },
  { name: "pool: maxRequestsPerConnection -1", yaml: pool("{http: {maxRequestsPerConnection: -1}}"), want: "error", message: "maxRequestsPerConnection" },
  { name: "pool: maxRetries -1", yaml: pool("{http: {maxRetries: -1}}"), want: "error", message: "maxRetries" },
  { name: "pool: http idleTimeout finer than 1ms", yaml: pool("{http: {idleTimeout: 30.000000005s}}"), want: "error", message: "millisecond" },
  { name: "pool: tcp idleTimeout 0s (off)", yaml: pool("{tcp: {idleTimeout: 0s}}"), want: "valid" },
  { name: "pool: maxConcurrentStreams -1", yaml: pool("{http: {maxConcurrentStreams: -1}}"), want: "error", message: "maxConcurrentStreams" },
  { name: "pool: http2 keepalive without interval", yaml: pool("{http: {http2KeepAlive: {timeout: 5s}}}"), want: "error", message: "interval" },
  { name: "pool: http2 keepalive without timeout", yaml: pool("{http: {http2KeepAlive: {interval: 15s}}}"), want: "error", message: "timeout" },
  { name: "pool: http2 keepalive interval finer than 1ms", yaml: pool("{http: {http2KeepAlive: {interval: 15.000000005s, timeout: 5s}}}"), want: "error", message: "millisecond" },
  // --- TestValidateLoadBalancer
  { name: "lb: simple", yaml: lb("{simple: ROUND_ROBIN}"), want: "valid" },
  { name: "lb: cookie hash with the deprecated minimumRingSize", yaml: lb("{consistentHash: {minimumRingSize: 1024, httpCookie: {name: test, ttl: 3600s}}}"), want: "warning", message: "deprecated" },
  { name: "lb: cookie hash without a cookie name", yaml: lb("{consistentHash: {minimumRingSize: 1024, httpCookie: {ttl: 3600s}}}"), want: "error", message: "name" },
  { name: "lb: maglev table size 1000 (not prime)", yaml: lb("{consistentHash: {maglev: {tableSize: 1000}}}"), want: "error", message: "prime" },
  { name: "lb: cookie attributes", yaml: lb(`{consistentHash: {httpCookie: {${COOKIE}, attributes: [{name: SameSite, value: Strict}, {name: Secure, value: "true"}, {name: HttpOnly, value: "true"}]}}}`), want: "valid" },
  { name: "lb: cookie attribute named twice", yaml: lb(`{consistentHash: {httpCookie: {${COOKIE}, attributes: [{name: SameSite, value: Strict}, {name: SameSite, value: Lax}, {name: Secure, value: "true"}]}}}`), want: "error", message: "SameSite" },
  { name: "lb: cookie attribute without a name", yaml: lb(`{consistentHash: {httpCookie: {${COOKIE}, attributes: [{name: SameSite, value: Strict}, {name: "", value: some-value}]}}}`), want: "error", message: "attribute" },
  { name: "lb: localityLbSetting and zoneAwareLbSetting", yaml: lb("{localityLbSetting: {}, zoneAwareLbSetting: {}}"), want: "error", message: "zoneAwareLbSetting" },
  { name: "lb: zoneAwareLbSetting alone (no outlierDetection: a warning)", yaml: lb("{zoneAwareLbSetting: {failover: [{from: us-east, to: eu-west}]}}"), want: "warning", message: "outlierDetection" },
  // --- TestValidateOutlierDetection
  { name: "outlier: interval, ejection time and percent", yaml: outlier("{interval: 2s, baseEjectionTime: 2s, maxEjectionPercent: 50}"), want: "valid" },
  { name: "outlier: interval finer than 1ms", yaml: outlier("{interval: 2.000000005s}"), want: "error", message: "millisecond" },
  { name: "outlier: baseEjectionTime finer than 1ms", yaml: outlier("{baseEjectionTime: 2.000000005s}"), want: "error", message: "millisecond" },
  { name: "outlier: maxEjectionPercent 105", yaml: outlier("{maxEjectionPercent: 105}"), want: "error", message: "0 to 100" },
  { name: "outlier: minHealthPercent -1", yaml: outlier("{minHealthPercent: -1}"), want: "error", message: "0 to 100" },
  { name: "outlier: minHealthPercent 101", yaml: outlier("{minHealthPercent: 101}"), want: "error", message: "0 to 100" },
  { name: "outlier: consecutiveErrors (deprecated)", yaml: outlier("{consecutiveErrors: 101}"), want: "warning", message: "deprecated" },
  { name: "outlier: local origin failures without the split", yaml: outlier("{consecutiveLocalOriginFailures: 10}"), want: "error", message: "splitExternalLocalOriginErrors" },
  // --- agent TestValidateTLS
  { name: "tls: SIMPLE with a credential", yaml: tls("{mode: SIMPLE, credentialName: some credential}"), want: "valid" },
  { name: "tls: SIMPLE credential with a client certificate", yaml: tls("{mode: SIMPLE, credentialName: credential, clientCertificate: cert}"), want: "error", message: "credentialName" },
  { name: "tls: SIMPLE credential with a private key", yaml: tls("{mode: SIMPLE, credentialName: credential, privateKey: key}"), want: "error", message: "credentialName" },
  { name: "tls: SIMPLE credential with CA certificates", yaml: tls("{mode: SIMPLE, credentialName: credential, caCertificates: ca}"), want: "error", message: "credentialName" },
  { name: "tls: MUTUAL with a credential", yaml: tls("{mode: MUTUAL, credentialName: some credential}"), want: "valid" },
  { name: "tls: MUTUAL credential with a client certificate", yaml: tls("{mode: MUTUAL, credentialName: credential, clientCertificate: cert}"), want: "error", message: "credentialName" },
  { name: "tls: MUTUAL credential with a private key", yaml: tls("{mode: MUTUAL, credentialName: credential, privateKey: key}"), want: "error", message: "credentialName" },
  { name: "tls: MUTUAL credential with CA certificates", yaml: tls("{mode: MUTUAL, credentialName: credential, caCertificates: ca}"), want: "error", message: "credentialName" },
  { name: "tls: MUTUAL credential with a CRL", yaml: tls("{mode: MUTUAL, credentialName: credential, caCrl: ca}"), want: "error", message: "credentialName" },
  { name: "tls: MUTUAL with a certificate and key", yaml: tls("{mode: MUTUAL, clientCertificate: cert, privateKey: key}"), want: "valid" },
  { name: "tls: MUTUAL without a key", yaml: tls("{mode: MUTUAL, clientCertificate: cert, privateKey: ''}"), want: "error", message: "privateKey" },
  { name: "tls: MUTUAL without a certificate", yaml: tls("{mode: MUTUAL, clientCertificate: '', privateKey: key}"), want: "error", message: "clientCertificate" },
  // --- agent TestValidateLocalityLbSetting (Istio's cases pass outlier detection unless said)
  { name: "locality: none", yaml: tp("{loadBalancer: {simple: RANDOM}}"), want: "valid" },
  { name: "locality: weights over 100", yaml: locality("{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 25}}]}"), want: "error", message: "100" },
  { name: "locality: weights under 100", yaml: locality("{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 15}}]}"), want: "error", message: "100" },
  { name: "locality: weight 0", yaml: locality("{distribute: [{from: a/b/c, to: {a/b/c: 0, a/b1: 100}}]}"), want: "error", message: "1 to 100" },
  { name: "locality: distribute and failover", yaml: locality("{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 20}}], failover: [{from: region1, to: region2}]}"), want: "error", message: "distribute and failover" },
  { name: "locality: failover to the same region", yaml: locality("{failover: [{from: region1, to: region1}]}"), want: "error", message: "different regions" },
  { name: "locality: failover from *", yaml: locality("{failover: [{from: '*', to: region2}]}"), want: "error", message: "'*'" },
  { name: "locality: failover to *", yaml: locality("{failover: [{from: region1, to: '*'}]}"), want: "error", message: "'*'" },
  { name: "locality: failover from a zone", yaml: locality("{failover: [{from: region1/zone1, to: region2}]}"), want: "error", message: "'/'" },
  { name: "locality: failover to a zone", yaml: locality("{failover: [{from: region1, to: region2/zone1}]}"), want: "error", message: "'/'" },
  { name: "locality: failoverPriority without outlier detection", yaml: locality(`{failoverPriority: ${TOPOLOGY}}`, true), want: "warning", message: "outlierDetection" },
  { name: "locality: failover without outlier detection", yaml: locality("{failover: [{from: us-east, to: eu-west}, {from: us-west, to: eu-east}]}", true), want: "warning", message: "outlierDetection" },
  { name: "locality: failover with a region in failoverPriority", yaml: locality("{failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}"), want: "error", message: "topology.kubernetes.io/region" },
  // --- agent TestValidateZoneAwareLbSetting
  { name: "zone aware: none", yaml: tp("{loadBalancer: {simple: RANDOM}}"), want: "valid" },
  { name: "zone aware: enabled only", yaml: zoneAware("{enabled: true}"), want: "valid" },
  { name: "zone aware: region failover", yaml: zoneAware("{failover: [{from: us-east, to: eu-west}]}"), want: "valid" },
  { name: "zone aware: failover to the same region", yaml: zoneAware("{failover: [{from: region1, to: region1}]}"), want: "error", message: "different regions" },
  { name: "zone aware: failover from a zone", yaml: zoneAware("{failover: [{from: region1/zone1, to: region2}]}"), want: "error", message: "'/'" },
  { name: "zone aware: failover to a zone", yaml: zoneAware("{failover: [{from: region1, to: region2/zone1}]}"), want: "error", message: "'/'" },
  { name: "zone aware: failover from *", yaml: zoneAware("{failover: [{from: '*', to: region2}]}"), want: "error", message: "'*'" },
  { name: "zone aware: failover to *", yaml: zoneAware("{failover: [{from: region1, to: '*'}]}"), want: "error", message: "'*'" },
  { name: "zone aware: failover with a region in failoverPriority", yaml: zoneAware("{failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}"), want: "error", message: "topology.kubernetes.io/region" },
  { name: "zone aware: failoverPriority by region", yaml: zoneAware("{failoverPriority: [topology.kubernetes.io/region]}"), want: "error", message: "topology.kubernetes.io/region" },
  { name: "zone aware: failoverPriority by zone", yaml: zoneAware("{failoverPriority: [topology.kubernetes.io/zone]}"), want: "error", message: "topology.kubernetes.io/zone" },
  { name: "zone aware: failoverPriority by subzone", yaml: zoneAware("{failoverPriority: [topology.istio.io/subzone]}"), want: "error", message: "topology.istio.io/subzone" },
  { name: "zone aware: failoverPriority by other labels", yaml: zoneAware("{failoverPriority: [version, app=ratings]}"), want: "valid" },
  { name: "zone aware: failover without outlier detection", yaml: zoneAware("{failover: [{from: us-east, to: eu-west}]}", true), want: "warning", message: "outlierDetection" },
  { name: "zone aware: failoverPriority without outlier detection", yaml: zoneAware("{failoverPriority: [version]}", true), want: "warning", message: "outlierDetection" },
  // --- agent TestValidateLocalities (as distribute sources)
  { name: "localities: two wildcards", yaml: fromLocalities("*/zone/*"), want: "error", message: "wildcard" },
  { name: "localities: wildcard not last", yaml: fromLocalities("*/zone"), want: "error", message: "wildcard" },
  { name: "localities: * and a subzone", yaml: fromLocalities("*", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: a region and its subzone", yaml: fromLocalities("a", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: a/* and a subzone of a", yaml: fromLocalities("a/*", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: a zone and its subzone", yaml: fromLocalities("a/b", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: a/b/* and a subzone of a/b", yaml: fromLocalities("a/b/*", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: a zone and its subzone, again", yaml: fromLocalities("a/b", "a/b/c"), want: "error", message: "overlap" },
  { name: "localities: distinct", yaml: fromLocalities("a1/*", "a2/*", "a3/b3/c3", "a4/b4", "a5/b5/*"), want: "valid" },
  // --- testdata/crds/destinationrule-valid.yaml and -invalid.yaml
  { name: "crd: warmup duration", yaml: lb("{warmup: {duration: 300s}}"), want: "valid" },
  { name: "crd: warmup with minimumPercent", yaml: lb("{warmup: {duration: 300s, minimumPercent: 5.0}}"), want: "valid" },
  { name: "crd: warmup with aggression", yaml: lb("{warmup: {duration: 300s, minimumPercent: 5.0, aggression: 5.0}}"), want: "valid" },
  { name: "crd: http2 ping", yaml: pool("{http: {http2KeepAlive: {interval: 15s, timeout: 5s}}}"), want: "valid" },
  { name: "crd: warmup minimumPercent 150", yaml: lb("{warmup: {duration: 300s, minimumPercent: 150.0}}"), want: "error", message: "from 0 to 100" },
  { name: "crd: warmup without a duration", yaml: lb("{warmup: {minimumPercent: 5.0}}"), want: "error", message: "duration" },
  { name: "crd: warmup aggression -0.1", yaml: lb("{warmup: {duration: 300s, aggression: -0.1}}"), want: "error", message: "of at least 0" },
];

// deno-fmt-ignore
const MORE_TRAFFIC_POLICY: Case[] = [
  // --- validateTrafficPolicy, validatePortTrafficPolicies
  { name: "only an empty portLevelSettings list", yaml: tp("{portLevelSettings: []}"), want: "error", message: "at least one field" },
  { name: "only an empty tls", yaml: tp("{tls: {}}"), want: "valid" },
  { name: "port level settings with only a port", yaml: tp("{portLevelSettings: [{port: {number: 80}}]}"), want: "error", message: "at least one field" },
  { name: "port level settings for the same port twice", yaml: tp("{portLevelSettings: [{port: {number: 80}, tls: {mode: ISTIO_MUTUAL}}, {port: {number: 80}, loadBalancer: {simple: RANDOM}}]}"), want: "valid" },
  { name: "port level settings for port 0 (not checked)", yaml: tp("{portLevelSettings: [{port: {number: 0}, tls: {mode: ISTIO_MUTUAL}}]}"), want: "valid" },
  { name: "port level settings with an empty port", yaml: tp("{portLevelSettings: [{port: {}, tls: {mode: ISTIO_MUTUAL}}]}"), want: "valid" },
  { name: "port level settings with a bad pool", yaml: tp("{portLevelSettings: [{port: {number: 80}, connectionPool: {}}]}"), want: "error", message: "at least one field" },
  { name: "port level settings with a tunnel (not a port field)", yaml: tp("{portLevelSettings: [{port: {number: 80}, tunnel: {targetHost: a.com, targetPort: 80}}]}"), want: "error", message: "tunnel" },
  { name: "port level settings failover without outlier detection", yaml: tp("{outlierDetection: {}, portLevelSettings: [{port: {number: 80}, loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}]}}}]}"), want: "warning", message: "outlierDetection" },
  // --- validateTunnelSettings, validateProxyProtocol
  { name: "tunnel with CONNECT", yaml: tp("{tunnel: {protocol: CONNECT, targetHost: proxy.example.com, targetPort: 3128}}"), want: "valid" },
  { name: "tunnel to an IP address", yaml: tp("{tunnel: {protocol: POST, targetHost: 10.0.0.1, targetPort: 3128}}"), want: "valid" },
  { name: "tunnel to an upper-case FQDN with a trailing dot", yaml: tp("{tunnel: {targetHost: Proxy.Example.com., targetPort: 3128}}"), want: "valid" },
  { name: "tunnel with protocol GET", yaml: tp("{tunnel: {protocol: GET, targetHost: proxy.example.com, targetPort: 3128}}"), want: "error", message: "must be \"CONNECT\" or \"POST\"" },
  { name: "tunnel to a wildcard host", yaml: tp("{tunnel: {targetHost: '*.example.com', targetPort: 3128}}"), want: "error", message: "targetHost" },
  { name: "tunnel to port 0", yaml: tp("{tunnel: {targetHost: proxy.example.com, targetPort: 0}}"), want: "error" },
  { name: "tunnel without a target port", yaml: tp("{tunnel: {targetHost: proxy.example.com}}"), want: "error", message: "targetPort" },
  { name: "tunnel and proxyProtocol", yaml: tp("{tunnel: {targetHost: proxy.example.com, targetPort: 3128}, proxyProtocol: {version: V1}}"), want: "error", message: "proxyProtocol" },
  { name: "proxyProtocol V2", yaml: tp("{proxyProtocol: {version: V2}}"), want: "valid" },
  { name: "proxyProtocol V3", yaml: tp("{proxyProtocol: {version: V3}}"), want: "error" },
  { name: "retryBudget", yaml: tp("{retryBudget: {percent: 20, minRetryConcurrency: 3, budgetInterval: 0.5ms}}"), want: "valid" },
  { name: "retryBudget over 100%", yaml: tp("{retryBudget: {percent: 101}}"), want: "error" },
  // --- validateConnectionPool: durations (ValidateDuration) and the CRD's 1ms rules
  { name: "pool: tcp idleTimeout under 1ms (counts as off)", yaml: pool("{tcp: {idleTimeout: 500us}}"), want: "valid" },
  { name: "pool: tcp idleTimeout 1.5ms", yaml: pool("{tcp: {idleTimeout: 1500us}}"), want: "error", message: "millisecond" },
  { name: "pool: http idleTimeout 0s", yaml: pool("{http: {idleTimeout: 0s}}"), want: "error", message: "1ms" },
  { name: "pool: tcp keepalive time 0s", yaml: pool("{tcp: {tcpKeepalive: {time: 0s}}}"), want: "error", message: "1ms" },
  { name: "pool: tcp keepalive interval 1.5ms", yaml: pool("{tcp: {tcpKeepalive: {interval: 1500us}}}"), want: "error", message: "millisecond" },
  { name: "pool: tcp keepalive probes -1", yaml: pool("{tcp: {tcpKeepalive: {probes: -1}}}"), want: "error" },
  { name: "pool: maxConnectionDuration 0s", yaml: pool("{tcp: {maxConnectionDuration: 0s}}"), want: "error", message: "1ms" },
  { name: "pool: h2UpgradePolicy SOMETIMES", yaml: pool("{http: {h2UpgradePolicy: SOMETIMES}}"), want: "error" },
  { name: "pool: maxConnections over int32", yaml: pool("{tcp: {maxConnections: 2147483648}}"), want: "error" },
  // --- validateLoadBalancer and the CRD's oneOf groups
  { name: "lb: simple and consistentHash", yaml: lb("{simple: RANDOM, consistentHash: {useSourceIp: true}}"), want: "error", message: "consistentHash" },
  { name: "lb: simple PASSTHROUGH", yaml: lb("{simple: PASSTHROUGH}"), want: "valid" },
  { name: "lb: simple FASTEST", yaml: lb("{simple: FASTEST}"), want: "error" },
  { name: "lb: backendUtilization", yaml: lb("{backendUtilization: {errorUtilizationPenaltyPercent: 10, metricNamesForComputingUtilization: [cpu], weightUpdatePeriod: 0.5s}}"), want: "valid" },
  { name: "lb: backendUtilization and simple", yaml: lb("{simple: RANDOM, backendUtilization: {}}"), want: "error", message: "backendUtilization" },
  { name: "lb: two hash keys", yaml: lb("{consistentHash: {httpHeaderName: x-user, useSourceIp: false}}"), want: "error", message: "useSourceIp" },
  { name: "lb: a hash without a key", yaml: lb("{consistentHash: {}}"), want: "valid" },
  { name: "lb: ringHash and maglev", yaml: lb("{consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 1024}, maglev: {tableSize: 65537}}}"), want: "error", message: "maglev" },
  { name: "lb: minimumRingSize and ringHash", yaml: lb("{consistentHash: {useSourceIp: true, minimumRingSize: 1024, ringHash: {}}}"), want: "error", message: "minimumRingSize" },
  { name: "lb: minimumRingSize 0 and ringHash (unset)", yaml: lb("{consistentHash: {useSourceIp: true, minimumRingSize: 0, ringHash: {}}}"), want: "valid" },
  { name: "lb: maglev table size 65537", yaml: lb("{consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}"), want: "valid" },
  { name: "lb: maglev table size 1 (prime for Envoy)", yaml: lb("{consistentHash: {useSourceIp: true, maglev: {tableSize: 1}}}"), want: "valid" },
  { name: "lb: maglev table size 5000011", yaml: lb("{consistentHash: {useSourceIp: true, maglev: {tableSize: 5000011}}}"), want: "error", message: "5000011" },
  { name: "lb: maglev without a table size", yaml: lb("{consistentHash: {useSourceIp: true, maglev: {}}}"), want: "error", message: "tableSize" },
  { name: "lb: cookie ttl 0s", yaml: lb("{consistentHash: {httpCookie: {name: c, ttl: 0s}}}"), want: "valid" },
  { name: "lb: cookie ttl finer than 1ms", yaml: lb("{consistentHash: {httpCookie: {name: c, ttl: 1500us}}}"), want: "valid" },
  { name: "lb: cookie with an empty name", yaml: lb("{consistentHash: {httpCookie: {name: ''}}}"), want: "error", message: "name" },
  { name: "lb: warmupDurationSecs 0s", yaml: lb("{warmupDurationSecs: 0s}"), want: "error", message: "1ms" },
  { name: "lb: warmupDurationSecs 1.5ms (no precision rule)", yaml: lb("{warmupDurationSecs: 1500us}"), want: "valid" },
  { name: "lb: warmup aggression 0", yaml: lb("{warmup: {duration: 10s, aggression: 0}}"), want: "error", message: "aggression" },
  { name: "lb: warmup duration finer than 1ms", yaml: lb("{warmup: {duration: 1500us}}"), want: "error", message: "millisecond" },
  { name: "lb: warmup minimumPercent 100", yaml: lb("{warmup: {duration: 10s, minimumPercent: 100}}"), want: "valid" },
  // --- ValidateLocalityLbSetting, ValidateZoneAwareLbSetting
  { name: "locality: distribute without a from", yaml: locality("{distribute: [{to: {a: 100}}]}"), want: "error", message: "empty" },
  { name: "locality: distribute to an empty zone", yaml: locality("{distribute: [{from: a, to: {b//c: 100}}]}"), want: "error", message: "empty" },
  { name: "locality: distribute with wildcards", yaml: locality("{distribute: [{from: a/*, to: {b/*: 60, c: 40}}]}"), want: "valid" },
  { name: "locality: distribute to overlapping localities", yaml: locality("{distribute: [{from: a, to: {b: 50, b/c: 50}}]}"), want: "error", message: "overlap" },
  { name: "locality: distribute from overlapping localities", yaml: locality("{distribute: [{from: a, to: {b: 100}}, {from: a/z, to: {b: 100}}]}"), want: "error", message: "overlap" },
  { name: "locality: failoverPriority alone", yaml: locality("{failoverPriority: [topology.kubernetes.io/region]}"), want: "valid" },
  { name: "locality: failover with a network in failoverPriority", yaml: locality("{failover: [{from: a, to: b}], failoverPriority: [topology.istio.io/network]}"), want: "valid" },
  { name: "zone aware: minClusterSize 0", yaml: zoneAware("{minClusterSize: 0}"), want: "error" },
  // --- validateOutlierDetection
  { name: "outlier: consecutiveErrors 0 (unset)", yaml: outlier("{consecutiveErrors: 0}"), want: "valid" },
  { name: "outlier: local origin failures with the split", yaml: outlier("{consecutiveLocalOriginFailures: 10, splitExternalLocalOriginErrors: true}"), want: "valid" },
  { name: "outlier: local origin failures 0 without the split", yaml: outlier("{consecutiveLocalOriginFailures: 0}"), want: "valid" },
  { name: "outlier: HTTP error code 99", yaml: outlier("{outlierDetectionHttpErrorCodes: [99]}"), want: "error" },
  { name: "outlier: interval 0s", yaml: outlier("{interval: 0s}"), want: "error", message: "1ms" },
  { name: "outlier: consecutive5xxErrors -1", yaml: outlier("{consecutive5xxErrors: -1}"), want: "error" },
  // --- agent.ValidateTLS
  { name: "tls: mode BOGUS", yaml: tls("{mode: BOGUS}"), want: "error" },
  { name: "tls: SIMPLE, insecureSkipVerify with an empty caCertificates", yaml: tls("{mode: SIMPLE, caCertificates: '', insecureSkipVerify: true}"), want: "valid" },
  { name: "tls: SIMPLE, insecureSkipVerify with no subjectAltNames", yaml: tls("{mode: SIMPLE, subjectAltNames: [], insecureSkipVerify: true}"), want: "valid" },
  { name: "tls: SIMPLE credential with an empty clientCertificate", yaml: tls("{mode: SIMPLE, credentialName: c, clientCertificate: ''}"), want: "valid" },
  { name: "tls: SIMPLE credential with a CRL", yaml: tls("{mode: SIMPLE, credentialName: c, caCrl: crl.pem}"), want: "error", message: "credentialName" },
  { name: "tls: DISABLE with a credential and files (not checked)", yaml: tls("{mode: DISABLE, credentialName: c, clientCertificate: cert}"), want: "valid" },
  { name: "tls: ISTIO_MUTUAL with files (not checked)", yaml: tls("{mode: ISTIO_MUTUAL, clientCertificate: cert}"), want: "valid" },
  { name: "tls: MUTUAL with nothing", yaml: tls("{mode: MUTUAL}"), want: "error", message: "clientCertificate" },
  { name: "tls: configmap credential in the rule's namespace", yaml: tls("{mode: SIMPLE, credentialName: 'configmap://default/ca'}"), want: "valid" },
  { name: "tls: configmap credential in another namespace", yaml: tls("{mode: SIMPLE, credentialName: 'configmap://other/ca'}"), want: "error", message: "namespace" },
  { name: "tls: configmap credential without a namespace", yaml: tls("{mode: SIMPLE, credentialName: 'configmap://ca'}"), want: "error", message: "configmap" },
  { name: "tls: configmap credential with an empty name", yaml: tls("{mode: SIMPLE, credentialName: 'configmap://default/'}"), want: "error", message: "configmap" },
  { name: "tls: kubernetes:// credential in another namespace", yaml: tls("{mode: SIMPLE, credentialName: 'kubernetes://other/ca'}"), want: "valid" },
];

tableTest("traffic policy: Istio's cases", HEADER, ISTIO_TRAFFIC_POLICY);
tableTest("traffic policy: one case per rule", HEADER, MORE_TRAFFIC_POLICY);
