/**
 * Bookinfo "details" service: `GET /details/<id>` returns the catalogue entry of the one book
 * this store sells, whatever the id. `GET /health` answers 200.
 *
 *   deno run --allow-net --allow-env examples/bookinfo/apps/details.ts [--port N] [--host H]
 */
import { health, isRead, json, methodNotAllowed, notFound, parseId, runApp } from "./common.ts";

export interface BookDetails {
  id: number;
  author: string;
  year: number;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  "ISBN-10": string;
  "ISBN-13": string;
}

export function bookDetails(id: number): BookDetails {
  return {
    id,
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  };
}

export function handleDetails(req: Request): Response {
  const path = new URL(req.url).pathname;
  if (path === "/health") return health();
  const match = /^\/details\/([^/]+)\/?$/.exec(path);
  if (!match) return notFound();
  if (!isRead(req)) return methodNotAllowed("GET, HEAD");
  const id = parseId(match[1]);
  if (id === null) return json({ error: "product id must be a non-negative integer" }, 400);
  return json(bookDetails(id));
}

if (import.meta.main) runApp("details", () => handleDetails);
