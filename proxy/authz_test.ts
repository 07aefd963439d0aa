import assert from "node:assert/strict";
import type { AuthzPolicy } from "../api/proxy_config.ts";
import { type AuthzRequest, authzStringMatch, compileAuthz, ipInBlock } from "./authz.ts";

function req(over: Partial<AuthzRequest> = {}): AuthzRequest {
  const headers: Record<string, string> = { "x-token": "abc" };
  return {
    principal: "cluster.local/ns/default/sa/productpage",
    sourceIp: "127.0.0.1",
    host: "reviews:9080",
    port: 9080,
    method: "GET",
    path: "/reviews/1?x=1",
    header: (n) => headers[n],
    ...over,
  };
}

Deno.test("string matching: exact, prefix*, *suffix, * (non-empty)", () => {
  assert.equal(authzStringMatch("/api/*", "/api/v1"), true);
  assert.equal(authzStringMatch("*.png", "/a/b.png"), true);
  assert.equal(authzStringMatch("*", ""), false);
  assert.equal(authzStringMatch("*", "x"), true);
  assert.equal(authzStringMatch("GET", "POST"), false);
  assert.equal(authzStringMatch("GET", undefined), false);
});

Deno.test("ipInBlock: CIDRs and single addresses", () => {
  assert.equal(ipInBlock("127.0.0.1", "127.0.0.0/8"), true);
  assert.equal(ipInBlock("10.1.2.3", "10.1.0.0/16"), true);
  assert.equal(ipInBlock("10.2.0.1", "10.1.0.0/16"), false);
  assert.equal(ipInBlock("::ffff:127.0.0.1", "127.0.0.1"), true);
  assert.equal(ipInBlock("1.2.3.4", "0.0.0.0/0"), true);
});

Deno.test("no policies allow everything; an empty ALLOW policy allows nothing", () => {
  assert.deepEqual(compileAuthz([])(req()), { allowed: true });
  const nothing = compileAuthz([{ name: "ns/allow-nothing", action: "ALLOW", rules: [] }]);
  assert.equal(nothing(req()).allowed, false);
  const all = compileAuthz([{ name: "ns/allow-all", action: "ALLOW", rules: [{}] }]);
  assert.equal(all(req()).allowed, true);
});

Deno.test("ALLOW by principal, namespace, method, path (query ignored), port, header", () => {
  const check = compileAuthz([{
    name: "default/reviews-viewer",
    action: "ALLOW",
    rules: [{
      from: [{ principals: ["cluster.local/ns/default/sa/productpage"] }],
      to: [{ methods: ["GET"], paths: ["/reviews/*"], ports: ["9080"] }],
      when: [{ key: "request.headers[x-token]", values: ["abc"] }],
    }, {
      from: [{ namespaces: ["monitoring"] }],
    }],
  }]);
  assert.equal(check(req()).allowed, true);
  assert.equal(check(req({ method: "DELETE" })).allowed, false);
  assert.equal(check(req({ path: "/admin" })).allowed, false);
  assert.equal(check(req({ principal: "cluster.local/ns/default/sa/other" })).allowed, false);
  assert.equal(check(req({ header: () => undefined })).allowed, false);
  assert.equal(
    check(req({ principal: "cluster.local/ns/monitoring/sa/prom", method: "DELETE" })).allowed,
    true,
  );
});

Deno.test("DENY wins over ALLOW; notValues, notPaths and source.namespace conditions", () => {
  const policies: AuthzPolicy[] = [
    { name: "default/allow-all", action: "ALLOW", rules: [{}] },
    {
      name: "default/deny-admin",
      action: "DENY",
      rules: [{ to: [{ paths: ["/admin*"] }] }, {
        when: [{ key: "source.namespace", notValues: ["default"] }],
      }],
    },
  ];
  const check = compileAuthz(policies);
  assert.deepEqual(check(req({ path: "/admin/x" })), {
    allowed: false,
    policy: "default/deny-admin",
  });
  assert.equal(check(req()).allowed, true);
  assert.equal(check(req({ principal: "cluster.local/ns/other/sa/x" })).allowed, false);
  const notPaths = compileAuthz([{
    name: "d/p",
    action: "ALLOW",
    rules: [{ to: [{ notPaths: ["/private*"] }] }],
  }]);
  assert.equal(notPaths(req({ path: "/private/1" })).allowed, false);
  assert.equal(notPaths(req({ path: "/public" })).allowed, true);
});

Deno.test("TCP: HTTP-only fields make ALLOW rules miss and DENY rules broader", () => {
  const allow = compileAuthz([{
    name: "d/a",
    action: "ALLOW",
    rules: [{ to: [{ methods: ["GET"] }] }, { to: [{ ports: ["5432"] }] }],
  }]);
  assert.equal(allow(req({ tcp: true, port: 9080 })).allowed, false);
  assert.equal(allow(req({ tcp: true, port: 5432 })).allowed, true);
  const deny = compileAuthz([{
    name: "d/d",
    action: "DENY",
    rules: [{ to: [{ methods: ["POST"], ports: ["5432"] }] }],
  }]);
  assert.equal(deny(req({ tcp: true, port: 5432 })).allowed, false);
  assert.equal(deny(req({ tcp: true, port: 9080 })).allowed, true);
});

Deno.test("ipInBlock: IPv6 ranges, mapped IPv4, and blocks of the other family", () => {
  assert.equal(ipInBlock("2001:db8::1", "2001:db8::/32"), true);
  assert.equal(ipInBlock("2001:db9::1", "2001:db8::/32"), false);
  assert.equal(ipInBlock("::1", "::1"), true);
  assert.equal(ipInBlock("::ffff:10.0.0.5", "10.0.0.0/24"), true);
  assert.equal(ipInBlock("10.0.0.5", "2001:db8::/32"), false);
  assert.equal(ipInBlock("", "10.0.0.0/8"), undefined);
  assert.equal(ipInBlock("fe80::1%eth0", "fe80::/10"), true);
});

Deno.test("JWT identity: requestPrincipals, request.auth.* and claims (lists, nested, scope)", () => {
  const auth = {
    principal: "issuer.example/alice",
    audiences: ["shop", "admin"],
    presenter: "web",
    claims: { groups: ["g1", "g2"], org: { team: "blue" }, scope: "read write", n: 7 },
    spaceDelimited: new Set(["scope", "permission"]),
  };
  const allow = (rule: AuthzPolicy["rules"][number]) =>
    compileAuthz([{ name: "default/p", action: "ALLOW", rules: [rule] }]);
  const any = allow({ from: [{ requestPrincipals: ["*"] }] });
  assert.equal(any(req({ auth })).allowed, true);
  assert.equal(any(req()).allowed, false, "no token, no request principal");
  assert.equal(
    allow({ from: [{ requestPrincipals: ["issuer.example/*"] }] })(req({ auth })).allowed,
    true,
  );
  assert.equal(allow({ from: [{ notRequestPrincipals: ["*"] }] })(req()).allowed, true);
  const when = (key: string, values: string[]) =>
    allow({ when: [{ key, values }] })(req({ auth })).allowed;
  assert.equal(when("request.auth.principal", ["issuer.example/alice"]), true);
  assert.equal(when("request.auth.audiences", ["admin"]), true);
  assert.equal(when("request.auth.audiences", ["other"]), false);
  assert.equal(when("request.auth.presenter", ["web"]), true);
  assert.equal(when("request.auth.claims[groups]", ["g2"]), true);
  assert.equal(when("request.auth.claims[groups]", ["g3"]), false);
  assert.equal(when("request.auth.claims[org][team]", ["blue"]), true);
  assert.equal(when("request.auth.claims[scope]", ["write"]), true);
  assert.equal(when("request.auth.claims[n]", ["7"]), true);
  assert.equal(
    allow({ when: [{ key: "request.auth.claims[groups]", values: ["g1"] }] })(req()).allowed,
    false,
  );
  const not = allow({ when: [{ key: "request.auth.claims[groups]", notValues: ["g1"] }] });
  assert.equal(not(req({ auth })).allowed, false);
  // TCP: a request identity can't exist; DENY with requestPrincipals becomes broader.
  const deny = compileAuthz([{
    name: "default/d",
    action: "DENY",
    rules: [{ from: [{ requestPrincipals: ["*"] }] }],
  }]);
  assert.equal(deny(req({ tcp: true })).allowed, false);
  assert.equal(any(req({ tcp: true })).allowed, false);
});
