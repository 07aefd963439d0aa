/**
 * zod → structural schema (crd_schema.ts): each rewrite rule on a small schema, the checker
 * catching what apiextensions v1 refuses, and the small validator the CRD tests rely on.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { crdSchemaOf, probeNumber, schemaValueProblems, structuralProblems } from "./crd_schema.ts";
import { int32, intRange, numberRange, portNumber, protocol } from "./schemas/common.ts";

const PRESERVE = "x-kubernetes-preserve-unknown-fields";

function convert(schema: z.ZodType) {
  const out = crdSchemaOf(schema);
  assert.deepEqual(structuralProblems(out), [], JSON.stringify(out));
  return out;
}

Deno.test("strict objects keep properties and required, without additionalProperties", () => {
  const s = convert(z.strictObject({ host: z.string(), subset: z.string().optional() }));
  assert.deepEqual(s, {
    type: "object",
    properties: { host: { type: "string" }, subset: { type: "string" } },
    required: ["host"],
  });
});

Deno.test("maps, unknown values, nullable, defaults and literals", () => {
  const s = convert(z.strictObject({
    labels: z.record(z.string(), z.string()),
    config: z.record(z.string(), z.unknown()),
    any: z.unknown(),
    skip: z.boolean().nullable().optional(),
    hosts: z.array(z.string()).default([]),
    mode: z.enum(["STRICT", "PERMISSIVE"]).default("STRICT"),
    kind: z.literal("Service"),
  }));
  const p = s.properties as Record<string, unknown>;
  assert.deepEqual(p.labels, { type: "object", additionalProperties: { type: "string" } });
  assert.deepEqual(p.config, { type: "object", [PRESERVE]: true });
  assert.deepEqual(p.any, { [PRESERVE]: true });
  assert.deepEqual(p.skip, { type: "boolean", nullable: true });
  assert.deepEqual(p.hosts, { type: "array", items: { type: "string" } }, "no default");
  assert.deepEqual(p.mode, { type: "string", enum: ["STRICT", "PERMISSIVE"] });
  assert.deepEqual(p.kind, { type: "string", enum: ["Service"] });
  assert.deepEqual(s.required, ["labels", "config", "kind"], "defaulted fields are optional");
});

Deno.test("unions become what a structural schema can say, or keep unknown fields", () => {
  const s = convert(z.strictObject({
    port: z.union([z.string(), z.number().int()]),
    loose: z.union([z.string(), z.number()]),
    names: z.union([z.enum(["a"]), z.enum(["b"])]),
    objs: z.union([z.strictObject({ a: z.string() }), z.strictObject({ b: z.string() })]),
    mixed: z.union([z.strictObject({ a: z.string() }), z.string()]),
  }));
  const p = s.properties as Record<string, unknown>;
  assert.deepEqual(p.port, { "x-kubernetes-int-or-string": true });
  assert.deepEqual(p.loose, { [PRESERVE]: true }, "int-or-string would refuse 1.5");
  assert.deepEqual(p.names, { type: "string", enum: ["a", "b"] });
  assert.deepEqual(p.objs, { type: "object", [PRESERVE]: true });
  assert.deepEqual(p.mixed, { [PRESERVE]: true });
});

Deno.test("recursion is cut with preserve-unknown-fields, and no $ref is left", () => {
  const node: z.ZodType<unknown> = z.strictObject({
    name: z.string(),
    get children() {
      return z.array(node).optional();
    },
  });
  for (const s of [convert(z.strictObject({ tree: node })), convert(node)]) {
    const text = JSON.stringify(s);
    assert.ok(!text.includes("$ref") && !text.includes("definitions"), text);
    assert.ok(text.includes(`"items":{"type":"object","${PRESERVE}":true}`), text);
  }
});

Deno.test("refined numbers are probed for integer-ness and bounds", () => {
  assert.deepEqual(convert(portNumber), { type: "integer", minimum: 1, maximum: 65535 });
  assert.deepEqual(convert(int32), {
    type: "integer",
    minimum: -2147483648,
    maximum: 2147483647,
  });
  assert.deepEqual(convert(intRange(100, 599)), { type: "integer", minimum: 100, maximum: 599 });
  assert.deepEqual(convert(numberRange(0, 100)), { type: "number", minimum: 0, maximum: 100 });
  assert.deepEqual(convert(numberRange(0, Number.MAX_VALUE)), { type: "number", minimum: 0 });
  assert.deepEqual(convert(z.number().int()), { type: "integer" }, "safe-integer bounds dropped");
  assert.deepEqual(convert(z.number().positive()), {
    type: "number",
    minimum: 0,
    exclusiveMinimum: true,
  });
  // Not an interval: only the type is kept.
  const codes = z.number().refine((n) => [301, 302, 307].includes(n));
  assert.equal(probeNumber(codes), undefined);
  assert.deepEqual(convert(codes), { type: "number" });
  const evens = z.number().refine((n) => n % 2 === 0 && n >= 0 && n <= 10);
  assert.equal(probeNumber(evens), undefined);
  // A bound between integers: no bounds rather than one rounded the wrong way.
  assert.deepEqual(convert(numberRange(0.5, 10)), { type: "number" });
});

Deno.test("strings: preprocessed enums lose the enum, patterns only as RE2, known formats", () => {
  assert.deepEqual(convert(protocol), { type: "string" }, "protocols are case-insensitive");
  assert.deepEqual(convert(z.string().regex(/^[a-z]+$/)), { type: "string", pattern: "^[a-z]+$" });
  assert.deepEqual(convert(z.string().regex(/^a(?=b)/)), { type: "string" }, "lookahead dropped");
  assert.deepEqual(convert(z.string().regex(/(a)\1/)), { type: "string" }, "backreference");
  assert.deepEqual(convert(z.email()).format, "email");
  assert.equal(convert(z.iso.duration()).format, undefined, "ISO durations aren't Go's");
  assert.deepEqual(convert(z.string().min(1).max(253)), {
    type: "string",
    minLength: 1,
    maxLength: 253,
  });
  assert.equal(convert(z.string().min(3)).minLength, undefined, "code points vs UTF-16 units");
  assert.deepEqual(convert(z.array(z.string()).min(1).max(16)), {
    type: "array",
    items: { type: "string" },
    minItems: 1,
    maxItems: 16,
  });
});

Deno.test("the checker refuses what apiextensions v1 refuses", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ properties: { a: { type: "string" } } }, /<root>: no type/],
    [{ type: "object", properties: { a: {} } }, /<root>\.a: no type/],
    [{ type: "object", properties: { a: { $ref: "#/$defs/x" } } }, /keyword \$ref not allowed/],
    [{ type: "object", $defs: {} }, /keyword \$defs not allowed/],
    [{ type: "string", default: "x" }, /keyword default not allowed/],
    [{ type: "string", const: "x" }, /keyword const not allowed/],
    [{ type: "number", minimum: 0, exclusiveMinimum: 0 }, /exclusiveMinimum must be a boolean/],
    [
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: false },
      /additionalProperties beside properties/,
    ],
    [{ type: "object", additionalProperties: false }, /additionalProperties: false/],
    [{ type: "array" }, /array without items/],
    [{ type: "object", required: ["a"] }, /required a is not a property/],
    [{ type: "string", pattern: "a(?=b)" }, /pattern is not RE2/],
    [{ type: "string", anyOf: [{ type: "string" }] }, /type not allowed inside anyOf/],
    [{ type: ["string", "null"] }, /type \["string","null"\] is not one Kubernetes knows/],
    [{ "x-kubernetes-int-or-string": true, type: "string" }, /int-or-string with a type/],
  ];
  for (const [schema, re] of cases) {
    const problems = structuralProblems(schema);
    assert.ok(problems.some((p) => re.test(p)), `${JSON.stringify(schema)}: ${problems}`);
  }
  assert.deepEqual(
    structuralProblems({
      type: "object",
      properties: { v: { "x-kubernetes-int-or-string": true, anyOf: [{ pattern: "^a" }] } },
    }),
    [],
  );
});

Deno.test("the value validator: types, required, enum, bounds, unknown fields", () => {
  const s = convert(z.strictObject({
    host: z.string(),
    weight: int32.optional(),
    mode: z.enum(["A", "B"]).optional(),
    tags: z.array(z.string()).max(2).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }));
  assert.deepEqual(schemaValueProblems(s, { host: "a", weight: 5, mode: "A", tags: ["x"] }), []);
  const bad = (value: unknown, re: RegExp, strict = false) => {
    const problems = schemaValueProblems(s, value, { strict });
    assert.ok(problems.some((p) => re.test(p)), `${JSON.stringify(value)}: ${problems}`);
  };
  bad({ host: "a", weight: "x" }, /\.weight: must be of type integer, got string/);
  bad({ host: "a", weight: 1.5 }, /\.weight: must be of type integer, got number/);
  bad({ host: "a", weight: 2 ** 31 }, /\.weight: must be at most 2147483647/);
  bad({ weight: 1 }, /host is required/);
  bad({ host: "a", mode: "C" }, /\.mode: must be one of A, B/);
  bad({ host: "a", tags: ["1", "2", "3"] }, /\.tags: too many/);
  bad({ host: "a", labels: { app: 1 } }, /\.labels\.app: must be of type string/);
  bad({ host: 1 }, /\.host: must be of type string/);
  assert.deepEqual(schemaValueProblems(s, { host: "a", extra: 1 }), [], "pruned, not refused");
  bad({ host: "a", extra: 1 }, /\.extra: unknown field/, true);
});
