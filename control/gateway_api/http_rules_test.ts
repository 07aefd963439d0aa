/**
 * Istio's precedence of Gateway API routes, and the routes in the form mesh's proxies take
 * (path-segment prefixes, prefix rewrites and redirects split, invalid backends answered 500).
 */
import assert from "node:assert/strict";
import type { HTTPRoute } from "../../api/resources.ts";
import { meshRoutes, sortRoutes } from "./http_rules.ts";

const r = (
  name: string,
  match?: HTTPRoute["match"],
  extra: Partial<HTTPRoute> = {},
): HTTPRoute => ({
  name,
  ...(match ? { match } : {}),
  ...extra,
});

Deno.test("sortRoutes: exact, then longer prefixes, method, headers, query; no match last", () => {
  const routes = [
    r("none"),
    r("regex", [{ uri: { regex: "/a.*" } }]),
    r("prefix-short", [{ uri: { prefix: "/a" } }]),
    r("prefix-long", [{ uri: { prefix: "/a/b" } }]),
    r("prefix-method", [{ uri: { prefix: "/a" }, method: { exact: "GET" } }]),
    r("prefix-header", [{ uri: { prefix: "/a" }, headers: { x: { exact: "1" } } }]),
    r("prefix-2-headers", [{
      uri: { prefix: "/a" },
      headers: { x: { exact: "1" }, y: { exact: "2" } },
    }]),
    r("prefix-query", [{ uri: { prefix: "/a" }, queryParams: { q: { exact: "1" } } }]),
    r("exact", [{ uri: { exact: "/a" } }]),
  ];
  assert.deepEqual(sortRoutes(routes).map((x) => x.name), [
    "exact",
    "prefix-long",
    "prefix-method",
    "prefix-2-headers",
    "prefix-header",
    "prefix-query",
    "prefix-short",
    "regex",
    "none",
  ]);
});

const CASES: { name: string; in: HTTPRoute; out: HTTPRoute[] }[] = [
  {
    name: "prefix / matches everything as it is",
    in: r("a", [{ uri: { prefix: "/" } }]),
    out: [r("a", [{ uri: { prefix: "/" } }])],
  },
  {
    name: "prefix /foo: /foo and /foo/..., not /foobar",
    in: r("a", [{ uri: { prefix: "/foo" }, method: { exact: "GET" } }]),
    out: [
      r("a", [{ uri: { exact: "/foo" }, method: { exact: "GET" } }, {
        uri: { prefix: "/foo/" },
        method: { exact: "GET" },
      }]),
    ],
  },
  {
    name: "ReplacePrefixMatch /new: the exact path becomes /new, the rest keeps its tail",
    in: r("a", [{ uri: { prefix: "/old" } }], { rewrite: { uri: "/new" } }),
    out: [
      r("a", [{ uri: { exact: "/old" } }], { rewrite: { uri: "/new" } }),
      r("a", [{ uri: { prefix: "/old/" } }], { rewrite: { uri: "/new/" } }),
    ],
  },
  {
    name: "ReplacePrefixMatch / removes the prefix",
    in: r("a", [{ uri: { prefix: "/old" } }], { rewrite: { uri: "/" } }),
    out: [
      r("a", [{ uri: { exact: "/old" } }], { rewrite: { uri: "/" } }),
      r("a", [{ uri: { prefix: "/old/" } }], { rewrite: { uri: "/" } }),
    ],
  },
  {
    name: "a prefix redirect: the exact path redirects to the replacement",
    in: r("a", [{ uri: { prefix: "/old" } }], {
      redirect: { prefixRewrite: "/new", redirectCode: 302 },
    }),
    out: [
      r("a", [{ uri: { exact: "/old" } }], { redirect: { uri: "/new", redirectCode: 302 } }),
      r("a", [{ uri: { prefix: "/old/" } }], {
        redirect: { prefixRewrite: "/new/", redirectCode: 302 },
      }),
    ],
  },
  {
    name: "every backend invalid: 500",
    in: r("a", undefined, { route: [{ destination: { host: "" } }] }),
    out: [r("a", undefined, { directResponse: { status: 500 } })],
  },
  {
    name: "one of four weights invalid: a quarter of requests get 500",
    in: r("a", undefined, {
      route: [{ destination: { host: "" }, weight: 1 }, {
        destination: { host: "b.default.svc.cluster.local" },
        weight: 3,
      }],
    }),
    out: [r("a", undefined, {
      route: [{ destination: { host: "b.default.svc.cluster.local" }, weight: 3 }],
      fault: { abort: { httpStatus: 500, percentage: { value: 25 } } },
    })],
  },
];

for (const c of CASES) {
  Deno.test(`meshRoutes: ${c.name}`, () => assert.deepEqual(meshRoutes([c.in]), c.out));
}
