/**
 * Bookinfo "reviews" service: `GET /reviews/<id>` returns two reviews of the book.
 *
 * - v1 returns the reviews without ratings and never calls the ratings service.
 * - v2 and v3 call `http://ratings:9080/ratings/<id>` (through the mesh, see common.ts) and attach
 *   `rating: {stars, color}` with color "black" (v2) or "red" (v3). If the ratings call fails,
 *   each review carries `rating: {error: "Ratings service is currently unavailable"}`.
 *
 * The propagated request headers (tracing ids, user-agent, end-user) are forwarded to ratings.
 * `podname` comes from env POD_NAME (default `reviews-<version>`), `clustername` from env
 * CLUSTER_NAME (default "local").
 *
 *   deno run --allow-net --allow-env examples/bookinfo/apps/reviews.ts --version v2 [--port N]
 */
import {
  type AppConfig,
  forwardHeaders,
  health,
  isRead,
  json,
  meshFetch,
  methodNotAllowed,
  notFound,
  parseId,
  runApp,
} from "./common.ts";

export const VERSIONS = ["v1", "v2", "v3"] as const;
export const RATINGS_UNAVAILABLE = "Ratings service is currently unavailable";

export type Rating = { stars: number; color: string } | { error: string };

export interface Review {
  reviewer: string;
  text: string;
  rating?: Rating;
}

export interface ProductReviews {
  id: number;
  podname: string;
  clustername: string;
  reviews: Review[];
}

const REVIEWS: readonly { reviewer: string; text: string }[] = [
  {
    reviewer: "Reviewer1",
    text: "Two pairs of twins, one town, and a whole day of mistaken identities. " +
      "Short, quick and still genuinely funny.",
  },
  {
    reviewer: "Reviewer2",
    text: "Light and farcical rather than deep. The slapstick holds up well, " +
      "even if a few of the jokes now need footnotes.",
  },
];

const COLORS: Record<string, string> = { v2: "black", v3: "red" };

async function fetchRatings(id: number, inbound: Headers): Promise<Record<string, unknown> | null> {
  try {
    const res = await meshFetch(`http://ratings:9080/ratings/${id}`, {
      headers: forwardHeaders(inbound),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const body: unknown = await res.json();
    if (typeof body !== "object" || body === null) return null;
    const ratings = (body as { ratings?: unknown }).ratings;
    if (typeof ratings !== "object" || ratings === null) return null;
    return ratings as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function makeReviewsHandler(config: AppConfig): (req: Request) => Promise<Response> {
  const version = config.version;
  const podname = Deno.env.get("POD_NAME") || `reviews-${version}`;
  const clustername = Deno.env.get("CLUSTER_NAME") || "local";
  const color = COLORS[version];

  return async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/health") return health();
    const match = /^\/reviews\/([^/]+)\/?$/.exec(path);
    if (!match) return notFound();
    if (!isRead(req)) return methodNotAllowed("GET, HEAD");
    const id = parseId(match[1]);
    if (id === null) return json({ error: "product id must be a non-negative integer" }, 400);

    const reviews: Review[] = REVIEWS.map((r) => ({ ...r }));
    if (color !== undefined) {
      const ratings = await fetchRatings(id, req.headers);
      for (const review of reviews) {
        const stars = ratings?.[review.reviewer];
        review.rating = typeof stars === "number"
          ? { stars, color }
          : { error: RATINGS_UNAVAILABLE };
      }
    }
    const result: ProductReviews = { id, podname, clustername, reviews };
    return json(result);
  };
}

if (import.meta.main) {
  runApp("reviews", makeReviewsHandler, { versions: VERSIONS, defaultVersion: "v1" });
}
