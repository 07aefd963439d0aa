/**
 * Speed of HPACK on a typical request: encode + decode of a 10-field header block, on a
 * connection's warm tables (mostly indexed) and on fresh tables (all literals, Huffman).
 *
 * @example
 * ```sh
 * deno bench -A --no-check=remote proxy/h2/hpack_bench.ts
 * ```
 * @module
 */
import { type HeaderField, HpackDecoder, HpackEncoder } from "./hpack.ts";

const REQUEST: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":authority", "reviews.bookinfo.svc.cluster.local:9080"],
  [":path", "/reviews/0?user=jason&page=3"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"],
  ["accept", "application/json"],
  ["accept-encoding", "gzip, deflate"],
  ["x-request-id", "6f1e6ae0-2b7d-4d5e-9d3c-1f9a8b7c6d5e"],
  ["x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"],
  ["cookie", "session=6dbc2f0a7e1d4b2f9a8c7d6e5f4a3b2c"],
];

const warmEncoder = new HpackEncoder();
const warmDecoder = new HpackDecoder();

Deno.bench("hpack encode+decode, 10 request headers, warm tables", () => {
  warmDecoder.decode(warmEncoder.encode(REQUEST));
});

Deno.bench("hpack encode+decode, 10 request headers, fresh tables", () => {
  new HpackDecoder().decode(new HpackEncoder().encode(REQUEST));
});

let n = 0;
const varying = new HpackEncoder();
const varyingDecoder = new HpackDecoder();
Deno.bench("hpack encode+decode, 10 request headers, new ids each request", () => {
  n++;
  const fields: HeaderField[] = REQUEST.slice();
  fields[3] = [":path", `/reviews/${n}`];
  fields[7] = ["x-request-id", `6f1e6ae0-2b7d-4d5e-9d3c-${n.toString(16).padStart(12, "0")}`];
  fields[8] = ["x-b3-traceid", `80f198ee56343ba8${n.toString(16).padStart(16, "0")}`];
  varyingDecoder.decode(varying.encode(fields));
});
