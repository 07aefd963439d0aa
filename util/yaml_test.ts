import assert from "node:assert/strict";
import { parseYaml, parseYamlDocuments, stringifyYaml } from "./yaml.ts";

Deno.test("parseYamlDocuments splits documents and skips empty ones", () => {
  const text = [
    "# leading comment", // 1
    "a: 1", // 2
    "---", // 3
    "# only a comment", // 4
    "---", // 5
    "b:", // 6
    "  - x", // 7
    "---", // 8
    "",
  ].join("\n");
  const docs = parseYamlDocuments(text);
  assert.equal(docs.length, 2);
  assert.deepEqual(docs[0].value, { a: 1 });
  assert.equal(docs[0].line, 2);
  assert.deepEqual(docs[1].value, { b: ["x"] });
  assert.equal(docs[1].line, 6);
  assert.equal(docs[0].error, undefined);
  assert.deepEqual(parseYamlDocuments(""), []);
  assert.deepEqual(parseYamlDocuments("---\n---\n"), []);
});

Deno.test("positionOf finds keys and items, falling back to the closest ancestor", () => {
  const text = [
    "kind: VirtualService", // 1
    "spec:", // 2
    "  hosts:", // 3
    "  - reviews", // 4
    "  http:", // 5
    "  - route:", // 6
    "    - destination: {host: reviews}", // 7
    "      weight: 90", // 8
  ].join("\n");
  const [doc] = parseYamlDocuments(text);
  assert.deepEqual(doc.positionOf([]), { line: 1, column: 1 });
  assert.deepEqual(doc.positionOf(["spec"]), { line: 2, column: 1 });
  assert.deepEqual(doc.positionOf(["spec", "hosts", 0]), { line: 4, column: 5 });
  assert.deepEqual(doc.positionOf(["spec", "http", 0, "route"]), { line: 6, column: 5 });
  assert.deepEqual(doc.positionOf(["spec", "http", 0, "route", 0, "weight"]), {
    line: 8,
    column: 7,
  });
  assert.deepEqual(doc.positionOf(["spec", "http", 0, "route", 0, "destination", "host"]), {
    line: 7,
    column: 21,
  });
  // Missing pieces fall back to the deepest node that exists.
  assert.deepEqual(doc.positionOf(["spec", "http", 0, "fault", "abort"]), { line: 6, column: 5 });
  assert.deepEqual(doc.positionOf(["spec", "http", 7]), { line: 5, column: 3 });
  assert.deepEqual(doc.positionOf(["nope"]), { line: 1, column: 1 });
});

Deno.test("positions in later documents are absolute", () => {
  const docs = parseYamlDocuments("a: 1\n---\nb:\n  c: 2\n");
  assert.equal(docs[1].line, 3);
  assert.deepEqual(docs[1].positionOf(["b", "c"]), { line: 4, column: 3 });
});

Deno.test("JSON text parses, with positions", () => {
  const text = '{\n  "kind": "Gateway",\n  "spec": {\n\t"servers": [ {"port": 80} ]\n  }\n}\n';
  const [doc] = parseYamlDocuments(text);
  assert.deepEqual(doc.value, { kind: "Gateway", spec: { servers: [{ port: 80 }] } });
  assert.deepEqual(doc.positionOf(["spec", "servers", 0, "port"]), { line: 4, column: 16 });
});

Deno.test("syntax errors are reported with a position, not thrown", () => {
  const text = [
    "a: 1", // 1
    "---", // 2
    "b: [1, 2", // 3
    "c: 3", // 4
    "---", // 5
    "d: 4", // 6
  ].join("\n");
  const docs = parseYamlDocuments(text);
  assert.equal(docs.length, 3);
  assert.deepEqual(docs[0].value, { a: 1 });
  const bad = docs[1];
  assert.ok(bad.error);
  assert.equal(bad.value, undefined);
  assert.ok(bad.error.line >= 3 && bad.error.line <= 5, `line ${bad.error.line}`);
  assert.ok(bad.error.column >= 1);
  assert.ok(bad.error.message.length > 0);
  assert.deepEqual(docs[2].value, { d: 4 });

  const [indent] = parseYamlDocuments("a:\n  b: 1\n c: 2\n");
  assert.ok(indent.error);
  assert.equal(indent.error.line, 3);
});

Deno.test("duplicate keys are an error", () => {
  const [doc] = parseYamlDocuments("name: a\nname: b\n");
  assert.ok(doc.error);
  assert.equal(doc.error.line, 2);
  assert.match(doc.error.message, /unique/i);
});

Deno.test("alias bombs are stopped quickly", () => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
  }
  // Stopped by the alias limit (the error says so), not by expanding 9^9 nodes.
  const [doc] = parseYamlDocuments(lines.join("\n"));
  assert.ok(doc.error);
  assert.match(doc.error.message, /alias/);
  assert.equal(doc.value, undefined);
});

Deno.test("modest alias use and merge keys work", () => {
  const [doc] = parseYamlDocuments(
    "base: &base {app: reviews}\ncopy: *base\nmerged:\n  <<: *base\n  version: v1\n",
  );
  assert.equal(doc.error, undefined);
  assert.deepEqual(doc.value, {
    base: { app: "reviews" },
    copy: { app: "reviews" },
    merged: { app: "reviews", version: "v1" },
  });
});

Deno.test("oversized documents and deep nesting are errors, not hangs", () => {
  const big = `a: "${"x".repeat(2000)}"\n`;
  const [doc] = parseYamlDocuments(big, { maxDocumentSize: 1000 });
  assert.ok(doc.error);
  assert.match(doc.error.message, /limit is 1000/);

  for (const deep of ["[".repeat(50_000) + "]".repeat(50_000), "a:\n  b: " + "{c: ".repeat(300)]) {
    const docs = parseYamlDocuments(deep);
    assert.equal(docs.length, 1);
    assert.ok(docs[0].error);
    assert.match(docs[0].error.message, /nesting deeper than 256 levels/);
  }
  const [blocks] = parseYamlDocuments(
    Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}k:`).join("\n"),
  );
  assert.ok(blocks.error, "deep block nesting gives an error or a value, never an exception");
  assert.match(blocks.error.message, /too deep/);
});

Deno.test("parseYaml returns one document or throws with line:column", () => {
  assert.deepEqual(parseYaml("a: [1, 2]\n"), { a: [1, 2] });
  assert.equal(parseYaml(""), null);
  assert.throws(() => parseYaml("a: 1\nb: [\n"), /^Error: \d+:\d+: /);
  assert.throws(() => parseYaml("a: 1\n---\nb: 2\n"), /3:1: expected a single YAML document/);
});

Deno.test("stringifyYaml round-trips without anchors or folding", () => {
  const shared = { app: "reviews" };
  const value = { a: shared, b: shared, long: "word ".repeat(40).trim() };
  const text = stringifyYaml(value);
  assert.ok(!text.includes("&"), text);
  assert.equal(text.split("\n").filter((l) => l.startsWith("long:")).length, 1);
  assert.deepEqual(parseYaml(text), value);
});
