/**
 * Bookinfo "ratings" service: `GET /ratings/<id>` returns the star ratings of the two reviewers.
 * `GET /health` answers 200.
 *
 *   deno run --allow-net --allow-env examples/bookinfo/apps/ratings.ts [--port N] [--host H]
 */
import { health, isRead, json, methodNotAllowed, notFound, parseId, runApp } from "./common.ts";

export interface ProductRatings {
  id: number;
  ratings: Record<string, number>;
}

export function productRatings(id: number): ProductRatings {
  return { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };
}

export function handleRatings(req: Request): Response {
  const path = new URL(req.url).pathname;
  if (path === "/health") return health();
  const match = /^\/ratings\/([^/]+)\/?$/.exec(path);
  if (!match) return notFound();
  if (!isRead(req)) return methodNotAllowed("GET, HEAD");
  const id = parseId(match[1]);
  if (id === null) return json({ error: "product id must be a non-negative integer" }, 400);
  return json(productRatings(id));
}

if (import.meta.main) runApp("ratings", () => handleRatings);
