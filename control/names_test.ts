import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import { buildSnapshot } from "./snapshot.ts";
import { ServiceRegistry } from "./registry.ts";
import { allocateAddresses, nameTable } from "./names.ts";
import type { Service } from "./registry.ts";

const yaml = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.example.com]
  addresses: [10.20.0.7, 10.30.0.0/24]
  ports: [{ number: 5432, name: tcp-pg, protocol: TCP }, { number: 7000, name: other }]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wild, namespace: default }
spec:
  hosts: ["*.wild.example.com"]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: NONE
`;

const registry = () =>
  new ServiceRegistry(buildSnapshot({
    revision: 1,
    resources: parseResources(yaml, "t.yaml").resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  }));

Deno.test("name table: declared addresses, auto-allocated ones, ports and protocols", () => {
  const names = nameTable({ registry: registry(), include: undefined });
  assert.deepEqual(names.map((n) => n.host), [
    "*.wild.example.com",
    "db.example.com",
    "reviews.default.svc.cluster.local",
  ]);
  const [wild, db, reviews] = names;
  assert.deepEqual(wild.addresses, [], "a wildcard gets no address");
  assert.deepEqual(db.addresses, ["10.20.0.7"], "single addresses only: a CIDR isn't a name's");
  assert.equal(db.auto, undefined);
  assert.deepEqual(db.ports, [
    { port: 5432, protocol: "TCP" },
    { port: 7000, protocol: "HTTP", sniff: true },
  ]);
  assert.match(reviews.addresses[0], /^240\.240\.\d+\.\d+$/);
  assert.equal(reviews.auto, true);
  assert.equal(reviews.namespace, "default");
});

Deno.test("name table: allocation is stable and collisions move to the next free address", () => {
  const a =
    nameTable({ registry: registry(), include: undefined }).find((n) => n.auto)!.addresses[0];
  const b =
    nameTable({ registry: registry(), include: undefined }).find((n) => n.auto)!.addresses[0];
  assert.equal(a, b, "the same host, the same address, snapshot after snapshot");
  const svc = (host: string): Service => ({ host, namespace: "ns", ports: [], source: "x" });
  const many = Array.from({ length: 3000 }, (_, i) => svc(`s${i}.ns.svc.cluster.local`));
  const got = allocateAddresses(many);
  assert.equal(got.size, 3000);
  assert.equal(new Set(got.values()).size, 3000, "no two hosts share an address");
  for (const ip of got.values()) {
    const [, , c, d] = ip.split(".").map(Number);
    assert.ok(ip.startsWith("240.240.") && c * 256 + d >= 1 && c * 256 + d <= 65534, ip);
  }
  // Adding a host moves no other host (unless it collides with the newcomer's slot).
  const more = allocateAddresses([...many, svc("new.ns.svc.cluster.local")]);
  const moved = [...got].filter(([h, ip]) => more.get(h) !== ip);
  assert.ok(moved.length <= 1);
});

Deno.test("name table: a proxy's scope narrows it", () => {
  const names = nameTable({ registry: registry(), include: (s) => s.host === "db.example.com" });
  assert.deepEqual(names.map((n) => n.host), ["db.example.com"]);
});

Deno.test("name table: a VirtualService's tcp route gives a TCP port its weighted clusters", () => {
  const extra = parseResources(
    `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: default }
spec:
  host: db.example.com
  subsets: [{ name: a, labels: { v: a } }, { name: b, labels: { v: b } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: [db.example.com]
  tcp:
  - route:
    - { destination: { host: db.example.com, subset: a }, weight: 80 }
    - { destination: { host: db.example.com, subset: b }, weight: 20 }
`,
    "vs.yaml",
  ).resources;
  const snapshot = buildSnapshot({
    revision: 1,
    resources: [...parseResources(yaml, "t.yaml").resources, ...extra],
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  });
  const names = nameTable({
    registry: new ServiceRegistry(snapshot),
    include: undefined,
    virtualServices: snapshot.virtualServices,
    node: { namespace: "default", labels: {} },
  });
  const db = names.find((n) => n.host === "db.example.com")!;
  assert.deepEqual(db.ports.find((p) => p.port === 5432)?.destinations, [
    { cluster: "outbound|5432|a|db.example.com", weight: 80 },
    { cluster: "outbound|5432|b|db.example.com", weight: 20 },
  ]);
  assert.equal(db.ports.find((p) => p.port === 7000)?.destinations, undefined, "not a TCP port");
  const reviews = names.find((n) => n.host.startsWith("reviews"))!;
  assert.equal(reviews.ports[0].destinations, undefined);
});
