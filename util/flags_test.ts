import assert from "node:assert/strict";
import {
  envName,
  flagHelp,
  type FlagSpecs,
  parseDuration,
  parseFlags,
  parseLabels,
  UsageError,
} from "./flags.ts";

const SPECS = {
  mode: { type: "string", values: ["control", "proxy"], help: "what to run" },
  name: { type: "string", help: "a name" },
  "foo-bar": { type: "string", help: "a kebab flag" },
  port: { type: "port", default: 15001, help: "listen port" },
  count: { type: "int", help: "how many" },
  verbose: { type: "bool", help: "talk more" },
  ttl: { type: "duration", default: "24h", help: "lifetime" },
  labels: { type: "labels", default: "", help: "workload labels" },
  hosts: { type: "list", help: "names to serve" },
} satisfies FlagSpecs;

/** Asserts that `fn` throws a UsageError whose message contains every one of `parts`. */
function usageError(fn: () => unknown, ...parts: string[]): UsageError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UsageError, `expected a UsageError, got ${caught}`);
  assert.equal(caught.name, "UsageError");
  for (const p of parts) {
    assert.ok(caught.message.includes(p), `${JSON.stringify(caught.message)} lacks ${p}`);
  }
  return caught;
}

// ---------------------------------------------------------------------------------------------
// Syntax

Deno.test("parseFlags: --name=value and --name value", () => {
  const { flags, args } = parseFlags(["--name=alice", "--count", "3"], SPECS, {});
  assert.equal(flags.name, "alice");
  assert.equal(flags.count, 3);
  assert.deepEqual(args, []);
});

Deno.test("parseFlags: a value containing '=' keeps it", () => {
  const { flags } = parseFlags(["--name=a=b"], SPECS, {});
  assert.equal(flags.name, "a=b");
});

Deno.test("parseFlags: kebab-case flags come back camelCase", () => {
  const { flags } = parseFlags(["--foo-bar", "x"], SPECS, {});
  assert.equal(flags.fooBar, "x");
  assert.equal("foo-bar" in flags, false);
});

Deno.test("parseFlags: positional arguments and '--'", () => {
  const { flags, args } = parseFlags(
    ["a.yaml", "--name=n", "-", "b.yaml", "--", "--count", "-x"],
    SPECS,
    {},
  );
  assert.equal(flags.name, "n");
  assert.equal(flags.count, undefined);
  assert.deepEqual(args, ["a.yaml", "-", "b.yaml", "--count", "-x"]);
});

Deno.test("parseFlags: the last of a repeated flag wins", () => {
  assert.equal(parseFlags(["--name=a", "--name=b"], SPECS, {}).flags.name, "b");
});

Deno.test("parseFlags: --help and -h set help", () => {
  assert.equal(parseFlags([], SPECS, {}).help, false);
  assert.equal(parseFlags(["--help"], SPECS, {}).help, true);
  assert.equal(parseFlags(["-h"], SPECS, {}).help, true);
});

Deno.test("parseFlags: a flag needing a value at the end of argv", () => {
  usageError(() => parseFlags(["--name"], SPECS, {}), "--name", "needs a value");
});

// ---------------------------------------------------------------------------------------------
// Types

Deno.test("parseFlags: bool flags", () => {
  assert.equal(parseFlags(["--verbose"], SPECS, {}).flags.verbose, true);
  for (const v of ["true", "1", "yes", ""]) {
    assert.equal(parseFlags([`--verbose=${v}`], SPECS, {}).flags.verbose, true, v);
  }
  for (const v of ["false", "0", "no"]) {
    assert.equal(parseFlags([`--verbose=${v}`], SPECS, {}).flags.verbose, false, v);
  }
  // A bool flag never takes the next argument.
  const { flags, args } = parseFlags(["--verbose", "false"], SPECS, {});
  assert.equal(flags.verbose, true);
  assert.deepEqual(args, ["false"]);
});

Deno.test("parseFlags: a bool flag with a bad value", () => {
  usageError(() => parseFlags(["--verbose=maybe"], SPECS, {}), "--verbose", "maybe");
});

Deno.test("parseFlags: an absent bool flag without default stays undefined", () => {
  assert.equal(parseFlags([], SPECS, {}).flags.verbose, undefined);
});

Deno.test("parseFlags: string flags with allowed values", () => {
  assert.equal(parseFlags(["--mode=proxy"], SPECS, {}).flags.mode, "proxy");
  usageError(() => parseFlags(["--mode=gateway"], SPECS, {}), "--mode", "control, proxy");
});

Deno.test("parseFlags: int flags", () => {
  assert.equal(parseFlags(["--count=-5"], SPECS, {}).flags.count, -5);
  assert.equal(parseFlags(["--count=0"], SPECS, {}).flags.count, 0);
  for (const bad of ["abc", "1.5", "NaN", "Infinity"]) {
    usageError(() => parseFlags([`--count=${bad}`], SPECS, {}), "--count", "whole number");
  }
});

Deno.test("parseFlags: port flags", () => {
  assert.equal(parseFlags(["--port=0"], SPECS, {}).flags.port, 0);
  assert.equal(parseFlags(["--port", "65535"], SPECS, {}).flags.port, 65535);
  for (const bad of ["-1", "65536", "http", "80.5"]) {
    usageError(() => parseFlags([`--port=${bad}`], SPECS, {}), "--port", "0 to 65535", bad);
  }
});

// Regression test (was a bug, now fixed): util/flags.ts convert() (lines 76-84) reads int and port values with Number(), which
// turns "" and whitespace into 0: `--port=` sets port 0 (a random port) and `--count=` sets 0,
// instead of a UsageError; MESH_PORT=" " in the environment does the same.
Deno.test({
  name: "parseFlags: an empty int or port value is a UsageError",
  fn() {
    usageError(() => parseFlags(["--port="], SPECS, {}), "--port");
    usageError(() => parseFlags(["--count="], SPECS, {}), "--count");
    usageError(() => parseFlags([], SPECS, { MESH_PORT: " " }), "MESH_PORT");
  },
});

Deno.test("parseFlags: duration flags are milliseconds", () => {
  assert.equal(parseFlags(["--ttl=1h30m"], SPECS, {}).flags.ttl, 5_400_000);
  assert.equal(parseFlags(["--ttl", "250ms"], SPECS, {}).flags.ttl, 250);
  usageError(() => parseFlags(["--ttl=5x"], SPECS, {}), "--ttl", "5x", "duration");
  usageError(() => parseFlags(["--ttl=10"], SPECS, {}), "--ttl", "duration");
});

Deno.test("parseFlags: labels flags", () => {
  assert.deepEqual(parseFlags(["--labels=app=reviews,version=v1"], SPECS, {}).flags.labels, {
    app: "reviews",
    version: "v1",
  });
  usageError(() => parseFlags(["--labels=app"], SPECS, {}), "--labels", "key=value");
});

Deno.test("parseFlags: list flags split on commas and drop blanks", () => {
  assert.deepEqual(parseFlags(["--hosts=a, b,,c,"], SPECS, {}).flags.hosts, ["a", "b", "c"]);
  assert.deepEqual(parseFlags(["--hosts="], SPECS, {}).flags.hosts, []);
});

// ---------------------------------------------------------------------------------------------
// Environment and defaults

Deno.test("envName: MESH_ and upper snake case", () => {
  assert.equal(envName("foo-bar"), "MESH_FOO_BAR");
  assert.equal(envName("port"), "MESH_PORT");
  assert.equal(envName("data-dir"), "MESH_DATA_DIR");
});

Deno.test("parseFlags: environment variables stand in for flags", () => {
  const { flags } = parseFlags([], SPECS, {
    MESH_FOO_BAR: "from-env",
    MESH_PORT: "8080",
    MESH_VERBOSE: "yes",
    MESH_TTL: "30s",
    MESH_LABELS: "app=ratings",
    MESH_HOSTS: "x,y",
  });
  assert.equal(flags.fooBar, "from-env");
  assert.equal(flags.port, 8080);
  assert.equal(flags.verbose, true);
  assert.equal(flags.ttl, 30_000);
  assert.deepEqual(flags.labels, { app: "ratings" });
  assert.deepEqual(flags.hosts, ["x", "y"]);
});

Deno.test("parseFlags: the command line wins over the environment", () => {
  const { flags } = parseFlags(["--foo-bar=cli", "--port=1"], SPECS, {
    MESH_FOO_BAR: "env",
    MESH_PORT: "not-a-port",
  });
  assert.equal(flags.fooBar, "cli");
  // The bad env value is not even looked at.
  assert.equal(flags.port, 1);
});

Deno.test("parseFlags: an empty environment variable counts as unset", () => {
  const { flags } = parseFlags([], SPECS, { MESH_PORT: "", MESH_FOO_BAR: "" });
  assert.equal(flags.port, 15001);
  assert.equal(flags.fooBar, undefined);
});

Deno.test("parseFlags: other environment variables are ignored", () => {
  const { flags } = parseFlags([], SPECS, { FOO_BAR: "x", PORT: "1", mesh_port: "2" });
  assert.equal(flags.fooBar, undefined);
  assert.equal(flags.port, 15001);
});

Deno.test("parseFlags: a bad environment value names the variable", () => {
  usageError(() => parseFlags([], SPECS, { MESH_PORT: "99999" }), "MESH_PORT", "99999");
  usageError(() => parseFlags([], SPECS, { MESH_COUNT: "x" }), "MESH_COUNT", "whole number");
  usageError(() => parseFlags([], SPECS, { MESH_TTL: "soon" }), "MESH_TTL", "duration");
  usageError(() => parseFlags([], SPECS, { MESH_LABELS: "=x" }), "MESH_LABELS", "key=value");
});

Deno.test("parseFlags: defaults fill in what is not given", () => {
  const { flags } = parseFlags([], SPECS, {});
  assert.equal(flags.port, 15001);
  assert.equal(flags.ttl, 24 * 3_600_000);
  assert.deepEqual(flags.labels, {});
  assert.equal(flags.name, undefined);
  assert.equal("name" in flags, false);
});

Deno.test("parseFlags: string defaults of typed flags are converted", () => {
  const specs: FlagSpecs = {
    ttl: { type: "duration", default: "1h", help: "" },
    n: { type: "int", default: "42", help: "" },
    p: { type: "port", default: "8080", help: "" },
    b: { type: "bool", default: "false", help: "" },
    l: { type: "labels", default: "a=1", help: "" },
    h: { type: "list", default: "x,y", help: "" },
    s: { type: "string", default: "as-is", help: "" },
  };
  assert.deepEqual(parseFlags([], specs, {}).flags, {
    ttl: 3_600_000,
    n: 42,
    p: 8080,
    b: false,
    l: { a: "1" },
    h: ["x", "y"],
    s: "as-is",
  });
});

Deno.test("parseFlags: non-string defaults are kept as they are", () => {
  const specs: FlagSpecs = {
    ttl: { type: "duration", default: 5000, help: "" },
    b: { type: "bool", default: true, help: "" },
  };
  assert.deepEqual(parseFlags([], specs, {}).flags, { ttl: 5000, b: true });
});

Deno.test("parseFlags: a bad string default names the flag", () => {
  const specs: FlagSpecs = { ttl: { type: "duration", default: "forever", help: "" } };
  usageError(() => parseFlags([], specs, {}), "default of --ttl", "forever");
});

Deno.test("parseFlags: the environment wins over the default", () => {
  assert.equal(parseFlags([], SPECS, { MESH_TTL: "2m" }).flags.ttl, 120_000);
});

Deno.test("parseFlags: a required flag missing names the flag and its variable", () => {
  const specs: FlagSpecs = {
    "data-dir": { type: "string", required: true, help: "where the CA lives" },
  };
  const err = usageError(() => parseFlags([], specs, {}), "--data-dir", "MESH_DATA_DIR");
  assert.match(err.message, /where the CA lives/);
  assert.equal(parseFlags(["--data-dir=/x"], specs, {}).flags.dataDir, "/x");
  assert.equal(parseFlags([], specs, { MESH_DATA_DIR: "/y" }).flags.dataDir, "/y");
});

Deno.test("parseFlags: --help skips the required check", () => {
  const specs: FlagSpecs = { mode: { type: "string", required: true, help: "" } };
  const p = parseFlags(["--help"], specs, {});
  assert.equal(p.help, true);
  assert.equal(p.flags.mode, undefined);
});

Deno.test("parseFlags: unknown flags are UsageErrors", () => {
  usageError(() => parseFlags(["--nope"], SPECS, {}), "unknown flag --nope");
  usageError(() => parseFlags(["--nope=1"], SPECS, {}), "unknown flag --nope");
  usageError(() => parseFlags(["-x"], SPECS, {}), "unknown flag -x");
  usageError(() => parseFlags(["--Port=1"], SPECS, {}), "--Port");
});

// Regression test (was a bug, now fixed): util/flags.ts parseFlags (line 146) looks flags up with `specs[name]` on a plain object,
// so names inherited from Object.prototype pass as known: `--constructor=1` fails with
// "flag --constructor has an unknown type" and `--toString` with "needs a value" instead of
// "unknown flag --constructor" / "unknown flag --toString" (needs Object.hasOwn).
Deno.test({
  name: "parseFlags: Object.prototype names are unknown flags too",
  fn() {
    usageError(() => parseFlags(["--constructor=1"], SPECS, {}), "unknown flag --constructor");
    usageError(() => parseFlags(["--toString"], SPECS, {}), "unknown flag --toString");
  },
});

// ---------------------------------------------------------------------------------------------
// parseDuration / parseLabels

Deno.test("parseDuration: units and combinations", () => {
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("24h"), 86_400_000);
  assert.equal(parseDuration("1m500ms"), 60_500);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration: rejects what is not a duration", () => {
  for (const bad of ["", "5x", "5", "1m30", "s", "-5s", "1.5.5s", " 5s", "5s ", "1 h", ".5s"]) {
    assert.equal(parseDuration(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("parseLabels: key=value pairs", () => {
  assert.deepEqual(parseLabels("app=reviews,version=v1"), { app: "reviews", version: "v1" });
  assert.deepEqual(parseLabels(" app = reviews , version=v1 "), { app: "reviews", version: "v1" });
  assert.deepEqual(parseLabels("a=b=c"), { a: "b=c" });
  assert.deepEqual(parseLabels("a="), { a: "" });
  assert.deepEqual(parseLabels("a=1,a=2"), { a: "2" });
});

Deno.test("parseLabels: empty input is no labels", () => {
  assert.deepEqual(parseLabels(""), {});
  assert.deepEqual(parseLabels("   "), {});
});

Deno.test("parseLabels: rejects pairs without a key or '='", () => {
  for (const bad of ["app", "=v1", "app=reviews,version", "a=b,,c=d", "a=b,"]) {
    assert.equal(parseLabels(bad), undefined, JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------------------------------------
// flagHelp

Deno.test("flagHelp: one line per flag with type, help, default and variable", () => {
  const help = flagHelp(SPECS);
  const lines = help.split("\n");
  assert.equal(lines.length, Object.keys(SPECS).length);
  for (const [name, spec] of Object.entries(SPECS)) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${name}`));
    assert.ok(line, `no line for --${name} in:\n${help}`);
    assert.ok(line.includes(spec.help), line);
    assert.ok(line.includes(`[${envName(name)}]`), line);
  }
  assert.match(help, /--mode=control\|proxy\s+what to run \[MESH_MODE\]/);
  assert.match(help, /--port=PORT\s+listen port \(default 15001\) \[MESH_PORT\]/);
  assert.match(help, /--ttl=DURATION\s+lifetime \(default "24h"\) \[MESH_TTL\]/);
  // Bool flags take no value; an empty default isn't shown.
  assert.match(help, /--verbose\s+talk more \[MESH_VERBOSE\]/);
  assert.match(help, /--labels=LABELS\s+workload labels \[MESH_LABELS\]/);
});

Deno.test("flagHelp: help texts start in one column", () => {
  const lines = flagHelp(SPECS).split("\n");
  const starts = Object.values(SPECS).map((spec, i) => lines[i].indexOf(spec.help));
  assert.ok(starts.every((c) => c > 0 && c === starts[0]), lines.join("\n"));
});

Deno.test("flagHelp: no flags, no lines", () => {
  assert.equal(flagHelp({}), "");
});

Deno.test("parseFlags: int and duration flags with min/max name the flag and the range", () => {
  const specs = {
    "max-connections": { type: "int", min: 1, max: 100, default: 10, help: "conns" },
    "request-headers-timeout": { type: "duration", min: 100, default: "10s", help: "timeout" },
  } satisfies FlagSpecs;
  assert.equal(parseFlags(["--max-connections=100"], specs, {}).flags.maxConnections, 100);
  assert.equal(parseFlags([], specs, {}).flags.requestHeadersTimeout, 10_000);
  usageError(
    () => parseFlags(["--max-connections=0"], specs, {}),
    "--max-connections",
    "from 1 to 100",
  );
  usageError(
    () => parseFlags([], specs, { MESH_MAX_CONNECTIONS: "101" }),
    "MESH_MAX_CONNECTIONS",
    "from 1 to 100",
  );
  usageError(
    () => parseFlags(["--request-headers-timeout=10ms"], specs, {}),
    "--request-headers-timeout",
    "at least 100ms",
  );
});

Deno.test("mesh start: the listener limit flags are proxy flags with Envoy-like defaults", async () => {
  const { proxyFlags } = await import("../cli/start.ts");
  const { flags } = parseFlags(["--mode=proxy", "--token-file=t"], proxyFlags, {});
  assert.equal(flags.maxConnections, 10_000);
  assert.equal(flags.requestHeadersTimeout, 10_000);
  assert.equal(flags.idleTimeout, 60_000);
  assert.equal(flags.maxRequestHeadersKb, 60);
  assert.equal(flags.maxRequestHeaders, 100);
  usageError(
    () => parseFlags(["--mode=proxy", "--token-file=t", "--max-request-headers=0"], proxyFlags, {}),
    "--max-request-headers",
  );
});
