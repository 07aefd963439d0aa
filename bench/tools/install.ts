/**
 * Installs the benchmark's peers and clients from Debian's packages when they
 * are missing and the bench runs as root on a Debian-like host, so
 * `deno task bench` works from a clean checkout with one command. Elsewhere it
 * only says what to install.
 * @module
 */

/** Debian package for each command (or module file) the suite uses. */
const PACKAGES: { check: string[]; pkg: string }[] = [
  { check: ["curl", "--version"], pkg: "curl" },
  { check: ["wrk", "--version"], pkg: "wrk" },
  { check: ["h2load", "--version"], pkg: "nghttp2-client" },
  { check: ["nginx", "-v"], pkg: "nginx-light" },
  { check: ["haproxy", "-v"], pkg: "haproxy" },
  {
    check: ["test", "-e", "/usr/lib/nginx/modules/ngx_stream_module.so"],
    pkg: "libnginx-mod-stream",
  },
];

async function ok(cmd: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "null",
      stderr: "null",
    })
      .output();
    // `wrk --version` exits 1 after printing; being found is what counts.
    return out.success || cmd[0] === "wrk";
  } catch {
    return false;
  }
}

async function apt(args: string[]): Promise<boolean> {
  const out = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => undefined);
  return out?.success ?? false;
}

/** Installs missing packages when possible; returns the ones still missing. */
export async function ensureTools(log: (msg: string) => void, install: boolean): Promise<string[]> {
  const missing: string[] = [];
  for (const p of PACKAGES) if (!(await ok(p.check))) missing.push(p.pkg);
  if (missing.length === 0) return [];
  const root = Deno.uid?.() === 0;
  if (!install || !root || !(await ok(["apt-get", "--version"]))) {
    log(`missing: ${missing.join(", ")}; install with: apt-get install -y ${missing.join(" ")}`);
    return missing;
  }
  log(`installing ${missing.join(", ")} from Debian's packages`);
  if (!(await apt(["install", "-y", "-qq", ...missing]))) {
    await apt(["update", "-qq"]);
    await apt(["install", "-y", "-qq", ...missing]);
  }
  const still: string[] = [];
  for (const p of PACKAGES) if (missing.includes(p.pkg) && !(await ok(p.check))) still.push(p.pkg);
  if (still.length) log(`could not install: ${still.join(", ")}`);
  return still;
}
