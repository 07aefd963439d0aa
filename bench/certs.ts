/**
 * Certificates for the nginx and HAProxy pairs, made with `openssl`: a
 * throwaway CA, a server certificate for proxy B (DNS SAN {@linkcode PEER_B_NAME},
 * which proxy A verifies) and a client certificate for proxy A (B requires it).
 * ECDSA P-256, valid for two days, written into the run's temp dir.
 * @module
 */
import { run, tail } from "./spawn.ts";

/** The DNS name in proxy B's certificate; proxy A checks it (`proxy_ssl_name`, `verifyhost`). */
export const PEER_B_NAME = "peer-b.bench.internal";
/** The DNS name in proxy A's client certificate. */
export const PEER_A_NAME = "peer-a.bench.internal";

/** Paths of the PEM files for one run. */
export interface CertFiles {
  ca: string;
  /** Proxy B's server certificate and key. */
  serverCert: string;
  serverKey: string;
  /** Certificate followed by key, as HAProxy's `crt` wants. */
  serverBundle: string;
  /** Proxy A's client certificate and key. */
  clientCert: string;
  clientKey: string;
  clientBundle: string;
}

async function openssl(args: string[]): Promise<void> {
  const out = await run("openssl", args, { timeoutMs: 30_000 });
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${tail(out.stderr || out.stdout)}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function leaf(dir: string, name: string, cn: string, ext: string[]): Promise<void> {
  await openssl([
    "req",
    "-new",
    ...EC,
    "-keyout",
    `${dir}/${name}.key`,
    "-out",
    `${dir}/${name}.csr`,
    "-subj",
    `/O=mesh-bench/CN=${cn}`,
  ]);
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext.join("\n") + "\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/${name}.csr`,
    "-CA",
    `${dir}/ca.crt`,
    "-CAkey",
    `${dir}/ca.key`,
    "-set_serial",
    `0x${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    `${dir}/${name}.ext`,
    "-out",
    `${dir}/${name}.crt`,
  ]);
  const bundle = (await Deno.readTextFile(`${dir}/${name}.crt`)) +
    (await Deno.readTextFile(`${dir}/${name}.key`));
  await Deno.writeTextFile(`${dir}/${name}.pem`, bundle);
}

/** Makes the CA, server and client certificates in `dir` (created if missing). */
export async function makeCerts(dir: string): Promise<CertFiles> {
  await Deno.mkdir(dir, { recursive: true });
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.crt`,
    "-days",
    "2",
    "-sha256",
    "-subj",
    "/O=mesh-bench/CN=mesh-bench CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const common = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
  await leaf(dir, "server", "peer-b", [
    ...common,
    "extendedKeyUsage=serverAuth",
    `subjectAltName=DNS:${PEER_B_NAME}`,
  ]);
  await leaf(dir, "client", "peer-a", [
    ...common,
    "extendedKeyUsage=clientAuth",
    `subjectAltName=DNS:${PEER_A_NAME}`,
  ]);
  return {
    ca: `${dir}/ca.crt`,
    serverCert: `${dir}/server.crt`,
    serverKey: `${dir}/server.key`,
    serverBundle: `${dir}/server.pem`,
    clientCert: `${dir}/client.crt`,
    clientKey: `${dir}/client.key`,
    clientBundle: `${dir}/client.pem`,
  };
}
