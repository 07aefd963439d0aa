/**
 * Reading configuration inputs named on a command line: files, directories
 * (their `*.yaml`, `*.yml`, `*.json`, sorted; subdirectories with
 * `recursive`) and `-` for standard input.
 *
 * @example
 * ```ts
 * for (const { file, text } of await readInputs(["config/", "-"])) console.log(file, text.length);
 * ```
 * @module
 */
import { UsageError } from "./flags.ts";

/** One input: its name (a path, or `<stdin>`) and its text. */
export interface Input {
  file: string;
  text: string;
}

/** Reads FILE, DIR (its `*.yaml`, `*.yml`, `*.json`; subdirectories with `recursive`) or `-`. */
export async function readInputs(
  paths: readonly string[],
  options: { recursive?: boolean } = {},
): Promise<Input[]> {
  const recursive = options.recursive ?? false;
  const out: Input[] = [];
  const visit = async (p: string, top: boolean): Promise<void> => {
    if (p === "-") {
      out.push({ file: "<stdin>", text: await new Response(Deno.stdin.readable).text() });
      return;
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p);
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    if (st.isDirectory) {
      if (!top && !recursive) return;
      const entries: Deno.DirEntry[] = [];
      for await (const e of Deno.readDir(p)) entries.push(e);
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const base = p.endsWith("/") ? p.slice(0, -1) : p;
      for (const e of entries) {
        if (e.isDirectory) {
          if (recursive) await visit(`${base}/${e.name}`, false);
        } else if (/\.(ya?ml|json)$/i.test(e.name)) {
          await visit(`${base}/${e.name}`, false);
        }
      }
      return;
    }
    out.push({ file: p, text: await Deno.readTextFile(p) });
  };
  for (const p of paths) await visit(p, true);
  return out;
}
