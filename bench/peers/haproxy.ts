/**
 * The HAProxy pair (Debian's haproxy): HAProxy A takes plain HTTP from the
 * client and sends it over mTLS (TLS 1.3) to HAProxy B, which requires a
 * client certificate and forwards to the app. Each runs in the foreground
 * (`-db`) as one process with one thread (`nbthread 1`), with
 * `http-reuse always` on every HTTP backend so server connections are shared
 * and kept alive. The same pair also carries h2c from the client, gRPC
 * (HTTP/2 end to end) and raw TCP (`mode tcp`, mTLS between A and B).
 * @module
 */
import { freePort, Proc } from "../../tests/helpers.ts";
import { type CertFiles, PEER_B_NAME } from "../certs.ts";
import type { Backends, Pair } from "./types.ts";

/** The ports HAProxy A and B listen on. */
export interface HaproxyPorts {
  a: number;
  aH2: number;
  aGrpc: number;
  aTcp: number;
  b: number;
  bGrpc: number;
  bTcp: number;
}

const GLOBAL = `# Written by bench/peers/haproxy.ts for one benchmark run.
global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3

defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-request 10s
  timeout http-keep-alive 120s
`;

/** The config of HAProxy A (client side). */
export function haproxyConfigA(certs: CertFiles, p: HaproxyPorts, b: Backends): string {
  const tls = `ssl crt ${certs.clientBundle} ca-file ${certs.ca} verify required ` +
    `verifyhost ${PEER_B_NAME} sni str(${PEER_B_NAME})`;
  let conf = `${GLOBAL}
frontend a_http
  bind 127.0.0.1:${p.a}
  bind 127.0.0.1:${p.aH2} proto h2
  default_backend peer_b

backend peer_b
  http-reuse always
  server b 127.0.0.1:${p.b} ${tls}
`;
  if (b.grpc) {
    conf += `
frontend a_grpc
  bind 127.0.0.1:${p.aGrpc} proto h2
  default_backend peer_b_grpc

backend peer_b_grpc
  http-reuse always
  server b 127.0.0.1:${p.bGrpc} ${tls} alpn h2
`;
  }
  if (b.tcp) {
    conf += `
listen a_tcp
  mode tcp
  bind 127.0.0.1:${p.aTcp}
  server b 127.0.0.1:${p.bTcp} ${tls}
`;
  }
  return conf;
}

/** The config of HAProxy B (app side): mTLS only, client certificates required. */
export function haproxyConfigB(certs: CertFiles, p: HaproxyPorts, b: Backends): string {
  const tls = `ssl crt ${certs.serverBundle} ca-file ${certs.ca} verify required`;
  let conf = `${GLOBAL}
frontend b_http
  bind 127.0.0.1:${p.b} ${tls}
  default_backend app

backend app
  http-reuse always
  server app 127.0.0.1:${b.http}
`;
  if (b.grpc) {
    conf += `
frontend b_grpc
  bind 127.0.0.1:${p.bGrpc} ${tls} alpn h2
  default_backend app_grpc

backend app_grpc
  http-reuse always
  server app 127.0.0.1:${b.grpc} proto h2
`;
  }
  if (b.tcp) {
    conf += `
listen b_tcp
  mode tcp
  bind 127.0.0.1:${p.bTcp} ${tls}
  server echo 127.0.0.1:${b.tcp}
`;
  }
  return conf;
}

async function startOne(name: string, file: string, conf: string, port: number): Promise<Proc> {
  await Deno.writeTextFile(file, conf);
  const proc = new Proc(name, "haproxy", ["-db", "-f", file]);
  const deadline = Date.now() + 10_000;
  let exited = false;
  proc.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return proc;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await proc.stop();
  throw new Error(`${name} did not listen on ${port}:\n${proc.output}`);
}

/** Starts HAProxy B then A in `dir`; resolves once both listen. */
export async function startHaproxy(
  dir: string,
  certs: CertFiles,
  backends: Backends,
): Promise<Pair> {
  await Deno.mkdir(dir, { recursive: true });
  const p: HaproxyPorts = {
    a: freePort(),
    aH2: freePort(),
    aGrpc: freePort(),
    aTcp: freePort(),
    b: freePort(),
    bGrpc: freePort(),
    bTcp: freePort(),
  };
  const procs: Proc[] = [];
  const close = async () => {
    await Promise.allSettled(procs.map((x) => x.stop()));
  };
  try {
    procs.push(
      await startOne("haproxy-b", `${dir}/b.cfg`, haproxyConfigB(certs, p, backends), p.b),
    );
    procs.push(
      await startOne("haproxy-a", `${dir}/a.cfg`, haproxyConfigA(certs, p, backends), p.a),
    );
    const [b, a] = procs;
    const noFortio = { unsupported: "no backend (fortio unavailable)" };
    return {
      name: "haproxy",
      proxies: { "proxy-a": a.child.pid, "proxy-b": b.child.pid },
      http: { target: `http://127.0.0.1:${p.a}/`, headers: [] },
      h2: { target: `http://127.0.0.1:${p.aH2}/`, headers: [] },
      grpc: backends.grpc ? { target: `127.0.0.1:${p.aGrpc}`, headers: [] } : noFortio,
      tcp: backends.tcp ? { target: `tcp://127.0.0.1:${p.aTcp}`, headers: [] } : noFortio,
      settings: {
        nbthread: 1,
        processes: 1,
        tls: "TLSv1.3, ECDSA P-256, verify required on B, A verifies B (verifyhost + SNI)",
        http_reuse: "always",
        h2: "bind ... proto h2 (h2c prior knowledge) on a second port of A",
        grpc: "proto h2 to the app, alpn h2 between A and B",
        tcp: "mode tcp, mTLS between A and B",
        config_dir: dir,
      },
      output: () => procs.map((x) => `--- ${x.name} ---\n${x.output}`).join("\n"),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
