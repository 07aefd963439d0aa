/**
 * Bookinfo "productpage" service: the HTML front end. It calls `http://details:9080/details/0`
 * and `http://reviews:9080/reviews/0` (through the mesh, see common.ts) and renders both.
 *
 * Routes:
 *   GET  /                                 index page
 *   GET  /productpage                      the book page ("Simple Bookstore App")
 *   GET  /api/v1/products                  JSON list of products
 *   GET  /api/v1/products/<id>             details (from the details service)
 *   GET  /api/v1/products/<id>/reviews     reviews (from the reviews service)
 *   GET  /api/v1/products/<id>/ratings     ratings (from the ratings service)
 *   POST /login  (form field `username`)   sets the `user` cookie, redirects to /productpage
 *   GET  /login?username=<name>            same; without `username` shows a sign-in form
 *   GET  /logout                           clears the cookie, redirects to /productpage
 *   GET  /static/<name>.css                a small style sheet
 *   GET  /health                           200
 *
 * Outbound calls carry the propagated request headers (see FORWARDED_HEADERS). When the `user`
 * cookie is set it is sent as `end-user: <user>`; otherwise an inbound `end-user` header is
 * passed on unchanged.
 *
 *   deno run --allow-net --allow-env examples/bookinfo/apps/productpage.ts [--port N] [--host H]
 */
import {
  escapeHtml,
  forwardHeaders,
  health,
  html,
  isRead,
  json,
  meshFetch,
  methodNotAllowed,
  notFound,
  parseId,
  runApp,
} from "./common.ts";

export const TITLE = "Simple Bookstore App";
export const DETAILS_UNAVAILABLE =
  "Sorry, product details are currently unavailable for this book.";
export const REVIEWS_UNAVAILABLE =
  "Sorry, product reviews are currently unavailable for this book.";

const PRODUCT = {
  id: 0,
  title: "The Comedy of Errors",
  descriptionHtml: "Two sets of identical twins, separated when they were infants, all turn up " +
    "in the same town on the same day. Nobody, least of all the twins themselves, can tell who " +
    "is who. One of <b>Shakespeare</b>'s earliest and shortest plays.",
};

const CSS =
  `body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 56rem; padding: 1rem; }
header { display: flex; justify-content: space-between; align-items: center; }
.details dt { font-weight: bold; }
.review { border-left: 4px solid #ccc; margin: 1rem 0; padding: 0.25rem 1rem; }
.stars { font-size: 1.2rem; }
.stars.red { color: #c62828; }
.stars.black { color: #111; }
.unavailable, .rating-error { color: #8a6d3b; }
`;

const USER_COOKIE = "user";
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

function userFromCookie(req: Request): string | null {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== USER_COOKIE) continue;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
    return USERNAME.test(value) ? value : null;
  }
  return null;
}

/** Headers for calls to the other services: the propagated set plus `end-user` from the cookie. */
export function outboundHeaders(req: Request): Headers {
  const user = userFromCookie(req);
  return forwardHeaders(req.headers, user ? { "end-user": user } : undefined);
}

type Fetched = { ok: true; data: unknown } | { ok: false; status: number };

async function getJson(url: string, headers: Headers): Promise<Fetched> {
  try {
    const res = await meshFetch(url, { headers });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, status: res.status };
    }
    return { ok: true, data: await res.json() };
  } catch {
    return { ok: false, status: 503 };
  }
}

const getDetails = (id: number, headers: Headers) =>
  getJson(`http://details:9080/details/${id}`, headers);
const getReviews = (id: number, headers: Headers) =>
  getJson(`http://reviews:9080/reviews/${id}`, headers);
const getRatings = (id: number, headers: Headers) =>
  getJson(`http://ratings:9080/ratings/${id}`, headers);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return escapeHtml(typeof value === "string" ? value : JSON.stringify(value) ?? "");
}

const DETAIL_FIELDS: readonly [string, string][] = [
  ["author", "Author"],
  ["year", "Year"],
  ["type", "Type"],
  ["pages", "Pages"],
  ["publisher", "Publisher"],
  ["language", "Language"],
  ["ISBN-10", "ISBN-10"],
  ["ISBN-13", "ISBN-13"],
];

function renderDetails(fetched: Fetched): string {
  if (!fetched.ok || !isRecord(fetched.data)) {
    return `<p class="unavailable details-unavailable">${DETAILS_UNAVAILABLE}</p>`;
  }
  const details = fetched.data;
  const rows = DETAIL_FIELDS.filter(([key]) => key in details)
    .map(([key, label]) => `<dt>${label}</dt><dd class="detail-${key}">${text(details[key])}</dd>`)
    .join("\n      ");
  return `<dl class="details">\n      ${rows}\n    </dl>`;
}

function renderStars(stars: number, color: string): string {
  const full = Math.max(0, Math.min(5, Math.round(stars)));
  const glyph = (kind: string, char: string) =>
    `<span class="glyphicon glyphicon-${kind} ${color}" aria-hidden="true">${char}</span>`;
  return `<span class="stars ${color}" data-stars="${full}" data-color="${color}" ` +
    `title="${full} of 5 stars">${glyph("star", "★").repeat(full)}` +
    `${glyph("star-empty", "☆").repeat(5 - full)}</span> ` +
    `<span class="rating-label">${full}/5 stars (${color})</span>`;
}

function renderRating(rating: unknown): string {
  if (!isRecord(rating)) return "";
  if (typeof rating.stars === "number") {
    const color = typeof rating.color === "string" && /^[a-z]{1,20}$/.test(rating.color)
      ? rating.color
      : "black";
    return `<p class="rating">${renderStars(rating.stars, color)}</p>`;
  }
  if (typeof rating.error === "string") {
    return `<p class="rating-error">${escapeHtml(rating.error)}</p>`;
  }
  return "";
}

function renderReviews(fetched: Fetched): string {
  if (!fetched.ok || !isRecord(fetched.data) || !Array.isArray(fetched.data.reviews)) {
    return `<p class="unavailable reviews-unavailable">${REVIEWS_UNAVAILABLE}</p>`;
  }
  const { podname, clustername, reviews } = fetched.data;
  const items = reviews.filter(isRecord).map((review) =>
    `<blockquote class="review">
      <p class="review-text">${text(review.text)}</p>
      <footer class="reviewer">${text(review.reviewer)}</footer>
      ${renderRating(review.rating)}
    </blockquote>`
  ).join("\n    ");
  const servedBy = typeof podname === "string"
    ? `<p class="served-by">Reviews served by: ${escapeHtml(podname)}` +
      (typeof clustername === "string" ? ` (cluster ${escapeHtml(clustername)})` : "") +
      "</p>"
    : "";
  return `${items}\n    ${servedBy}`;
}

function page(body: string, user: string | null): string {
  const account = user
    ? `<span class="user">Signed in as <b>${escapeHtml(user)}</b></span>
      <a href="/logout">Sign out</a>`
    : `<form method="post" action="/login">
        <input name="username" placeholder="User name">
        <input name="passwd" type="password" placeholder="Password">
        <button type="submit">Sign in</button>
      </form>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>${TITLE}</title>
  <link rel="stylesheet" href="/static/bookinfo.css">
</head>
<body>
  <header>
    <a href="/">${TITLE}</a>
    <div class="account">
      ${account}
    </div>
  </header>
  ${body}
</body>
</html>
`;
}

async function productPage(req: Request): Promise<Response> {
  const headers = outboundHeaders(req);
  const [details, reviews] = await Promise.all([
    getDetails(PRODUCT.id, headers),
    getReviews(PRODUCT.id, headers),
  ]);
  const body = `<main>
    <h1 class="title">${PRODUCT.title}</h1>
    <p class="summary">${PRODUCT.descriptionHtml}</p>
    <section class="book-details">
    <h2>Book Details</h2>
    ${renderDetails(details)}
    </section>
    <section class="book-reviews">
    <h2>Book Reviews</h2>
    ${renderReviews(reviews)}
    </section>
  </main>`;
  return html(page(body, userFromCookie(req)));
}

function indexPage(req: Request): Response {
  const body = `<main>
    <h1>${TITLE}</h1>
    <p>A small bookstore made of four services: <b>productpage</b> (this page), <b>details</b>,
    <b>reviews</b> (three versions) and <b>ratings</b>.</p>
    <p><a href="/productpage">Open the product page</a> &middot;
    <a href="/api/v1/products">Products API</a></p>
  </main>`;
  return html(page(body, userFromCookie(req)));
}

function loginForm(): Response {
  return html(page(
    `<main><h1>Sign in</h1><p>Use the form above; any user name will do.</p></main>`,
    null,
  ));
}

function signIn(username: string | null): Response {
  const name = (username ?? "").trim();
  if (!USERNAME.test(name)) {
    return html(
      page(
        "<main><p>Invalid user name: use 1-64 letters, digits, dots, dashes, @ or _.</p></main>",
        null,
      ),
      400,
    );
  }
  return new Response(null, {
    status: 302,
    headers: {
      location: "/productpage",
      "set-cookie": `${USER_COOKIE}=${encodeURIComponent(name)}; Path=/; HttpOnly; SameSite=Lax`,
    },
  });
}

async function login(req: Request): Promise<Response> {
  if (isRead(req)) {
    const username = new URL(req.url).searchParams.get("username");
    return username === null ? loginForm() : signIn(username);
  }
  if (req.method !== "POST") return methodNotAllowed("GET, HEAD, POST");
  let form: FormData;
  try {
    form = await req.formData();
  } catch {
    return signIn(null);
  }
  const username = form.get("username");
  return signIn(typeof username === "string" ? username : null);
}

function logout(): Response {
  return new Response(null, {
    status: 302,
    headers: {
      location: "/productpage",
      "set-cookie": `${USER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
    },
  });
}

async function apiProxy(fetched: Promise<Fetched>, unavailable: string): Promise<Response> {
  const result = await fetched;
  if (result.ok) return json(result.data);
  return json({ error: unavailable }, result.status >= 400 ? result.status : 503);
}

export async function handleProductpage(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path === "/login") return await login(req);
  if (!isRead(req)) return methodNotAllowed("GET, HEAD");
  if (path === "/health") return health();
  if (path === "/" || path === "/index.html") return indexPage(req);
  if (path === "/productpage") return await productPage(req);
  if (path === "/logout") return logout();
  if (path.startsWith("/static/")) {
    if (!path.endsWith(".css")) return notFound();
    return new Response(CSS, { headers: { "content-type": "text/css; charset=utf-8" } });
  }
  if (path === "/api/v1/products") return json([PRODUCT]);
  const api = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?\/?$/.exec(path);
  if (api) {
    const id = parseId(api[1]);
    if (id === null) return json({ error: "product id must be a non-negative integer" }, 400);
    const headers = outboundHeaders(req);
    switch (api[2]) {
      case "reviews":
        return await apiProxy(getReviews(id, headers), REVIEWS_UNAVAILABLE);
      case "ratings":
        return await apiProxy(
          getRatings(id, headers),
          "Sorry, product ratings are currently unavailable for this book.",
        );
      default:
        return await apiProxy(getDetails(id, headers), DETAILS_UNAVAILABLE);
    }
  }
  return notFound();
}

if (import.meta.main) runApp("productpage", () => handleProductpage);
