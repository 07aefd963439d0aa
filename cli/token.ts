/**
 * `mesh token create`: bootstrap tokens for proxies (and `--admin` tokens for
 * the admin API), signed with the control plane's key in the data dir.
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { TokenIssuer } from "../ca/token.ts";
import { certSha256 } from "../ca/pem.ts";
import { checkIdentityFlags, common } from "./common.ts";

/** Flags of `mesh token create`. */
export const tokenFlags: FlagSpecs = {
  namespace: { type: "string", required: true, help: "namespace the token allows" },
  "service-account": { type: "string", required: true, help: "service account the token allows" },
  "data-dir": { type: "string", default: "./mesh-data", help: "the control plane's data dir" },
  ttl: { type: "duration", default: "1h", help: "token lifetime" },
  "single-use": {
    type: "bool",
    default: false,
    help: "the token obtains one certificate only (renewals use the certificate itself)",
  },
  ...common,
};

/** Help text of `mesh token`. */
export function tokenHelp(): string {
  return `mesh token create --namespace NS --service-account SA [flags]\n\nPrints a bootstrap token signed by the control plane's key in --data-dir.\n\nmesh token create --admin [--data-dir DIR] [--ttl D] [--name WHO] prints an admin token for\nmesh apply, delete and get instead.\n\n${
    flagHelp(tokenFlags)
  }`;
}

/** Runs `mesh token`. */
export async function tokenCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === undefined) {
    console.log(tokenHelp());
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "create") {
    throw new UsageError(`unknown command "token ${sub}"; did you mean "token create"?`);
  }
  if (rest.some((a) => a === "--admin" || a === "--admin=true")) {
    const { adminTokenCommand } = await import("../control/admin_client.ts");
    return await adminTokenCommand(rest);
  }
  const { flags, help } = parseFlags(rest, tokenFlags);
  if (help) {
    console.log(tokenHelp());
    return 0;
  }
  checkIdentityFlags(flags.namespace as string, flags.serviceAccount as string);
  console.log(
    await mintBootstrapToken({
      dataDir: flags.dataDir as string,
      namespace: flags.namespace as string,
      serviceAccount: flags.serviceAccount as string,
      ttlMs: flags.ttl as number,
      singleUse: flags.singleUse as boolean,
    }),
  );
  return 0;
}

/** What {@linkcode mintBootstrapToken} takes. */
export interface BootstrapTokenOptions {
  /** The control plane's data dir (its CA root and token key). */
  dataDir: string;
  namespace: string;
  serviceAccount: string;
  /** Lifetime in milliseconds (rounded to seconds). */
  ttlMs: number;
  /** Good for one certificate only. */
  singleUse?: boolean;
}

/**
 * A bootstrap token signed with the token key in `dataDir`, pinning the CA root's SHA-256, as
 * `mesh token create` prints it (`mesh vm onboard` mints its token here too). Throws when the
 * data dir has no CA yet, saying to start the control plane (or pass the right data dir).
 *
 * @example
 * ```ts
 * const token = await mintBootstrapToken({
 *   dataDir: "/var/lib/mesh", namespace: "default", serviceAccount: "reviews", ttlMs: 3_600_000,
 * });
 * ```
 */
export async function mintBootstrapToken(o: BootstrapTokenOptions): Promise<string> {
  let rootPem: string;
  try {
    rootPem = await Deno.readTextFile(`${o.dataDir}/ca/root-cert.pem`);
  } catch {
    throw new Error(
      `no CA in ${o.dataDir}/ca: start the control plane with --data-dir ${o.dataDir} first, or pass the right --data-dir`,
    );
  }
  const issuer = await TokenIssuer.loadOrCreate(o.dataDir, false);
  return await issuer.create({
    namespace: o.namespace,
    serviceAccount: o.serviceAccount,
    ttlSeconds: Math.round(o.ttlMs / 1000),
    rootSha256: await certSha256(rootPem),
    singleUse: o.singleUse ?? false,
  });
}
