/**
 * A zod schema as a Kubernetes *structural* OpenAPI v3 schema (apiextensions.k8s.io/v1), so
 * the API server refuses what mesh refuses as far as such a schema can say it.
 *
 * {@linkcode crdSchemaOf} starts from zod's `z.toJSONSchema` (input side, OpenAPI 3.0 target)
 * and rewrites the result to the rules in {@linkcode structuralProblems}:
 *
 * - every node has a `type`, or `x-kubernetes-int-or-string`, or
 *   `x-kubernetes-preserve-unknown-fields` (`z.unknown()` becomes the last);
 * - no `$ref`/`$defs`: references are inlined, and a recursive one becomes an object that
 *   keeps unknown fields at the point where it recurses;
 * - `additionalProperties` never beside `properties` (a strict zod object's
 *   `additionalProperties: false` goes: the API server prunes unknown fields, and refuses them
 *   under strict field validation, kubectl's default);
 * - unions are collapsed: `T | null` is `nullable`, `integer | string` is int-or-string, one
 *   scalar type keeps that type, anything else keeps unknown fields with the widest type (or
 *   none: `string | number` accepts anything, as int-or-string would refuse `1.5`);
 * - only keywords apiextensions v1 accepts are kept: `default` (mesh applies its own),
 *   `propertyNames`, `uniqueItems`, `const` (as `enum`), `$schema` go; `exclusiveMinimum` and
 *   `exclusiveMaximum` are booleans beside `minimum`/`maximum`; `pattern` stays only when it is
 *   valid RE2 (no lookaround or backreferences), `format` only for formats Kubernetes checks
 *   the same way.
 *
 * zod refinements are functions, not data. Numbers are the exception worth recovering: mesh's
 * integer and range types (`intRange`, `numberRange`) are refinements, so a number's schema is
 * probed (a few dozen `safeParse` calls) for integer-ness and its bounds, and they are kept
 * only when every probe agrees with a plain interval. Everything else a refinement or mesh's
 * semantic checks decide (host and label formats, RE2 syntax, one-of fields, cross-field
 * rules, case-insensitive enums such as port protocols) is not in the schema: the control
 * plane and the admission webhook still check it.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { crdSchemaOf, structuralProblems } from "./crd_schema.ts";
 *
 * const s = crdSchemaOf(z.strictObject({ weight: z.number().int().min(0).max(100) }));
 * // { type: "object", properties: { weight: { type: "integer", minimum: 0, maximum: 100 } },
 * //   required: ["weight"] }
 * structuralProblems(s); // []
 * ```
 * @module
 */

import { z } from "zod";
import { translateRe2 } from "./re2.ts";

/** A node of a Kubernetes OpenAPI v3 schema (`JSONSchemaProps`), as plain data. */
export type CrdSchema = { [key: string]: unknown };

/** `format` values kept: ones Kubernetes validates as zod does. */
const KNOWN_FORMATS = new Set(["int32", "int64", "float", "double", "byte", "date", "date-time"]);
/** Formats kept because Kubernetes' check is no stricter than zod's. */
const LOOSER_FORMATS = new Set(["email", "uuid", "ipv4", "ipv6", "uri", "hostname"]);

const PRESERVE = "x-kubernetes-preserve-unknown-fields";
const INT_OR_STRING = "x-kubernetes-int-or-string";

/** The structural schema of values `schema` accepts on input. */
export function crdSchemaOf(schema: z.ZodType): CrdSchema {
  const json = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "any",
    reused: "inline",
    cycles: "ref",
    override: overrideNode,
  }) as CrdSchema;
  const defs = { ...(json.definitions ?? {}), ...(json.$defs ?? {}) } as Record<string, CrdSchema>;
  return structural(json, { root: json, defs, expanding: ["#"] });
}

// ---------------------------------------------------------------------------------------------
// zod-level fixes, while the zod schema is at hand

function overrideNode(ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }): void {
  const zs = ctx.zodSchema as z.ZodType;
  const def = (zs as unknown as { _zod: { def: { type: string; in?: z.ZodType } } })._zod.def;
  if (def.type === "pipe" && def.in?._zod.def.type === "transform") {
    // z.preprocess: what goes in is whatever the function takes; the output's type is the
    // best guess (mesh's preprocessors normalize case), its enum and bounds are not.
    const type = ctx.jsonSchema.type;
    for (const k of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[k];
    if (typeof type === "string") ctx.jsonSchema.type = type;
  } else if (def.type === "object") {
    // A field is required only if it can't be left out: zod lists z.unknown() ones too.
    const shape = (zs as unknown as { shape: Record<string, z.ZodType> }).shape;
    const required = ctx.jsonSchema.required;
    if (Array.isArray(required)) {
      const kept = required.filter((k) => !shape[k]?.safeParse(undefined).success);
      if (kept.length) ctx.jsonSchema.required = kept;
      else delete ctx.jsonSchema.required;
    }
  } else if (def.type === "number") {
    const probed = probeNumber(zs);
    if (probed) tighten(ctx.jsonSchema, probed);
  }
}

interface Probed {
  integer: boolean;
  minimum?: number;
  maximum?: number;
}

const LIMIT = Number.MAX_SAFE_INTEGER;
/** Values a refinement with holes would likely accept outside the interval found. */
const PROBES = [
  0.5,
  1,
  2,
  3,
  5,
  7,
  10,
  42,
  99,
  100,
  101,
  255,
  1e3,
  1e4,
  65535,
  65536,
  1e6,
  2 ** 31,
];

/**
 * Integer-ness and bounds of a number schema whose refinement accepts an interval, by
 * `safeParse`; undefined when the probes don't fit one.
 */
export function probeNumber(schema: z.ZodType): Probed | undefined {
  const ok = (n: number) => schema.safeParse(n).success;
  const seed = [0, 1, 100, 400, -1, 1000, 65535].find(ok);
  if (seed === undefined) return undefined;
  const integer = !ok(seed + 0.5) && !ok(seed - 0.5);
  // The smallest accepted integer above a rejected `lo`, below an accepted `hi`; and mirrored.
  const edge = (rejected: number, accepted: number) => {
    while (Math.abs(accepted - rejected) > 1) {
      const mid = Math.floor((rejected + accepted) / 2);
      if (ok(mid)) accepted = mid;
      else rejected = mid;
    }
    return accepted;
  };
  let minimum = ok(-LIMIT) ? undefined : edge(-LIMIT, seed);
  let maximum = ok(LIMIT) ? undefined : edge(LIMIT, seed);
  // A real interval's bound may lie between integers: keep it only if it is that integer.
  if (!integer && minimum !== undefined && ok(minimum - 0.5)) minimum = undefined;
  if (!integer && maximum !== undefined && ok(maximum + 0.5)) maximum = undefined;
  const lo = minimum ?? -1e9;
  const hi = maximum ?? 1e9;
  const inside = [lo, hi, seed, ...[0.1, 0.25, 0.5, 0.75, 0.9].map((f) => lo + (hi - lo) * f)]
    .map((n) => (integer ? Math.round(n) : n))
    .filter((n) => n >= lo && n <= hi);
  const outside = [...PROBES, ...PROBES.map((n) => -n), lo - 1, hi + 1]
    .filter((n) => n < (minimum ?? -Infinity) || n > (maximum ?? Infinity));
  if (!inside.every(ok) || outside.some(ok)) return undefined;
  if (integer && inside.some((n) => n + 0.5 <= hi && ok(n + 0.5))) return undefined;
  return { integer, minimum, maximum };
}

function tighten(json: Record<string, unknown>, p: Probed): void {
  if (p.integer) json.type = "integer";
  const min = json.minimum as number | undefined;
  const max = json.maximum as number | undefined;
  if (p.minimum !== undefined && (min === undefined || p.minimum > min)) {
    json.minimum = p.minimum;
    delete json.exclusiveMinimum;
  }
  if (p.maximum !== undefined && (max === undefined || p.maximum < max)) {
    json.maximum = p.maximum;
    delete json.exclusiveMaximum;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON Schema → structural schema

interface Ctx {
  root: CrdSchema;
  defs: Record<string, CrdSchema>;
  /** References being inlined on the way to this node (to find recursion). */
  expanding: string[];
}

const SCALAR_KEYS: Record<string, readonly string[]> = {
  string: ["minLength", "maxLength", "pattern", "format", "enum"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum"],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum"],
  boolean: ["enum"],
};

function structural(node: unknown, ctx: Ctx): CrdSchema {
  if (node === true || node === undefined) return { [PRESERVE]: true };
  if (node === false || typeof node !== "object" || node === null) return { [PRESERVE]: true };
  const n = node as CrdSchema;
  if (typeof n.$ref === "string") return inlineRef(n.$ref, ctx);
  if (Array.isArray(n.allOf) && n.allOf.length === 1 && Object.keys(n).length === 1) {
    return structural(n.allOf[0], ctx);
  }
  const branches = (n.anyOf ?? n.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) return union(branches, n, ctx);
  const out: CrdSchema = {};
  if (typeof n.description === "string") out.description = n.description;
  let type = n.type;
  if (type === undefined && Array.isArray(n.enum)) type = enumType(n.enum);
  if (type === undefined && n.const !== undefined) type = enumType([n.const]);
  if (typeof type !== "string" || type === "null") return { ...out, [PRESERVE]: true };
  out.type = type;
  if (n.nullable === true) out.nullable = true;
  if (type === "object") objectKeys(n, out, ctx);
  else if (type === "array") {
    out.items = structural(n.items, ctx);
    if (typeof n.minItems === "number") out.minItems = n.minItems;
    if (typeof n.maxItems === "number") out.maxItems = n.maxItems;
  } else {
    scalarKeys(type, n, out);
  }
  return out;
}

function objectKeys(n: CrdSchema, out: CrdSchema, ctx: Ctx): void {
  const props = n.properties as Record<string, unknown> | undefined;
  if (props && Object.keys(props).length > 0) {
    out.properties = Object.fromEntries(
      Object.entries(props).map(([k, v]) => [k, structural(v, ctx)]),
    );
    const required = (n.required as string[] | undefined)?.filter((k) => Object.hasOwn(props, k));
    if (required?.length) out.required = required;
  } else if (n.additionalProperties === true || isEmptySchema(n.additionalProperties)) {
    out[PRESERVE] = true;
  } else if (typeof n.additionalProperties === "object" && n.additionalProperties !== null) {
    out.additionalProperties = structural(n.additionalProperties, ctx);
  }
  // additionalProperties: false (a strict object with no fields) is the pruning default.
  if (typeof n.minProperties === "number") out.minProperties = n.minProperties;
  if (typeof n.maxProperties === "number") out.maxProperties = n.maxProperties;
}

function scalarKeys(type: string, n: CrdSchema, out: CrdSchema): void {
  for (const key of SCALAR_KEYS[type] ?? []) {
    const v = n[key];
    if (v === undefined) continue;
    switch (key) {
      case "minLength":
        // Kubernetes counts code points, JavaScript UTF-16 units: above 1 they disagree.
        if (typeof v === "number" && v <= 1) out.minLength = v;
        break;
      case "pattern":
        if (typeof v === "string" && isRe2(v)) out.pattern = v;
        break;
      case "format":
        if (typeof v === "string" && (KNOWN_FORMATS.has(v) || LOOSER_FORMATS.has(v))) {
          out.format = v;
        }
        break;
      case "exclusiveMinimum":
      case "exclusiveMaximum": {
        const bound = key === "exclusiveMinimum" ? "minimum" : "maximum";
        if (typeof v === "number") {
          out[bound] = v;
          out[key] = true;
        } else if (v === true && typeof n[bound] === "number") out[key] = true;
        break;
      }
      case "enum":
        if (Array.isArray(v) && v.every((x) => typeof x === type || typeof x === "number")) {
          out.enum = v;
        }
        break;
      default:
        // z.number().int() bounds itself to safe integers; that is no rule of the API's.
        if (typeof v === "number" && Math.abs(v) !== Number.MAX_SAFE_INTEGER) out[key] = v;
    }
  }
  if (out.exclusiveMinimum === true && out.minimum === undefined) delete out.exclusiveMinimum;
  if (out.exclusiveMaximum === true && out.maximum === undefined) delete out.exclusiveMaximum;
}

function inlineRef(ref: string, ctx: Ctx): CrdSchema {
  const target = ref === "#" ? ctx.root : ctx.defs[ref.replace(/^#\/(\$defs|definitions)\//, "")];
  if (!target) return { [PRESERVE]: true };
  if (ctx.expanding.includes(ref)) {
    // Recursion: the structure below this point is kept as written, unchecked.
    const type = target.type;
    return typeof type === "string" && type !== "null"
      ? { type, ...(type === "array" ? { items: { [PRESERVE]: true } } : { [PRESERVE]: true }) }
      : { [PRESERVE]: true };
  }
  return structural(target, { ...ctx, expanding: [...ctx.expanding, ref] });
}

function union(branches: unknown[], parent: CrdSchema, ctx: Ctx): CrdSchema {
  const isNull = (b: unknown) =>
    typeof b === "object" && b !== null && (b as CrdSchema).type === "null";
  const nullable = parent.nullable === true || branches.some(isNull);
  const rest = branches.filter((b) => !isNull(b)).map((b) => structural(b, ctx));
  const withNull = (s: CrdSchema): CrdSchema =>
    nullable && typeof s.type === "string" ? { ...s, nullable: true } : s;
  if (rest.length === 0) return { [PRESERVE]: true };
  if (rest.length === 1) return withNull(rest[0]);
  const types = new Set(rest.map((s) => s.type));
  if (types.size === 2 && types.has("string") && types.has("integer")) {
    return { [INT_OR_STRING]: true };
  }
  if (types.size === 1 || (types.size === 2 && types.has("integer") && types.has("number"))) {
    const type = types.has("number") ? "number" : [...types][0];
    if (type === "string" || type === "number" || type === "integer" || type === "boolean") {
      const out: CrdSchema = { type };
      const enums = rest.map((s) => s.enum as unknown[] | undefined);
      if (enums.every((e) => Array.isArray(e))) out.enum = [...new Set(enums.flat())];
      return withNull(out);
    }
    if (type === "object") return withNull({ type, [PRESERVE]: true });
    if (type === "array") return withNull({ type, items: { [PRESERVE]: true } });
  }
  return { [PRESERVE]: true };
}

function enumType(values: unknown[]): string | undefined {
  const types = new Set(values.map((v) => typeof v));
  if (types.size !== 1) return undefined;
  const t = [...types][0];
  return t === "string" || t === "boolean" ? t : t === "number" ? "number" : undefined;
}

function isEmptySchema(s: unknown): boolean {
  return typeof s === "object" && s !== null && Object.keys(s).length === 0;
}

/** Whether `pattern` compiles as RE2 (what the API server's Go `regexp` accepts). */
function isRe2(pattern: string): boolean {
  return !("error" in translateRe2(pattern));
}

// ---------------------------------------------------------------------------------------------
// The rules, checked

/** Keys a structural schema node may have here. */
const ALLOWED_KEYS = new Set([
  "type",
  "description",
  "nullable",
  "format",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
  PRESERVE,
  INT_OR_STRING,
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-validations",
]);

const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

/**
 * Why `schema` is not a structural schema apiextensions v1 accepts (empty when it is): each a
 * path and the rule broken. Checks: a type on every node (or int-or-string / preserve-unknown
 * -fields), known keywords only (no `$ref`, `$defs`, `default`, `const`, `$schema`), boolean
 * `exclusiveMinimum`/`exclusiveMaximum`, no `additionalProperties` beside `properties`, `items`
 * on arrays, `required` naming properties, RE2 `pattern`s, and typeless `anyOf`/`oneOf`/`allOf`
 * /`not` sub-schemas.
 */
export function structuralProblems(schema: CrdSchema, path = ""): string[] {
  const out: string[] = [];
  walk(schema, path || "<root>", false, out);
  return out;
}

function walk(s: CrdSchema, path: string, inJunctor: boolean, out: string[]): void {
  const problem = (m: string) => out.push(`${path}: ${m}`);
  for (const k of Object.keys(s)) if (!ALLOWED_KEYS.has(k)) problem(`keyword ${k} not allowed`);
  const type = s.type;
  if (type !== undefined && (typeof type !== "string" || !TYPES.has(type))) {
    problem(`type ${JSON.stringify(type)} is not one Kubernetes knows`);
  }
  if (inJunctor) {
    for (const k of ["type", "description", "nullable", "additionalProperties", PRESERVE]) {
      if (s[k] !== undefined) problem(`${k} not allowed inside anyOf/oneOf/allOf/not`);
    }
  } else if (type === undefined && s[INT_OR_STRING] !== true && s[PRESERVE] !== true) {
    problem("no type (and neither int-or-string nor preserve-unknown-fields)");
  }
  if (s[INT_OR_STRING] === true && type !== undefined) problem("int-or-string with a type");
  for (const k of ["exclusiveMinimum", "exclusiveMaximum"]) {
    if (s[k] !== undefined && typeof s[k] !== "boolean") problem(`${k} must be a boolean`);
  }
  if (s.properties !== undefined && s.additionalProperties !== undefined) {
    problem("additionalProperties beside properties");
  }
  if (s.additionalProperties === false) problem("additionalProperties: false");
  if (type === "array" && s.items === undefined) problem("array without items");
  if (s.items !== undefined && type !== "array" && !inJunctor) problem("items on a non-array");
  if (s.properties !== undefined && type !== "object" && !inJunctor) {
    problem("properties on a non-object");
  }
  if (typeof s.pattern === "string" && !isRe2(s.pattern)) problem("pattern is not RE2");
  const props = s.properties as Record<string, CrdSchema> | undefined;
  if (Array.isArray(s.required)) {
    for (const r of s.required) {
      if (!props || !Object.hasOwn(props, r)) problem(`required ${r} is not a property`);
    }
  }
  for (const [k, v] of Object.entries(props ?? {})) walk(v, `${path}.${k}`, inJunctor, out);
  if (typeof s.additionalProperties === "object" && s.additionalProperties !== null) {
    walk(s.additionalProperties as CrdSchema, `${path}.*`, inJunctor, out);
  }
  if (typeof s.items === "object" && s.items !== null) {
    walk(s.items as CrdSchema, `${path}[]`, inJunctor, out);
  }
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    const list = s[k];
    if (Array.isArray(list)) list.forEach((b, i) => walk(b, `${path}.${k}[${i}]`, true, out));
  }
  if (typeof s.not === "object" && s.not !== null) {
    walk(s.not as CrdSchema, `${path}.not`, true, out);
  }
}

/**
 * What the API server's schema validation would say about `value` under `schema`: a tiny
 * validator for type, `nullable`, `enum`, `required`, bounds, lengths, `pattern`, `properties`,
 * `additionalProperties` and `items` (enough to test generated schemas against examples).
 * Fields a schema doesn't name are pruned by the API server; with `strict` they are reported,
 * as strict field validation does.
 */
export function schemaValueProblems(
  schema: CrdSchema,
  value: unknown,
  opts: { strict?: boolean } = {},
  path = "",
): string[] {
  const out: string[] = [];
  const at = path || "<root>";
  const bad = (m: string) => out.push(`${at}: ${m}`);
  if (value === null) {
    if (schema.nullable !== true && schema[PRESERVE] !== true) bad("must not be null");
    return out;
  }
  const type = schema.type;
  if (schema[INT_OR_STRING] === true) {
    if (!(typeof value === "string" || Number.isInteger(value))) {
      bad("must be an integer or string");
    }
    return out;
  }
  const actual = Array.isArray(value)
    ? "array"
    : typeof value === "number"
    ? (Number.isInteger(value) ? "integer" : "number")
    : typeof value;
  if (typeof type === "string") {
    const fits = actual === type || (type === "number" && actual === "integer");
    if (!fits) {
      bad(`must be of type ${type}, got ${actual}`);
      return out;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    bad(`must be one of ${schema.enum.join(", ")}`);
  }
  if (typeof value === "number") {
    const min = schema.minimum as number | undefined;
    const max = schema.maximum as number | undefined;
    if (min !== undefined && (schema.exclusiveMinimum ? value <= min : value < min)) {
      bad(`must be at least ${min}`);
    }
    if (max !== undefined && (schema.exclusiveMaximum ? value >= max : value > max)) {
      bad(`must be at most ${max}`);
    }
  }
  if (typeof value === "string") {
    const len = [...value].length;
    if (typeof schema.minLength === "number" && len < schema.minLength) bad("too short");
    if (typeof schema.maxLength === "number" && len > schema.maxLength) bad("too long");
    if (typeof schema.pattern === "string") {
      const t = translateRe2(schema.pattern);
      if (!("error" in t) && !new RegExp(t.source, t.flags).test(value)) {
        bad(`must match ${schema.pattern}`);
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) bad("too few");
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) bad("too many");
    const items = schema.items as CrdSchema | undefined;
    if (items) {
      value.forEach((v, i) => out.push(...schemaValueProblems(items, v, opts, `${path}[${i}]`)));
    }
  } else if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const props = schema.properties as Record<string, CrdSchema> | undefined;
    const extra = schema.additionalProperties as CrdSchema | undefined;
    for (const r of (schema.required as string[] | undefined) ?? []) {
      if (obj[r] === undefined) bad(`${r} is required`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const sub = props?.[k] ?? extra;
      if (sub) out.push(...schemaValueProblems(sub, v, opts, `${path}.${k}`));
      else if (opts.strict && schema[PRESERVE] !== true) {
        out.push(`${path}.${k}: unknown field`);
      }
    }
  }
  return out;
}
