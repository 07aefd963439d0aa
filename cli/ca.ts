/**
 * `mesh ca`: the embedded CA from the command line, working on the control
 * plane's data dir.
 *
 * - `mesh ca init`: create the root (if none) without starting the control plane;
 * - `mesh ca root [--bundle]`: print the signing root (or every trusted root);
 * - `mesh ca issue --namespace NS --service-account SA --out DIR`: a key and
 *   certificate for a client that isn't a proxy (`key.pem`, `cert-chain.pem`,
 *   `root-cert.pem`, as Istio names them);
 * - `mesh ca status`: roots, rotation phase, certificates issued;
 * - `mesh ca rotate-root`: start a root rotation (the control plane finishes it).
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { CA_KEY_TYPES, type CaKeyType } from "../ca/ca_key_types.ts";
import { checkIdentityFlags, common } from "./common.ts";

const base: FlagSpecs = {
  "data-dir": { type: "string", default: "./mesh-data", help: "the control plane's data dir" },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  ...common,
};

/** Flags per `mesh ca` subcommand. */
export const caFlags: Record<string, FlagSpecs> = {
  init: {
    ...base,
    "key-type": { type: "string", values: CA_KEY_TYPES, default: "ec-p256", help: "root key type" },
  },
  root: { ...base, bundle: { type: "bool", default: false, help: "print every trusted root" } },
  issue: {
    ...base,
    namespace: { type: "string", required: true, help: "namespace of the identity" },
    "service-account": { type: "string", required: true, help: "service account of the identity" },
    out: {
      type: "string",
      required: true,
      help: "directory to write key.pem, cert-chain.pem, root-cert.pem",
    },
    ttl: { type: "duration", default: "24h", help: "certificate lifetime (at most 90 days)" },
  },
  status: base,
  "rotate-root": {
    ...base,
    "key-type": {
      type: "string",
      values: CA_KEY_TYPES,
      default: "ec-p256",
      help: "new root's key type",
    },
  },
};

/** Help text of `mesh ca`. */
export function caHelp(): string {
  return `mesh ca init|root|issue|status|rotate-root [flags]

  init          create the CA in --data-dir (the control plane does this on first start too)
  root          print the signing root PEM (--bundle: every root trusted now)
  issue         write a key and certificate for an identity to --out (for clients that aren't proxies)
  status        roots, their expiry, the rotation phase and certificates issued
  rotate-root   start a root rotation; the running control plane trusts the new root everywhere,
                then signs with it, then retires the old one once every proxy renewed

` + Object.entries(caFlags).map(([sub, f]) => `mesh ca ${sub}:\n${flagHelp(f)}`).join("\n\n");
}

/**
 * The CA in `<dataDir>/ca`, as `mesh ca` reads it (`mesh vm onboard` reads its roots here too);
 * throws saying to run `mesh ca init` or start the control plane when there is none.
 */
export async function loadCa(dataDir: string, trustDomain: string, create = false) {
  const { CertificateAuthority } = await import("../ca/ca.ts");
  const dir = `${dataDir}/ca`;
  try {
    await Deno.stat(`${dir}/root-cert.pem`);
  } catch {
    if (!create) {
      throw new Error(
        `no CA in ${dir}: run \`mesh ca init --data-dir ${dataDir}\` or start the control plane first`,
      );
    }
  }
  return await CertificateAuthority.loadOrCreate(dir, { trustDomain });
}

/** Runs `mesh ca`. */
export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(caHelp());
    return sub === undefined ? 2 : 0;
  }
  const specs = caFlags[sub];
  if (!specs) throw new UsageError(`unknown command "ca ${sub}" (see mesh ca --help)`);
  const { flags, args, help } = parseFlags(rest, specs);
  if (help) {
    console.log(caHelp());
    return 0;
  }
  if (args.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (see --help)`);
  }
  const dataDir = flags.dataDir as string;
  const trustDomain = flags.trustDomain as string;
  switch (sub) {
    case "init": {
      const { CertificateAuthority } = await import("../ca/ca.ts");
      await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
      const ca = await CertificateAuthority.loadOrCreate(`${dataDir}/ca`, {
        trustDomain,
        keyType: flags.keyType as CaKeyType,
      });
      console.log(`CA ready in ${dataDir}/ca (root expires ${ca.notAfter.toISOString()})`);
      return 0;
    }
    case "root": {
      const ca = await loadCa(dataDir, trustDomain);
      Deno.stdout.writeSync(
        new TextEncoder().encode(flags.bundle ? ca.trustBundlePem : ca.rootPem),
      );
      return 0;
    }
    case "issue": {
      checkIdentityFlags(flags.namespace as string, flags.serviceAccount as string);
      const ca = await loadCa(dataDir, trustDomain);
      const { createCsr } = await import("../ca/csr.ts");
      const { spiffeId } = await import("../ca/spiffe.ts");
      const id = {
        namespace: flags.namespace as string,
        serviceAccount: flags.serviceAccount as string,
      };
      const { keyPem, csrPem } = await createCsr(
        spiffeId(trustDomain, id.namespace, id.serviceAccount),
      );
      const signed = await ca.signCsr(csrPem, id, flags.ttl as number);
      const out = flags.out as string;
      await Deno.mkdir(out, { recursive: true, mode: 0o700 });
      await atomicWrite(`${out}/key.pem`, keyPem, { mode: 0o600 });
      await atomicWrite(`${out}/cert-chain.pem`, signed.certChainPem, { mode: 0o644 });
      await atomicWrite(`${out}/root-cert.pem`, signed.rootsPem, { mode: 0o644 });
      const line = JSON.stringify({
        time: new Date().toISOString(),
        event: "issued",
        serial: signed.serial,
        identity: signed.spiffeId,
        expires: signed.notAfter.toISOString(),
        credential: "ca-cli",
        root: signed.rootSha256,
      });
      await Deno.writeTextFile(`${dataDir}/ca/audit.log`, line + "\n", {
        append: true,
        mode: 0o600,
      });
      console.log(
        `${signed.spiffeId}: wrote ${out}/key.pem, cert-chain.pem, root-cert.pem (expires ${signed.notAfter.toISOString()})`,
      );
      return 0;
    }
    case "status": {
      const ca = await loadCa(dataDir, trustDomain);
      console.log(
        `CA: ${dataDir}/ca (${ca.mode}), trust domain ${ca.trustDomain}, rotation: ${ca.phase}`,
      );
      console.log("ROLE      EXPIRES                   SERIAL                            SUBJECT");
      for (const r of ca.roots()) {
        console.log(
          `${r.role.padEnd(9)} ${r.notAfter.toISOString().padEnd(25)} ${
            r.serial.padEnd(33)
          } ${r.subject}`,
        );
      }
      let issued = 0;
      let refused = 0;
      let last: Record<string, unknown> | undefined;
      try {
        for (const line of (await Deno.readTextFile(`${dataDir}/ca/audit.log`)).split("\n")) {
          if (!line) continue;
          const r = JSON.parse(line);
          if (r.event === "issued") {
            issued++;
            last = r;
          } else if (r.event === "refused") refused++;
        }
      } catch { /* no audit log yet */ }
      console.log(`certificates issued: ${issued}, requests refused: ${refused}`);
      if (last) {
        console.log(`last issued: ${last.identity} at ${last.time} (serial ${last.serial})`);
      }
      return 0;
    }
    case "rotate-root": {
      const { beginRootRotation } = await import("../ca/ca.ts");
      const { serial } = await beginRootRotation(`${dataDir}/ca`, {
        trustDomain,
        keyType: flags.keyType as CaKeyType,
      });
      console.log(
        `root rotation started (new root ${serial}). The running control plane adds it to every ` +
          "proxy's trust, signs with it once all proxies acknowledged, and retires the old root " +
          "once all of them renewed; follow it with `mesh ca status`.",
      );
      return 0;
    }
  }
  return 2;
}
