import assert from "node:assert/strict";
import { dynamicTable, type HeaderField, HpackDecoder, HpackEncoder, HpackError } from "./hpack.ts";

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: t.length / 2 },
    (_, i) => parseInt(t.slice(2 * i, 2 * i + 2), 16),
  );
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function expectError(code: HpackError["code"], f: () => unknown): HpackError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof HpackError, `an HpackError, not ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** A small seeded PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- RFC 7541 Appendix C.2: single representations, each on a fresh decoder ---

const C2: { name: string; block: string; fields: HeaderField[]; table: HeaderField[] }[] = [
  {
    name: "C.2.1 literal with indexing",
    block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    fields: [["custom-key", "custom-header"]],
    table: [["custom-key", "custom-header"]],
  },
  {
    name: "C.2.2 literal without indexing",
    block: "040c 2f73 616d 706c 652f 7061 7468",
    fields: [[":path", "/sample/path"]],
    table: [],
  },
  {
    name: "C.2.3 literal never indexed",
    block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
    fields: [["password", "secret"]],
    table: [],
  },
  { name: "C.2.4 indexed", block: "82", fields: [[":method", "GET"]], table: [] },
];

for (const c of C2) {
  Deno.test(`hpack: RFC 7541 ${c.name}`, () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex(c.block)), c.fields);
    const t = dynamicTable(d);
    assert.deepEqual(t.entries, c.table);
    assert.equal(t.size, c.table.reduce((n, [k, v]) => n + k.length + v.length + 32, 0));
  });
}

Deno.test("hpack: the encoder makes C.2.1 and C.2.3 (never indexed by request) byte for byte", () => {
  const e = new HpackEncoder({ huffman: false });
  assert.equal(toHex(e.encode([["custom-key", "custom-header"]])), C2[0].block.replace(/ /g, ""));
  const sensitive = new Set(["password"]);
  assert.equal(
    toHex(e.encode([["password", "secret"]], { sensitive })),
    C2[2].block.replace(/ /g, ""),
  );
  assert.equal(toHex(e.encode([[":method", "GET"]])), "82");
});

// --- RFC 7541 Appendix C.3-C.6: sequences of blocks sharing a dynamic table ---

interface Step {
  block: string;
  fields: HeaderField[];
  /** The dynamic table after the block, newest first, and its size. */
  table: HeaderField[];
  size: number;
  /** What the encoder makes instead, where its choices differ from the RFC's. */
  encoded?: string;
}

const REQ1: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQ2: HeaderField[] = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];
const REQ_TABLES: HeaderField[][] = [
  [[":authority", "www.example.com"]],
  [["cache-control", "no-cache"], [":authority", "www.example.com"]],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], [
    ":authority",
    "www.example.com",
  ]],
];

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RES1: HeaderField[] = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", DATE1],
  ["location", LOCATION],
];
const RES2: HeaderField[] = [[":status", "307"], ...RES1.slice(1)];
const RES3: HeaderField[] = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", DATE2],
  ["location", LOCATION],
  ["content-encoding", "gzip"],
  ["set-cookie", COOKIE],
];
const RES_TABLES: HeaderField[][] = [
  [["location", LOCATION], ["date", DATE1], ["cache-control", "private"], [":status", "302"]],
  [[":status", "307"], ["location", LOCATION], ["date", DATE1], ["cache-control", "private"]],
  [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]],
];

const SEQUENCES: { name: string; huffman: boolean; tableSize: number; steps: Step[] }[] = [
  {
    name: "C.3 requests without Huffman",
    huffman: false,
    tableSize: 4096,
    steps: [
      {
        block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        fields: REQ1,
        table: REQ_TABLES[0],
        size: 57,
      },
      {
        block: "8286 84be 5808 6e6f 2d63 6163 6865",
        fields: REQ2,
        table: REQ_TABLES[1],
        size: 110,
      },
      {
        block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        fields: REQ3,
        table: REQ_TABLES[2],
        size: 164,
      },
    ],
  },
  {
    name: "C.4 requests with Huffman",
    huffman: true,
    tableSize: 4096,
    steps: [
      {
        block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        fields: REQ1,
        table: REQ_TABLES[0],
        size: 57,
      },
      { block: "8286 84be 5886 a8eb 1064 9cbf", fields: REQ2, table: REQ_TABLES[1], size: 110 },
      {
        block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        fields: REQ3,
        table: REQ_TABLES[2],
        size: 164,
      },
    ],
  },
  {
    name: "C.5 responses without Huffman, 256-byte table",
    huffman: false,
    tableSize: 256,
    steps: [
      {
        block: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133" +
          "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70" +
          "6c65 2e63 6f6d",
        fields: RES1,
        table: RES_TABLES[0],
        size: 222,
      },
      { block: "4803 3330 37c1 c0bf", fields: RES2, table: RES_TABLES[1], size: 222 },
      {
        block: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d" +
          "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049" +
          "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e" +
          "3d31",
        fields: RES3,
        table: RES_TABLES[2],
        size: 215,
      },
    ],
  },
  {
    name: "C.6 responses with Huffman, 256-byte table",
    huffman: true,
    tableSize: 256,
    steps: [
      {
        block: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6" +
          "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        fields: RES1,
        table: RES_TABLES[0],
        size: 222,
      },
      {
        block: "4883 640e ffc1 c0bf",
        fields: RES2,
        table: RES_TABLES[1],
        size: 222,
        // "307" is 3 bytes either way; the encoder uses Huffman only when it is shorter.
        encoded: "4803 3330 37c1 c0bf",
      },
      {
        block: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab" +
          "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f" +
          "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        fields: RES3,
        table: RES_TABLES[2],
        size: 215,
      },
    ],
  },
];

for (const seq of SEQUENCES) {
  Deno.test(`hpack: RFC 7541 ${seq.name}: decoder fields, table and size per block`, () => {
    const d = new HpackDecoder({ maxTableSize: seq.tableSize });
    seq.steps.forEach((step, i) => {
      assert.deepEqual(d.decode(hex(step.block)), step.fields, `block ${i + 1}`);
      const t = dynamicTable(d);
      assert.deepEqual(t.entries, step.table, `table after block ${i + 1}`);
      assert.equal(t.size, step.size, `size after block ${i + 1}`);
    });
  });

  Deno.test(`hpack: RFC 7541 ${seq.name}: encoder bytes and table per block`, () => {
    const e = new HpackEncoder({ maxTableSize: seq.tableSize, huffman: seq.huffman });
    const d = new HpackDecoder({ maxTableSize: seq.tableSize });
    seq.steps.forEach((step, i) => {
      const block = e.encode(step.fields);
      assert.equal(
        toHex(block),
        (step.encoded ?? step.block).replace(/\s+/g, ""),
        `block ${i + 1}`,
      );
      assert.deepEqual(d.decode(block), step.fields);
      const t = dynamicTable(e);
      assert.deepEqual(t.entries, step.table, `encoder table after block ${i + 1}`);
      assert.equal(t.size, step.size);
    });
  });
}

// --- Malformed blocks: each is a COMPRESSION_ERROR ---

const MALFORMED: { name: string; block: string; options?: { maxTableSize?: number } }[] = [
  { name: "truncated integer (prefix full, no continuation)", block: "ff" },
  { name: "truncated integer (continuation bit set at the end)", block: "ff 80" },
  { name: "integer overflow (above 2^31 - 1)", block: "ff ff ff ff ff 0f" },
  { name: "integer with 6 continuation bytes", block: "ff 80 80 80 80 80 00" },
  { name: "indexed field with index 0", block: "80" },
  { name: "index past the static table with an empty dynamic table", block: "be" },
  { name: "index past the dynamic table", block: "4001 6101 62 bf" },
  { name: "literal whose name index is past the table", block: "7f 00 01 61" },
  { name: "Huffman string with EOS", block: "00 84 ffff ffff 01 61" },
  { name: "Huffman padding of 8 bits", block: "00 81 ff 01 61" },
  { name: "Huffman padding not all ones", block: "00 81 06 01 61" },
  { name: "size update above the advertised limit", block: "3f e2 1f" },
  {
    name: "size update above a smaller advertised limit",
    block: "3f e2 07",
    options: { maxTableSize: 1024 },
  },
  { name: "size update after a header field", block: "82 20" },
  { name: "size update after a literal", block: "0001 6101 62 3f e1 1f" },
  { name: "string longer than the rest of the block", block: "00 05 61" },
  { name: "literal with no name string", block: "40" },
  { name: "literal with no value string", block: "04" },
  { name: "string length truncated", block: "04 7f" },
];

for (const m of MALFORMED) {
  Deno.test(`hpack: COMPRESSION_ERROR for ${m.name}`, () => {
    expectError("COMPRESSION_ERROR", () => new HpackDecoder(m.options).decode(hex(m.block)));
  });
}

Deno.test("hpack: size updates at the start of a block, up to the limit, evict", () => {
  const d = new HpackDecoder();
  d.decode(hex("4001 6101 62 4001 6301 64")); // a: b, c: d (34 bytes each)
  assert.equal(dynamicTable(d).size, 68);
  assert.deepEqual(d.decode(hex("3f e1 1f 3f 04 be")), [["c", "d"]]); // 4096, then 35
  assert.deepEqual(dynamicTable(d), { size: 34, maxSize: 35, entries: [["c", "d"]] });
  assert.deepEqual(d.decode(hex("20")), []);
  assert.deepEqual(dynamicTable(d), { size: 0, maxSize: 0, entries: [] });
});

Deno.test("hpack: an integer just at 2^31 - 1 decodes (as a size update, then refused as too big)", () => {
  // 31 + 0x7fffffe0 = 2^31 - 1: within the integer limit, above the table limit.
  const e = expectError(
    "COMPRESSION_ERROR",
    () => new HpackDecoder().decode(hex("3f e0 ff ff ff 07")),
  );
  assert.match(e.message, /above 4096/);
});

// --- The header list limit ---

Deno.test("hpack: HEADER_LIST_TOO_LARGE leaves the table usable for the next block", () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder({ maxHeaderListSize: 200 });
  const big: HeaderField[] = [[":method", "GET"], ["x-big", "a".repeat(300)], ["x-after", "1"]];
  expectError("HEADER_LIST_TOO_LARGE", () => d.decode(e.encode(big)));
  assert.deepEqual(dynamicTable(d), dynamicTable(e), "the decoder indexed what the encoder did");
  const next: HeaderField[] = [["x-after", "1"], ["x-big", "b"], [":path", "/"]];
  const block = e.encode(next);
  assert.equal(block[0], 0xbe, "x-after: 1 is indexed from the dynamic table");
  assert.deepEqual(d.decode(block), next);
});

Deno.test("hpack: strings over the header list limit are not built but checked", () => {
  const d = new HpackDecoder({ maxTableSize: 64, maxHeaderListSize: 50 });
  d.decode(hex("4001 6101 62")); // a: b
  // An indexed literal of 100 bytes: bigger than the list limit and the table, so the table empties.
  const raw = "4001 63 64" + "78".repeat(100);
  expectError("HEADER_LIST_TOO_LARGE", () => d.decode(hex(raw)));
  assert.deepEqual(dynamicTable(d).entries, []);
  expectError("COMPRESSION_ERROR", () => d.decode(hex("be")));
  // A Huffman string over the limit is still checked for EOS and padding.
  const d2 = new HpackDecoder({ maxHeaderListSize: 50 });
  expectError("COMPRESSION_ERROR", () => d2.decode(hex("0001 61 c0" + "ff".repeat(64))));
  expectError("HEADER_LIST_TOO_LARGE", () => d2.decode(hex("0001 61 c0" + "00".repeat(63) + "07")));
  assert.deepEqual(d2.decode(hex("82")), [[":method", "GET"]]);
});

Deno.test("hpack: the header list limit counts name + value + 32 per field", () => {
  const fields: HeaderField[] = [["x-a", "12345"], ["x-b", "67890"]]; // 40 + 40
  const block = new HpackEncoder().encode(fields);
  assert.deepEqual(new HpackDecoder({ maxHeaderListSize: 80 }).decode(block), fields);
  expectError(
    "HEADER_LIST_TOO_LARGE",
    () => new HpackDecoder({ maxHeaderListSize: 79 }).decode(block),
  );
});

// --- Encoder choices ---

const SENSITIVE: {
  name: string;
  field: HeaderField;
  sensitive?: string[];
  neverIndexed: boolean;
}[] = [
  { name: "authorization", field: ["authorization", "Bearer abc"], neverIndexed: true },
  { name: "proxy-authorization", field: ["proxy-authorization", "Basic x"], neverIndexed: true },
  { name: "a short cookie", field: ["cookie", "sid=1234567890"], neverIndexed: true },
  { name: "a long cookie", field: ["cookie", "session=0123456789abcdef"], neverIndexed: false },
  {
    name: "a name the caller lists",
    field: ["x-token", "t"],
    sensitive: ["x-token"],
    neverIndexed: true,
  },
  { name: "an ordinary header", field: ["x-token", "t"], neverIndexed: false },
];

for (const s of SENSITIVE) {
  Deno.test(`hpack: encoder ${s.neverIndexed ? "never indexes" : "indexes"} ${s.name}`, () => {
    const e = new HpackEncoder();
    const options = s.sensitive ? { sensitive: new Set(s.sensitive) } : undefined;
    const first = e.encode([s.field], options);
    if (s.neverIndexed) assert.equal(first[0] & 0xf0, 0x10, "literal never indexed");
    else assert.equal(first[0] & 0xc0, 0x40, "literal with incremental indexing");
    assert.equal(dynamicTable(e).entries.length, s.neverIndexed ? 0 : 1);
    const again = e.encode([s.field], options);
    if (s.neverIndexed) assert.deepEqual(again, first);
    else assert.deepEqual(Array.from(again), [0xbe]);
    assert.deepEqual(new HpackDecoder().decode(first), [s.field]);
  });
}

Deno.test("hpack: encoder sends values over a quarter of the table without indexing", () => {
  const e = new HpackEncoder({ maxTableSize: 400 });
  const field: HeaderField = ["x-data", "z".repeat(101)];
  const block = e.encode([field]);
  assert.equal(block[0], 0x00);
  assert.deepEqual(dynamicTable(e).entries, []);
  assert.deepEqual(new HpackDecoder().decode(block), [field]);
  e.encode([["x-data", "z".repeat(100)]]);
  assert.equal(dynamicTable(e).entries.length, 1);
});

Deno.test("hpack: encoder refuses char codes above 0xff without changing its table", () => {
  const e = new HpackEncoder();
  expectError("COMPRESSION_ERROR", () => e.encode([["x-a", "1"], ["x-b", "caf\u00e9\u20ac"]]));
  assert.deepEqual(dynamicTable(e).entries, []);
  const latin: HeaderField = ["x-b", "caf\u00e9\u00ff\u0000"];
  assert.deepEqual(new HpackDecoder().decode(e.encode([latin])), [latin]);
});

const SIZE_UPDATES: {
  name: string;
  limit?: number;
  peer: number[];
  prefix: string;
  max: number;
}[] = [
  { name: "lowered", peer: [1024], prefix: "3fe107", max: 1024 },
  { name: "to zero", peer: [0], prefix: "20", max: 0 },
  { name: "lowered then raised back", peer: [0, 4096], prefix: "20 3fe11f", max: 4096 },
  { name: "lowered twice then raised", peer: [2048, 100, 3000], prefix: "3f45 3f99 17", max: 3000 },
  { name: "unchanged", peer: [4096], prefix: "", max: 4096 },
  {
    name: "raised above the encoder's own limit",
    limit: 4096,
    peer: [65536],
    prefix: "",
    max: 4096,
  },
  {
    name: "raised up to the encoder's own limit",
    limit: 8192,
    peer: [65536],
    prefix: "3fe13f",
    max: 8192,
  },
  { name: "below a smaller own limit", limit: 2048, peer: [1024], prefix: "3fe107", max: 1024 },
];

for (const u of SIZE_UPDATES) {
  Deno.test(`hpack: encoder size update when the peer's table size is ${u.name}`, () => {
    const e = new HpackEncoder({ maxTableSize: u.limit });
    const d = new HpackDecoder({ maxTableSize: 65536 });
    d.decode(e.encode([["x-a", "1"]]));
    for (const size of u.peer) e.setPeerMaxTableSize(size);
    const block = e.encode([[":method", "GET"]]);
    assert.equal(toHex(block), u.prefix.replace(/\s+/g, "") + "82");
    assert.deepEqual(d.decode(block), [[":method", "GET"]]);
    const et = dynamicTable(e), dt = dynamicTable(d);
    assert.equal(et.maxSize, u.max);
    // The decoder's maximum changes only with an update; the entries are the same.
    if (u.prefix !== "") assert.equal(dt.maxSize, u.max);
    assert.deepEqual(dt.entries, et.entries);
    assert.equal(dt.size, et.size);
    assert.equal(toHex(e.encode([[":method", "GET"]])), "82", "only at the next block");
  });
}

// --- Randomized round trips and garbage ---

const NAMES = [
  ":method",
  ":path",
  ":authority",
  ":status",
  "content-type",
  "user-agent",
  "accept",
  "cookie",
  "authorization",
  "x-request-id",
  "x-b3-traceid",
  "x-envoy-attempt-count",
  "custom",
  "via",
]; // deno-fmt-ignore
const VALUES = ["GET", "/", "/api/v1/items", "200", "application/json", "", "gzip", "mesh/0.1"];

function randomField(rand: () => number): HeaderField {
  const name = NAMES[Math.floor(rand() * NAMES.length)];
  if (rand() < 0.5) return [name, VALUES[Math.floor(rand() * VALUES.length)]];
  const len = Math.floor(rand() ** 3 * 1500);
  const wide = rand() < 0.2;
  const chars: string[] = [];
  for (let i = 0; i < len; i++) {
    chars.push(String.fromCharCode(wide ? Math.floor(rand() * 256) : 33 + Math.floor(rand() * 94)));
  }
  return [name, chars.join("")];
}

for (const huffman of [true, false]) {
  Deno.test(`hpack: 2,000 random blocks round-trip with changing table sizes (huffman ${huffman})`, () => {
    const rand = prng(huffman ? 9113 : 7540);
    const e = new HpackEncoder({ huffman });
    const d = new HpackDecoder();
    for (let i = 0; i < 2000; i++) {
      if (rand() < 0.05) {
        const sizes = Math.floor(rand() * 3) + 1;
        for (let k = 0; k < sizes; k++) e.setPeerMaxTableSize(Math.floor(rand() * 5000));
      }
      const fields = Array.from({ length: Math.floor(rand() * 16) }, () => randomField(rand));
      assert.deepEqual(d.decode(e.encode(fields)), fields, `block ${i}`);
      const et = dynamicTable(e), dt = dynamicTable(d);
      assert.equal(dt.size, et.size, `block ${i}`);
      assert.equal(dt.entries.length, et.entries.length, `block ${i}`);
      assert.ok(et.size <= et.maxSize);
    }
    assert.deepEqual(dynamicTable(d), dynamicTable(e));
  });
}

Deno.test("hpack: random garbage gives fields or an HpackError, nothing else", () => {
  const rand = prng(1);
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const d = new HpackDecoder({ maxHeaderListSize: 1000 });
    const block = Uint8Array.from(
      { length: Math.floor(rand() * 40) },
      () => Math.floor(rand() * 256),
    );
    try {
      d.decode(block);
    } catch (err) {
      assert.ok(err instanceof HpackError, String(err));
      errors++;
    }
  }
  assert.ok(errors > 0);
});
