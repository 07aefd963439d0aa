/**
 * Runs each Bookinfo app as a child process (`--port 0`) and talks to it over HTTP. Other
 * services are played by fake mesh sidecars in this process, reached by the apps through
 * `HTTP_PROXY` (absolute-form requests) or `MESH_OUTBOUND` (origin-form requests + Host).
 *
 *   deno test -A examples/bookinfo/apps/
 */
import assert from "node:assert/strict";
import { FORWARDED_HEADERS, parseFlags, UsageError } from "./common.ts";

const START_TIMEOUT_MS = 20_000;

/** Environment for children: nothing inherited except what Deno itself needs. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "SystemRoot"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

interface App {
  url: string;
  stop(): Promise<void>;
}

/** Starts `<name>.ts --port 0 ...args`, waits for its `listening on` line. */
async function startApp(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<App> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-env",
      new URL(`./${name}.ts`, import.meta.url).href,
      "--port",
      "0",
      ...args,
    ],
    clearEnv: true,
    env: childEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";

  const finish = async (): Promise<{ code: number; rest: string; err: string }> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    let rest = buffered;
    while (true) {
      const { done, value } = await stdout.read();
      if (done) break;
      rest += value;
    }
    const { code } = await child.status;
    return { code, rest, err: await stderr };
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} did not start`)), START_TIMEOUT_MS);
    });
    while (!buffered.includes("\n")) {
      const { done, value } = await Promise.race([stdout.read(), deadline]);
      if (done) throw new Error(`${name} exited before listening`);
      buffered += value;
    }
  } catch (err) {
    const { err: text } = await finish();
    throw new Error(`${err}\n${text}`);
  } finally {
    clearTimeout(timer);
  }
  const newline = buffered.indexOf("\n");
  const line = buffered.slice(0, newline);
  buffered = buffered.slice(newline + 1);
  const match = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
  if (!match || match[2] === "0") {
    const { err } = await finish();
    throw new Error(`${name}: unexpected first line ${JSON.stringify(line)}\n${err}`);
  }
  return {
    url: match[1],
    async stop() {
      const { code, rest, err } = await finish();
      assert.equal(code, 0, `${name} should exit cleanly on SIGTERM; stderr:\n${err}`);
      assert.equal(rest, "", `${name} should print exactly one line to stdout`);
    },
  };
}

interface Seen {
  host: string;
  path: string;
  headers: Headers;
}

type Route = (req: Request) => Response | Promise<Response>;

interface FakeMesh {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** A Deno.serve that plays the sidecar: routes by Host (works for absolute- and origin-form). */
function fakeMesh(routes: Record<string, Route>): FakeMesh {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const host = req.headers.get("host") ?? "";
    const url = new URL(req.url);
    seen.push({ host, path: url.pathname, headers: req.headers });
    const route = routes[host];
    return route ? await route(req) : new Response(`no route to ${host}`, { status: 502 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

const jsonRoute = (data: unknown, status = 200): Route => () => Response.json(data, { status });

/** Far over the apps' 3 s outbound timeout: a request this slow is a hang. */
const HANG_MS = 30_000;

async function get(url: string, init?: RequestInit): Promise<{ res: Response; body: string }> {
  const res = await fetch(url, {
    redirect: "manual",
    signal: AbortSignal.timeout(HANG_MS),
    ...init,
  });
  return { res, body: await res.text() };
}

const RATINGS = { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } };

const TRACE_HEADERS: Record<string, string> = {
  "x-request-id": "req-123",
  "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  "tracestate": "vendor=abc",
  "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
  "x-b3-spanid": "e457b5a2e4d86bd1",
  "x-b3-parentspanid": "05e3ac9a4f6e3b90",
  "x-b3-sampled": "1",
  "x-b3-flags": "0",
  "b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
  "user-agent": "bookinfo-test/1.0",
};

Deno.test("parseFlags: defaults, PORT env, flags and errors", () => {
  const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
  assert.deepEqual(parseFlags([], env({})), { host: "127.0.0.1", port: 9080, version: "" });
  assert.equal(parseFlags([], env({ PORT: "8000" })).port, 8000);
  assert.equal(parseFlags(["--port", "0"], env({ PORT: "8000" })).port, 0);
  assert.deepEqual(
    parseFlags(["--host=0.0.0.0", "--port=81", "--version", "v3"], env({}), {
      versions: ["v1", "v2", "v3"],
      defaultVersion: "v1",
    }),
    { host: "0.0.0.0", port: 81, version: "v3" },
  );
  assert.throws(() => parseFlags(["--port", "x"], env({})), UsageError);
  assert.throws(() => parseFlags(["--port", "70000"], env({})), UsageError);
  assert.throws(() => parseFlags(["--port"], env({})), UsageError);
  assert.throws(() => parseFlags(["--version", "v2"], env({})), UsageError);
  assert.throws(() => parseFlags(["--version", "v4"], env({}), { versions: ["v1"] }), UsageError);
  assert.throws(() => parseFlags(["--bogus"], env({})), UsageError);
});

Deno.test("details serves the book and health", async () => {
  const app = await startApp("details");
  try {
    const { res, body } = await get(`${app.url}/details/0`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const details = JSON.parse(body);
    assert.deepEqual(Object.keys(details).sort(), [
      "ISBN-10",
      "ISBN-13",
      "author",
      "id",
      "language",
      "pages",
      "publisher",
      "type",
      "year",
    ]);
    assert.equal(details.id, 0);
    assert.equal(details.author, "William Shakespeare");
    assert.equal((await get(`${app.url}/details/7`)).body.includes('"id":7'), true);
    assert.equal((await get(`${app.url}/health`)).res.status, 200);
    assert.equal((await get(`${app.url}/details/abc`)).res.status, 400);
    assert.equal((await get(`${app.url}/nope`)).res.status, 404);
  } finally {
    await app.stop();
  }
});

Deno.test("ratings serves two ratings; --port 0 overrides PORT", async () => {
  const app = await startApp("ratings", [], { PORT: "1" });
  try {
    const { res, body } = await get(`${app.url}/ratings/0`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(body), RATINGS);
    assert.equal((await get(`${app.url}/health`)).res.status, 200);
  } finally {
    await app.stop();
  }
});

Deno.test("reviews v1 has no ratings and never calls ratings", async () => {
  const mesh = fakeMesh({ "ratings:9080": jsonRoute(RATINGS) });
  const app = await startApp("reviews", ["--version", "v1"], { HTTP_PROXY: mesh.url });
  try {
    const data = JSON.parse((await get(`${app.url}/reviews/0`)).body);
    assert.equal(data.id, 0);
    assert.equal(data.podname, "reviews-v1");
    assert.equal(typeof data.clustername, "string");
    assert.equal(data.reviews.length, 2);
    for (const review of data.reviews) {
      assert.equal(typeof review.reviewer, "string");
      assert.equal(typeof review.text, "string");
      assert.equal("rating" in review, false);
    }
    assert.equal(mesh.seen.length, 0);
    assert.equal((await get(`${app.url}/health`)).res.status, 200);
  } finally {
    await app.stop();
    await mesh.close();
  }
});

for (
  const [version, color, via] of [
    ["v2", "black", "HTTP_PROXY"],
    ["v3", "red", "HTTP_PROXY"],
    ["v2", "black", "MESH_OUTBOUND"],
    ["v3", "red", "MESH_OUTBOUND"],
  ] as const
) {
  Deno.test(`reviews ${version} shows ${color} stars via ${via} and forwards headers`, async () => {
    const mesh = fakeMesh({ "ratings:9080": jsonRoute(RATINGS) });
    const app = await startApp("reviews", ["--version", version], { [via]: mesh.url });
    try {
      const { body } = await get(`${app.url}/reviews/0`, {
        headers: { ...TRACE_HEADERS, "end-user": "jason", "x-not-forwarded": "secret" },
      });
      const data = JSON.parse(body);
      assert.equal(data.podname, `reviews-${version}`);
      assert.deepEqual(data.reviews.map((r: { rating: unknown }) => r.rating), [
        { stars: 5, color },
        { stars: 4, color },
      ]);
      assert.equal(mesh.seen.length, 1);
      const [call] = mesh.seen;
      assert.equal(call.host, "ratings:9080");
      assert.equal(call.path, "/ratings/0");
      for (const [name, value] of Object.entries(TRACE_HEADERS)) {
        assert.equal(call.headers.get(name), value, name);
      }
      assert.equal(call.headers.get("end-user"), "jason");
      assert.equal(call.headers.get("x-not-forwarded"), null);
    } finally {
      await app.stop();
      await mesh.close();
    }
  });
}

Deno.test("reviews v2 reports ratings errors (HTTP 500, unreachable) quickly", async () => {
  const mesh = fakeMesh({ "ratings:9080": jsonRoute({ error: "boom" }, 500) });
  const viaMesh = await startApp("reviews", ["--version", "v2"], { HTTP_PROXY: mesh.url });
  // No proxy at all: `ratings` does not resolve, which must fail fast rather than hang.
  const direct = await startApp("reviews", ["--version", "v2"]);
  try {
    for (const app of [viaMesh, direct]) {
      // A hang would fail get() (HANG_MS); how fast is not asserted (it depends on load).
      const data = JSON.parse((await get(`${app.url}/reviews/0`)).body);
      for (const review of data.reviews) {
        assert.deepEqual(review.rating, { error: "Ratings service is currently unavailable" });
      }
    }
  } finally {
    await viaMesh.stop();
    await direct.stop();
    await mesh.close();
  }
});

/** A raw TCP "proxy" that records request heads, to see exactly what goes on the wire. */
function rawProxy(body: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const heads: string[] = [];
  const handle = async (conn: Deno.Conn) => {
    try {
      let text = "";
      const buf = new Uint8Array(4096);
      while (!text.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      heads.push(text.slice(0, text.indexOf("\r\n\r\n")));
      const bytes = new TextEncoder().encode(body);
      const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
        `content-length: ${bytes.byteLength}\r\nconnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      await conn.write(bytes);
    } finally {
      conn.close();
    }
  };
  const loop = (async () => {
    const pending: Promise<void>[] = [];
    for await (const conn of listener) pending.push(handle(conn));
    await Promise.allSettled(pending);
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    heads,
    async close() {
      listener.close();
      await loop;
    },
  };
}

Deno.test("wire format: HTTP_PROXY sends absolute-form, MESH_OUTBOUND origin-form", async () => {
  const proxy = rawProxy(JSON.stringify(RATINGS));
  const viaProxy = await startApp("reviews", ["--version", "v2"], { HTTP_PROXY: proxy.url });
  const viaOutbound = await startApp("reviews", ["--version", "v3"], {
    MESH_OUTBOUND: proxy.url,
    // Proxy variables must not affect MESH_OUTBOUND.
    HTTP_PROXY: "http://127.0.0.1:9",
    NO_PROXY: "*",
  });
  try {
    const a = JSON.parse((await get(`${viaProxy.url}/reviews/0`)).body);
    assert.deepEqual(a.reviews[0].rating, { stars: 5, color: "black" });
    const b = JSON.parse((await get(`${viaOutbound.url}/reviews/0`)).body);
    assert.deepEqual(b.reviews[1].rating, { stars: 4, color: "red" });
    assert.equal(proxy.heads.length, 2);
    const [absolute, origin] = proxy.heads.map((h) => h.split("\r\n"));
    assert.equal(absolute[0], "GET http://ratings:9080/ratings/0 HTTP/1.1");
    assert.ok(absolute.includes("host: ratings:9080"), absolute.join("\n"));
    assert.equal(origin[0], "GET /ratings/0 HTTP/1.1");
    assert.ok(origin.includes("host: ratings:9080"), origin.join("\n"));
  } finally {
    await viaProxy.stop();
    await viaOutbound.stop();
    await proxy.close();
  }
});

const DETAILS = {
  id: 0,
  author: "William Shakespeare",
  year: 1595,
  type: "paperback",
  pages: 200,
  publisher: "PublisherA",
  language: "English",
  "ISBN-10": "1234567890",
  "ISBN-13": "123-1234567890",
};

function reviewsJson(version: "v1" | "v2" | "v3") {
  const color = version === "v3" ? "red" : "black";
  const rating = (stars: number) => version === "v1" ? {} : { rating: { stars, color } };
  return {
    id: 0,
    podname: `reviews-${version}`,
    clustername: "test",
    reviews: [
      { reviewer: "Reviewer1", text: "Great <fun>", ...rating(5) },
      { reviewer: "Reviewer2", text: "Good", ...rating(4) },
    ],
  };
}

Deno.test("productpage renders details and v1/v2/v3 reviews through the mesh", async () => {
  let version: "v1" | "v2" | "v3" = "v1";
  const mesh = fakeMesh({
    "details:9080": jsonRoute(DETAILS),
    "reviews:9080": () => Response.json(reviewsJson(version)),
  });
  const app = await startApp("productpage", [], { HTTP_PROXY: mesh.url });
  try {
    const pages: Record<string, string> = {};
    for (const v of ["v1", "v2", "v3"] as const) {
      version = v;
      const { res, body } = await get(`${app.url}/productpage`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      assert.match(body, /<title>Simple Bookstore App<\/title>/);
      assert.match(body, /The Comedy of Errors/);
      assert.match(body, /William Shakespeare/);
      assert.match(body, /123-1234567890/);
      assert.match(body, /Reviewer1/);
      assert.match(body, /Great &#60;fun&#62;/, "review text is escaped");
      assert.ok(body.includes(`Reviews served by: reviews-${v}`));
      pages[v] = body;
    }
    assert.doesNotMatch(pages.v1, /glyphicon|stars|black|red/);
    assert.match(pages.v2, /class="stars black"/);
    assert.match(pages.v2, /class="glyphicon glyphicon-star black"/);
    assert.equal(pages.v2.match(/glyphicon-star black/g)?.length, 9, "5 + 4 full stars");
    assert.doesNotMatch(pages.v2, /\bred\b/);
    assert.match(pages.v3, /class="stars red"/);
    assert.match(pages.v3, /class="glyphicon glyphicon-star red"/);
    assert.doesNotMatch(pages.v3, /\bblack\b/);
    assert.deepEqual(
      new Set(mesh.seen.map((s) => `${s.host}${s.path}`)),
      new Set(["details:9080/details/0", "reviews:9080/reviews/0"]),
    );
  } finally {
    await app.stop();
    await mesh.close();
  }
});

Deno.test("productpage forwards end-user (cookie or header) and tracing headers", async () => {
  const mesh = fakeMesh({
    "details:9080": jsonRoute(DETAILS),
    "reviews:9080": jsonRoute(reviewsJson("v2")),
  });
  const app = await startApp("productpage", [], { MESH_OUTBOUND: mesh.url });
  try {
    // Sign in: POST form -> cookie + redirect.
    const login = await get(`${app.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "jason", passwd: "x" }),
    });
    assert.equal(login.res.status, 302);
    assert.equal(login.res.headers.get("location"), "/productpage");
    const cookie = (login.res.headers.get("set-cookie") ?? "").split(";")[0];
    assert.equal(cookie, "user=jason");

    const signedIn = await get(`${app.url}/productpage`, {
      headers: { ...TRACE_HEADERS, cookie, "x-not-forwarded": "1" },
    });
    assert.match(signedIn.body, /jason/);
    const toReviews = mesh.seen.filter((s) => s.host === "reviews:9080");
    assert.equal(toReviews.length, 1);
    assert.equal(toReviews[0].headers.get("end-user"), "jason");
    for (const [name, value] of Object.entries(TRACE_HEADERS)) {
      assert.equal(toReviews[0].headers.get(name), value, name);
    }
    assert.equal(toReviews[0].headers.get("x-not-forwarded"), null);
    assert.equal(toReviews[0].headers.get("cookie"), null);

    // No cookie, but an inbound end-user header: passed on as is.
    mesh.seen.length = 0;
    await get(`${app.url}/productpage`, { headers: { "end-user": "alice" } });
    assert.equal(
      mesh.seen.find((s) => s.host === "reviews:9080")?.headers.get("end-user"),
      "alice",
    );

    // Anonymous: no end-user at all.
    mesh.seen.length = 0;
    await get(`${app.url}/productpage`);
    assert.equal(mesh.seen.find((s) => s.host === "reviews:9080")?.headers.get("end-user"), null);

    // GET /login?username=..., then logout clears the cookie.
    const viaGet = await get(`${app.url}/login?username=bob`);
    assert.equal(viaGet.res.status, 302);
    assert.match(viaGet.res.headers.get("set-cookie") ?? "", /^user=bob;/);
    const logout = await get(`${app.url}/logout`, { headers: { cookie } });
    assert.equal(logout.res.status, 302);
    assert.match(logout.res.headers.get("set-cookie") ?? "", /^user=;.*Max-Age=0/);
    assert.equal((await get(`${app.url}/login`, { method: "POST", body: "" })).res.status, 400);
  } finally {
    await app.stop();
    await mesh.close();
  }
});

Deno.test("productpage shows apologies when details and reviews fail", async () => {
  const mesh = fakeMesh({ "reviews:9080": jsonRoute({ error: "down" }, 503) });
  const viaMesh = await startApp("productpage", [], { HTTP_PROXY: mesh.url });
  const direct = await startApp("productpage"); // no proxy: DNS failure for details/reviews
  try {
    for (const app of [viaMesh, direct]) {
      const { res, body } = await get(`${app.url}/productpage`);
      assert.equal(res.status, 200);
      assert.ok(body.includes("Sorry, product details are currently unavailable for this book."));
      assert.ok(body.includes("Sorry, product reviews are currently unavailable for this book."));
    }
  } finally {
    await viaMesh.stop();
    await direct.stop();
    await mesh.close();
  }
});

Deno.test("productpage index, health, static and JSON API", async () => {
  const mesh = fakeMesh({
    "details:9080": jsonRoute(DETAILS),
    "reviews:9080": jsonRoute(reviewsJson("v3")),
    "ratings:9080": jsonRoute(RATINGS),
  });
  const app = await startApp("productpage", [], { HTTP_PROXY: mesh.url });
  try {
    const index = await get(`${app.url}/`);
    assert.equal(index.res.status, 200);
    assert.match(index.body, /href="\/productpage"/);
    assert.equal((await get(`${app.url}/health`)).res.status, 200);
    const css = await get(`${app.url}/static/bookinfo.css`);
    assert.equal(css.res.status, 200);
    assert.match(css.res.headers.get("content-type") ?? "", /text\/css/);
    const products = JSON.parse((await get(`${app.url}/api/v1/products`)).body);
    assert.equal(products[0].id, 0);
    assert.equal(products[0].title, "The Comedy of Errors");
    assert.deepEqual(JSON.parse((await get(`${app.url}/api/v1/products/0`)).body), DETAILS);
    assert.deepEqual(
      JSON.parse((await get(`${app.url}/api/v1/products/0/reviews`)).body),
      reviewsJson("v3"),
    );
    assert.deepEqual(
      JSON.parse((await get(`${app.url}/api/v1/products/0/ratings`)).body),
      RATINGS,
    );
    assert.equal((await get(`${app.url}/api/v1/products/x`)).res.status, 400);
    assert.equal((await get(`${app.url}/missing`)).res.status, 404);
  } finally {
    await app.stop();
    await mesh.close();
  }
});

Deno.test("all four apps chained through a routing fake mesh", async () => {
  const apps: Record<string, App> = {};
  const forward = (name: string): Route => async (req) => {
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(`${apps[name].url}${url.pathname}${url.search}`, { headers });
    const out = new Headers(res.headers);
    out.delete("content-encoding"); // fetch already decoded the body
    out.delete("content-length");
    return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
  };
  const mesh = fakeMesh({
    "details:9080": forward("details"),
    "reviews:9080": forward("reviews"),
    "ratings:9080": forward("ratings"),
  });
  try {
    apps.details = await startApp("details");
    apps.ratings = await startApp("ratings");
    apps.reviews = await startApp("reviews", ["--version", "v3"], { MESH_OUTBOUND: mesh.url });
    apps.productpage = await startApp("productpage", [], { HTTP_PROXY: mesh.url });
    const { body } = await get(`${apps.productpage.url}/productpage`, {
      headers: { cookie: "user=jason", "x-request-id": "chain-1" },
    });
    assert.match(body, /William Shakespeare/);
    assert.ok(body.includes("Reviews served by: reviews-v3"));
    assert.equal(body.match(/glyphicon-star red/g)?.length, 9);
    const toRatings = mesh.seen.find((s) => s.host === "ratings:9080");
    assert.ok(toRatings, "reviews called ratings through the mesh");
    assert.equal(toRatings.headers.get("end-user"), "jason");
    assert.equal(toRatings.headers.get("x-request-id"), "chain-1");
  } finally {
    for (const app of Object.values(apps)) await app.stop();
    await mesh.close();
  }
});

Deno.test("FORWARDED_HEADERS matches the documented list", () => {
  assert.deepEqual(
    [...FORWARDED_HEADERS].sort(),
    [...Object.keys(TRACE_HEADERS), "end-user"].sort(),
  );
});

Deno.test("outbound calls are bounded by a timeout when the upstream hangs", async () => {
  const release = Promise.withResolvers<void>();
  const hang: Route = async () => {
    await release.promise;
    return new Response("too late", { status: 504 });
  };
  const mesh = fakeMesh({ "ratings:9080": hang, "details:9080": hang, "reviews:9080": hang });
  const apps = await Promise.all([
    startApp("reviews", ["--version", "v2"], { HTTP_PROXY: mesh.url }),
    startApp("reviews", ["--version", "v3"], { MESH_OUTBOUND: mesh.url }),
    startApp("productpage", [], { HTTP_PROXY: mesh.url }),
  ]);
  try {
    const [a, b, page] = await Promise.all([
      get(`${apps[0].url}/reviews/0`),
      get(`${apps[1].url}/reviews/0`),
      get(`${apps[2].url}/productpage`),
    ]);
    // The calls reached the hung upstream, which never answered (it is released only below):
    // the apps' outbound timeout answered, not a quicker failure such as a refused connection
    // (a hang would fail get() after HANG_MS).
    for (const host of ["ratings:9080", "details:9080", "reviews:9080"]) {
      assert.ok(mesh.seen.some((r) => r.host === host), `${host} was called`);
    }
    for (const { body } of [a, b]) {
      assert.deepEqual(JSON.parse(body).reviews[0].rating, {
        error: "Ratings service is currently unavailable",
      });
    }
    assert.ok(page.body.includes("Sorry, product reviews are currently unavailable"));
    assert.ok(page.body.includes("Sorry, product details are currently unavailable"));
  } finally {
    release.resolve();
    for (const app of apps) await app.stop();
    await mesh.close();
  }
});
