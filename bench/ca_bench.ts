/**
 * CA benchmarks: certificates signed per second (ECDSA P-256 and RSA 2048
 * roots, workload keys P-256), and the time a new proxy needs from start to
 * its first served request.
 *
 *   deno run -A bench/ca_bench.ts [--quick]
 * @module
 */
import { type CaKeyType, CertificateAuthority } from "../ca/ca.ts";
import { createCsr } from "../ca/csr.ts";
import { curl, echoServer, eventually, serviceEntryYaml, TestMesh } from "../tests/helpers.ts";

/** One signing measurement. */
export interface SignRate {
  keyType: CaKeyType;
  certsPerSecond: number;
  signed: number;
  seconds: number;
}

/** Signs pre-made CSRs for `seconds` and reports the rate. */
export async function signRate(keyType: CaKeyType, seconds: number): Promise<SignRate> {
  const ca = await CertificateAuthority.create({ trustDomain: "cluster.local", keyType });
  const csrs = await Promise.all(
    Array.from({ length: 64 }, (_, i) => createCsr(`spiffe://cluster.local/ns/default/sa/sa${i}`)),
  );
  const id = (i: number) => ({ namespace: "default", serviceAccount: `sa${i % 64}` });
  // Warm up.
  for (let i = 0; i < 20; i++) await ca.signCsr(csrs[i % 64].csrPem, id(i));
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    await ca.signCsr(csrs[n % 64].csrPem, id(n));
    n++;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { keyType, certsPerSecond: Math.round(n / elapsed), signed: n, seconds: elapsed };
}

const SERVICE = serviceEntryYaml("echo");

/**
 * Milliseconds from spawning a new sidecar to its first request served
 * through it (to a service already in the mesh), over `runs` runs.
 */
export async function proxyStartup(runs: number): Promise<number[]> {
  const m = await TestMesh.start({ "s.yaml": SERVICE });
  const app = echoServer("echo");
  const times: number[] = [];
  try {
    await m.sidecar({
      name: "server",
      serviceAccount: "echo",
      labels: "app=echo",
      appPort: app.port,
    });
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const p = await m.sidecar({
        name: `client-${i}`,
        serviceAccount: "client",
        labels: "app=client",
        waitReady: false,
      });
      // Its listeners are up once it logs its ports; then poll until a request goes through.
      const outbound = Number((await p.proc.waitFor(/proxy started .*outbound=(\d+)/, 30_000))[1]);
      await eventually(
        async () => {
          const r = await curl([
            "--max-time",
            "1",
            "-H",
            "Host: echo:8080",
            `http://127.0.0.1:${outbound}/`,
          ]);
          return r.status === 200;
        },
        30_000,
        "the new proxy's first served request",
      );
      times.push(Math.round(performance.now() - start));
      await p.proc.stop();
    }
  } finally {
    await m.close();
    await app.close();
  }
  return times;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const secs = quick ? 1 : 3;
  for (const kt of ["ec-p256", "rsa-2048"] as CaKeyType[]) {
    const r = await signRate(kt, secs);
    console.log(
      `${kt}: ${r.certsPerSecond} certificates/s (${r.signed} in ${r.seconds.toFixed(1)} s)`,
    );
  }
  const t = await proxyStartup(quick ? 2 : 5);
  console.log(`new proxy, start to first served request: ${t.join(", ")} ms`);
}
