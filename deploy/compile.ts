/**
 * `deno task compile`: builds the single `mesh` executable into dist/mesh.
 *
 * `deno compile` needs a `denort` runtime binary. It downloads one unless the
 * `DENORT_BIN` environment variable points at a local copy; on machines
 * without that download (air-gapped, or CI without the host), set DENORT_BIN.
 *
 *   DENORT_BIN=/opt/deno/denort deno task compile [--target x86_64-unknown-linux-gnu] [--output dist/mesh]
 * @module
 */

import { V8_FLAGS } from "../util/v8_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
let output = `${ROOT}/dist/mesh`;
const extra: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--output") output = Deno.args[++i];
  else if (a.startsWith("--output=")) output = a.slice(9);
  else if (a === "--target" || a.startsWith("--target=")) {
    extra.push(a.includes("=") ? a : `${a}=${Deno.args[++i]}`);
  } else {
    console.error(`compile: unknown flag ${a}; flags: --output FILE, --target TRIPLE`);
    Deno.exit(2);
  }
}

const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    await Deno.stat(denort);
  } catch {
    console.error(`compile: DENORT_BIN=${denort} does not exist; point it at a denort binary`);
    Deno.exit(1);
  }
  console.error(`compile: using denort from DENORT_BIN=${denort}`);
} else {
  console.error("compile: DENORT_BIN is not set; deno will try to download denort");
}

await Deno.mkdir(output.slice(0, output.lastIndexOf("/")) || ".", { recursive: true });
const { code } = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "-A",
    "--no-check",
    `--v8-flags=${V8_FLAGS}`,
    ...extra,
    "--output",
    output,
    `${ROOT}/main.ts`,
  ],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (code !== 0) {
  console.error(
    "compile: deno compile failed; without network access set DENORT_BIN to a local denort binary",
  );
  Deno.exit(code);
}
console.error(`compile: wrote ${output}`);
