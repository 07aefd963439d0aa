/**
 * The nginx pair (Debian's nginx-light): nginx A takes plain HTTP from the
 * client and proxies over mTLS (TLS 1.3, kept-alive upstream connections) to
 * nginx B, which requires a client certificate and proxies to the app, again
 * over kept-alive connections.
 *
 * Each nginx runs in the foreground (`daemon off`) with a master and ONE
 * worker (`worker_processes 1`), so that each proxy is one event loop like a
 * mesh proxy; the master only supervises, and CPU and memory are summed over
 * master and worker. Config, pid file, logs and temp dirs live in the run's
 * temp dir (`nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log`).
 * @module
 */
import { freePort, Proc } from "../../tests/helpers.ts";
import { type CertFiles, PEER_B_NAME } from "../certs.ts";
import type { Backends, Pair } from "./types.ts";

/** The ports nginx A and B listen on. */
export interface NginxPorts {
  /** A: HTTP/1.1 from the client. */
  a: number;
  /** A: h2c (prior knowledge) from the client. */
  aH2: number;
  /** A: gRPC (h2c) from the client. */
  aGrpc: number;
  /** B: mTLS, HTTP/1.1 from A. */
  b: number;
  /** B: mTLS, HTTP/2 from A (gRPC). */
  bGrpc: number;
  /** A: raw TCP from the client; B: mTLS TCP from A (with the stream module, else 0). */
  aTcp?: number;
  bTcp?: number;
}

/** The stream (TCP) module's file, when Debian's libnginx-mod-stream is installed. */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

/**
 * Idle upstream connections each worker keeps (`keepalive`). Above the
 * highest concurrency the bench drives (16 connections × 10 h2 streams), so
 * no row pays for new TLS handshakes because the cache is too small.
 */
export const UPSTREAM_IDLE = 256;

/** Keep-alive limits high enough that no connection is recycled during a run. */
const KEEPALIVE = `keepalive_requests 1000000;
  keepalive_timeout 120s;`;

function common(dir: string, stream = false): string {
  return `# Written by bench/peers/nginx.ts for one benchmark run.
${stream ? `load_module ${STREAM_MODULE};\n` : ""}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}`;
}

function httpCommon(dir: string): string {
  return `access_log off;
  ${KEEPALIVE}
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  proxy_max_temp_file_size 0;`;
}

/** The config of nginx A (client side). */
export function nginxConfigA(dir: string, certs: CertFiles, p: NginxPorts, grpc: boolean): string {
  const tls = (d: "proxy" | "grpc") =>
    `${d}_ssl_certificate ${certs.clientCert};
      ${d}_ssl_certificate_key ${certs.clientKey};
      ${d}_ssl_trusted_certificate ${certs.ca};
      ${d}_ssl_verify on;
      ${d}_ssl_verify_depth 2;
      ${d}_ssl_name ${PEER_B_NAME};
      ${d}_ssl_server_name on;
      ${d}_ssl_protocols TLSv1.3;
      ${d}_ssl_session_reuse on;`;
  const grpcServer = grpc
    ? `
  upstream peer_b_grpc {
    server 127.0.0.1:${p.bGrpc};
    keepalive ${UPSTREAM_IDLE};
    ${KEEPALIVE}
  }
  server {
    listen 127.0.0.1:${p.aGrpc} http2;
    location / {
      grpc_pass grpcs://peer_b_grpc;
      ${tls("grpc")}
    }
  }`
    : "";
  const tcp = p.aTcp && p.bTcp
    ? `
stream {
  server {
    listen 127.0.0.1:${p.aTcp};
    proxy_pass 127.0.0.1:${p.bTcp};
    proxy_ssl on;
    proxy_ssl_certificate ${certs.clientCert};
    proxy_ssl_certificate_key ${certs.clientKey};
    proxy_ssl_trusted_certificate ${certs.ca};
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_name ${PEER_B_NAME};
    proxy_ssl_server_name on;
    proxy_ssl_protocols TLSv1.3;
  }
}`
    : "";
  return `${common(dir, tcp !== "")}${tcp}
http {
  ${httpCommon(dir)}
  upstream peer_b {
    server 127.0.0.1:${p.b};
    keepalive ${UPSTREAM_IDLE};
    ${KEEPALIVE}
  }
  server {
    listen 127.0.0.1:${p.a};
    listen 127.0.0.1:${p.aH2} http2;
    location / {
      proxy_pass https://peer_b;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      ${tls("proxy")}
    }
  }${grpcServer}
}
`;
}

/** The config of nginx B (app side): mTLS only, client certificates required. */
export function nginxConfigB(
  dir: string,
  certs: CertFiles,
  p: NginxPorts,
  backends: Backends,
): string {
  const tls = `ssl_certificate ${certs.serverCert};
    ssl_certificate_key ${certs.serverKey};
    ssl_client_certificate ${certs.ca};
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_protocols TLSv1.3;`;
  const grpcServer = backends.grpc
    ? `
  upstream app_grpc {
    server 127.0.0.1:${backends.grpc};
    keepalive ${UPSTREAM_IDLE};
    ${KEEPALIVE}
  }
  server {
    listen 127.0.0.1:${p.bGrpc} ssl http2;
    ${tls}
    location / {
      grpc_pass grpc://app_grpc;
    }
  }`
    : "";
  const tcp = p.bTcp && backends.tcp
    ? `
stream {
  server {
    listen 127.0.0.1:${p.bTcp} ssl;
    ${tls}
    proxy_pass 127.0.0.1:${backends.tcp};
  }
}`
    : "";
  return `${common(dir, tcp !== "")}${tcp}
http {
  ${httpCommon(dir)}
  upstream app {
    server 127.0.0.1:${backends.http};
    keepalive ${UPSTREAM_IDLE};
    ${KEEPALIVE}
  }
  server {
    listen 127.0.0.1:${p.b} ssl;
    ${tls}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }${grpcServer}
}
`;
}

/** Why nginx can't proxy raw TCP here, or undefined if its stream module is installed. */
export async function nginxStreamMissing(): Promise<string | undefined> {
  for (const dir of ["/usr/lib/nginx/modules", "/usr/share/nginx/modules"]) {
    try {
      await Deno.stat(`${dir}/ngx_stream_module.so`);
      return undefined;
    } catch { /* not here */ }
  }
  return "nginx-light has no stream (TCP) module: ngx_stream_module.so is not installed " +
    "(Debian ships it in libnginx-mod-stream)";
}

async function startOne(name: string, dir: string, conf: string): Promise<Proc> {
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  return new Proc(name, "nginx", [
    "-p",
    `${dir}/`,
    "-c",
    `${dir}/nginx.conf`,
    "-e",
    `${dir}/error.log`,
  ]);
}

async function waitListening(proc: Proc, port: number, errorLog: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let exited = false;
  proc.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const log = await Deno.readTextFile(errorLog).catch(() => "");
  throw new Error(`${proc.name} did not listen on ${port}:\n${proc.output}${log}`);
}

/** Starts nginx B then nginx A in `dir`; resolves once both listen. */
export async function startNginx(
  dir: string,
  certs: CertFiles,
  backends: Backends,
  tcpUnsupported: string,
): Promise<Pair> {
  const p: NginxPorts = {
    a: freePort(),
    aH2: freePort(),
    aGrpc: freePort(),
    b: freePort(),
    bGrpc: freePort(),
  };
  if (tcpUnsupported === "" && backends.tcp) {
    p.aTcp = freePort();
    p.bTcp = freePort();
  }
  const grpc = backends.grpc !== undefined;
  const procs: Proc[] = [];
  const close = async () => {
    await Promise.allSettled(procs.map((x) => x.stop()));
  };
  try {
    const b = await startOne("nginx-b", `${dir}/b`, nginxConfigB(`${dir}/b`, certs, p, backends));
    procs.push(b);
    await waitListening(b, p.b, `${dir}/b/error.log`);
    const a = await startOne("nginx-a", `${dir}/a`, nginxConfigA(`${dir}/a`, certs, p, grpc));
    procs.push(a);
    await waitListening(a, p.a, `${dir}/a/error.log`);
    return {
      name: "nginx",
      proxies: { "proxy-a": a.child.pid, "proxy-b": b.child.pid },
      http: { target: `http://127.0.0.1:${p.a}/`, headers: [] },
      h2: { target: `http://127.0.0.1:${p.aH2}/`, headers: [] },
      grpc: grpc
        ? { target: `127.0.0.1:${p.aGrpc}`, headers: [] }
        : { unsupported: "no gRPC backend (fortio unavailable)" },
      tcp: p.aTcp
        ? { target: `tcp://127.0.0.1:${p.aTcp}`, headers: [] }
        : { unsupported: tcpUnsupported || "no TCP backend (fortio unavailable)" },
      settings: {
        worker_processes: 1,
        master_process: true,
        tls: "TLSv1.3, ECDSA P-256, client certificate required by B, A verifies B's DNS SAN",
        upstream_keepalive: UPSTREAM_IDLE,
        keepalive_requests: 1000000,
        h2: "listen ... http2 (h2c prior knowledge) on a second port of A",
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
