import assert from "node:assert/strict";
import * as jose from "jose";
import { peekClaims, TOKEN_AUDIENCE, TOKEN_ISSUER, TokenError, TokenIssuer } from "./token.ts";

const ROOT_SHA = "ab".repeat(32);
const REVIEWS = { namespace: "default", serviceAccount: "reviews", rootSha256: ROOT_SHA };

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-token-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsToken(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TokenError, `expected a TokenError, got ${err}`);
    assert.equal(err.name, "TokenError");
    assert.match(err.message, re);
    return true;
  });
}

function b64urlJson(part: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(jose.base64url.decode(part)));
}

function toB64url(obj: unknown): string {
  return jose.base64url.encode(new TextEncoder().encode(JSON.stringify(obj)));
}

/** Signs arbitrary claims with the issuer's own key file (for claim-validation tests). */
async function signWithKeyFile(
  dir: string,
  claims: Record<string, unknown>,
  build: (jwt: jose.SignJWT) => jose.SignJWT,
): Promise<string> {
  const key = await jose.importPKCS8(await Deno.readTextFile(`${dir}/token-key.pem`), "ES256");
  return await build(new jose.SignJWT(claims).setProtectedHeader({ alg: "ES256" })).sign(key);
}

Deno.test("TokenIssuer: create and verify round trip", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const before = Date.now();
    const token = await issuer.create(REVIEWS);
    const after = Date.now();
    assert.equal(token.split(".").length, 3);
    const claims = await issuer.verify(token);
    assert.equal(claims.namespace, "default");
    assert.equal(claims.serviceAccount, "reviews");
    assert.equal(claims.rootSha256, ROOT_SHA);
    // Default lifetime one hour from when it was made (between before and after, however
    // long that took), in whole seconds.
    const exp = claims.expiresAt.getTime();
    assert.ok(exp > before + 3_599_000 && exp <= after + 3_600_000, `ttl ${exp - before}`);
    assert.equal(claims.expiresAt.getTime() % 1000, 0);
  });
});

Deno.test("TokenIssuer: the header and standard claims", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const token = await issuer.create({ ...REVIEWS, ttlSeconds: 120 });
    const header = b64urlJson(token.split(".")[0]);
    assert.deepEqual(header, { alg: "ES256", typ: "JWT" });
    const payload = b64urlJson(token.split(".")[1]);
    assert.equal(payload.iss, TOKEN_ISSUER);
    assert.equal(payload.aud, TOKEN_AUDIENCE);
    assert.equal(payload.sub, "system:serviceaccount:default:reviews");
    assert.equal(payload.ns, "default");
    assert.equal(payload.sa, "reviews");
    assert.equal(payload.root_sha256, ROOT_SHA);
    assert.equal(typeof payload.jti, "string");
    assert.equal((payload.exp as number) - (payload.iat as number), 120);
  });
});

Deno.test("TokenIssuer: tokens are unique and rootSha256 is optional", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const opts = { namespace: "bookinfo", serviceAccount: "ratings" };
    const a = await issuer.create(opts);
    const b = await issuer.create(opts);
    assert.notEqual(a, b);
    assert.notEqual(peekClaims(a)?.jti, peekClaims(b)?.jti);
    const claims = await issuer.verify(a);
    assert.equal(claims.rootSha256, undefined);
    assert.equal(claims.namespace, "bookinfo");
    assert.equal(claims.serviceAccount, "ratings");
    assert.equal("root_sha256" in peekClaims(a)!, false);
  });
});

Deno.test("TokenIssuer: token-key.pem is created with mode 0600 and reused", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const first = await TokenIssuer.loadOrCreate(dir);
    const path = `${dir}/token-key.pem`;
    assert.equal((Deno.statSync(path).mode ?? 0) & 0o777, 0o600);
    const pem = await Deno.readTextFile(path);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["token-key.pem"]);
    // A second load reads the same key: tokens cross-verify both ways.
    const second = await TokenIssuer.loadOrCreate(dir, false);
    assert.equal(await Deno.readTextFile(path), pem);
    assert.equal((await second.verify(await first.create(REVIEWS))).serviceAccount, "reviews");
    assert.equal((await first.verify(await second.create(REVIEWS))).serviceAccount, "reviews");
  });
});

Deno.test("TokenIssuer: refuses a token key readable by others", async () => {
  await withTempDir(async (dir) => {
    await TokenIssuer.loadOrCreate(dir);
    await Deno.chmod(`${dir}/token-key.pem`, 0o644);
    await assert.rejects(TokenIssuer.loadOrCreate(dir), /readable by others.*chmod 600/);
  });
});

Deno.test("TokenIssuer: loadOrCreate(dir, false) on an empty dir names --data-dir", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(TokenIssuer.loadOrCreate(dir, false), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /--data-dir/);
      assert.ok(err.message.includes(`${dir}/token-key.pem`), err.message);
      return true;
    });
    // Nothing was created.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("TokenIssuer: an expired token is refused as expired", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const token = await issuer.create({ ...REVIEWS, ttlSeconds: -60 });
    await rejectsToken(issuer.verify(token), /expired/);
  });
});

Deno.test("TokenIssuer: a tampered payload is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const token = await issuer.create(REVIEWS);
    const [h, p, s] = token.split(".");
    const payload = b64urlJson(p);
    payload.ns = "kube-system";
    const forged = [h, toB64url(payload), s].join(".");
    assert.equal(peekClaims(forged)?.ns, "kube-system");
    await rejectsToken(issuer.verify(forged), /not valid/);
  });
});

Deno.test("TokenIssuer: a token with a broken signature is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const token = await issuer.create(REVIEWS);
    const [h, p, s] = token.split(".");
    const sig = jose.base64url.decode(s);
    sig[10] ^= 0xff;
    await rejectsToken(issuer.verify([h, p, jose.base64url.encode(sig)].join(".")), /not valid/);
  });
});

Deno.test("TokenIssuer: a token from another issuer's key is refused", async () => {
  await withTempDir(async (tmp) => {
    const mine = await TokenIssuer.loadOrCreate(`${tmp}/mine`);
    const theirs = await TokenIssuer.loadOrCreate(`${tmp}/theirs`);
    await rejectsToken(mine.verify(await theirs.create(REVIEWS)), /not valid/);
  });
});

Deno.test("TokenIssuer: garbage is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    for (const bad of ["", "abc", "a.b.c", "a.b"]) await rejectsToken(issuer.verify(bad), /./);
  });
});

Deno.test("TokenIssuer: an unsigned (alg none) token is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const payload = peekClaims(await issuer.create(REVIEWS))!;
    const unsigned = `${toB64url({ alg: "none", typ: "JWT" })}.${toB64url(payload)}.`;
    await rejectsToken(issuer.verify(unsigned), /not valid/);
  });
});

Deno.test("TokenIssuer: wrong audience or issuer, signed with the right key, is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const claims = { ns: "default", sa: "reviews" };
    const wrongAud = await signWithKeyFile(
      dir,
      claims,
      (j) => j.setIssuer(TOKEN_ISSUER).setAudience("someone-else").setExpirationTime("1h"),
    );
    await rejectsToken(issuer.verify(wrongAud), /"aud"/);
    const wrongIss = await signWithKeyFile(
      dir,
      claims,
      (j) => j.setIssuer("evil").setAudience(TOKEN_AUDIENCE).setExpirationTime("1h"),
    );
    await rejectsToken(issuer.verify(wrongIss), /"iss"/);
    // The same builder with the right claims verifies: the key file is the issuer's.
    const good = await signWithKeyFile(
      dir,
      claims,
      (j) => j.setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime("1h"),
    );
    assert.equal((await issuer.verify(good)).serviceAccount, "reviews");
  });
});

Deno.test("TokenIssuer: a validly signed token without ns/sa claims is refused", async () => {
  await withTempDir(async (dir) => {
    const issuer = await TokenIssuer.loadOrCreate(dir);
    const token = await signWithKeyFile(
      dir,
      { ns: "default", sa: 7 },
      (j) => j.setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime("1h"),
    );
    await rejectsToken(issuer.verify(token), /lacks the ns and sa claims/);
  });
});

Deno.test("peekClaims: reads claims without verifying", async () => {
  await withTempDir(async (tmp) => {
    const other = await TokenIssuer.loadOrCreate(`${tmp}/other`);
    // Expired and from a foreign key: still readable.
    const made = Math.floor(Date.now() / 1000);
    const token = await other.create({ ...REVIEWS, ttlSeconds: -60 });
    const claims = peekClaims(token);
    assert.ok(claims);
    assert.equal(claims.ns, "default");
    assert.equal(claims.sa, "reviews");
    assert.equal(claims.root_sha256, ROOT_SHA);
    assert.equal(claims.iss, TOKEN_ISSUER);
    assert.ok((claims.exp as number) <= made - 59, "a minute in the past when made");
  });
});

Deno.test("peekClaims: undefined for what isn't a JWT", () => {
  assert.equal(peekClaims(""), undefined);
  assert.equal(peekClaims("not-a-token"), undefined);
  assert.equal(peekClaims("a.b.c"), undefined);
});
