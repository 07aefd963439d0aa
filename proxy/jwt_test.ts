import assert from "node:assert/strict";
import * as jose from "jose";
import type { JwtProvider } from "../api/proxy_config.ts";
import { claimValues, JwtAuthenticator, jwtDenied, type JwtRequest } from "./jwt.ts";

const ISS = "testing@secure.istio.io";

async function issuer(kid = "k1") {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const sign = (claims: Record<string, unknown>, opts: { exp?: string | number } = {}) => {
    const t = new jose.SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuedAt();
    if (claims.iss === undefined) t.setIssuer(ISS);
    if (opts.exp !== undefined) t.setExpirationTime(opts.exp);
    return t.sign(privateKey);
  };
  return { jwks: JSON.stringify({ keys: [jwk] }), sign };
}

function request(headers: Record<string, string>, path = "/"): JwtRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { path, header: (n) => lower[n] };
}

Deno.test("jwt: no token goes on without identity; a valid one gives iss/sub and is removed", async () => {
  const iss = await issuer();
  const jwt = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks }]);
  assert.deepEqual(await jwt.authenticate(request({})), { ok: true });
  const token = await iss.sign({ sub: "alice", aud: "shop", azp: "web", groups: ["g1", "g2"] }, {
    exp: "1h",
  });
  const out = await jwt.authenticate(request({ authorization: `Bearer ${token}` }));
  assert.ok(out.ok);
  assert.equal(out.auth?.principal, `${ISS}/alice`);
  assert.deepEqual(out.auth?.audiences, ["shop"]);
  assert.equal(out.auth?.presenter, "web");
  assert.deepEqual(claimValues(out.auth!, ["groups"]), ["g1", "g2"]);
  assert.deepEqual(out.headers, { remove: ["authorization"] });
  // The default Bearer prefix is matched without regard to case; access_token works too.
  assert.ok((await jwt.authenticate(request({ authorization: `bearer ${token}` }))).ok);
  const q = await jwt.authenticate(request({}, `/x?access_token=${token}`));
  assert.ok(q.ok && q.auth?.principal === `${ISS}/alice`);
});

Deno.test("jwt: invalid tokens get Envoy's messages", async () => {
  const iss = await issuer();
  const other = await issuer("k2");
  const jwt = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks, audiences: ["shop"] }]);
  const check = async (token: string, message: string) => {
    const out = await jwt.authenticate(request({ authorization: `Bearer ${token}` }));
    assert.deepEqual(out, { ok: false, message }, token);
  };
  await check(
    await iss.sign({ sub: "a", aud: "shop" }, { exp: Math.floor(Date.now() / 1000) - 3600 }),
    "Jwt is expired",
  );
  await check(await iss.sign({ sub: "a", aud: "other" }), "Audiences in Jwt are not allowed");
  await check(await other.sign({ sub: "a", aud: "shop" }), "Jwt verification fails");
  await check(
    await iss.sign({ sub: "a", aud: "shop", iss: "someone-else" }),
    "Jwt issuer is not configured",
  );
  await check(
    "not-a-jwt",
    "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
  );
  const good = await iss.sign({ sub: "a", aud: "shop" });
  await check(
    good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA"),
    "Jwt verification fails",
  );
  // Within the 60 s clock skew, an expired token still passes.
  const skew = await iss.sign({ sub: "a", aud: "shop" }, {
    exp: Math.floor(Date.now() / 1000) - 30,
  });
  assert.ok((await jwt.authenticate(request({ authorization: `Bearer ${skew}` }))).ok);
});

Deno.test("jwt: fromHeaders, fromParams, fromCookies, forwardOriginalToken and output headers", async () => {
  const iss = await issuer();
  const p: JwtProvider = {
    issuer: ISS,
    jwks: iss.jwks,
    fromHeaders: [{ name: "x-jwt", prefix: "Token " }],
    fromParams: ["my_token"],
    fromCookies: ["session"],
    outputPayloadToHeader: "x-jwt-payload",
    outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }, {
      header: "x-team",
      claim: "org.team",
    }],
  };
  const jwt = new JwtAuthenticator([p]);
  const token = await iss.sign({ sub: "bob", org: { team: "blue" } });
  const h = await jwt.authenticate(request({ "x-jwt": `Token ${token}` }));
  assert.ok(h.ok);
  assert.deepEqual(h.headers, {
    remove: ["x-jwt-payload", "x-sub", "x-team", "x-jwt"],
    set: { "x-jwt-payload": token.split(".")[1], "x-sub": "bob", "x-team": "blue" },
  });
  // Only the configured locations are read.
  const unread = await jwt.authenticate(request({ authorization: `Bearer ${token}` }));
  assert.ok(unread.ok && unread.auth === undefined);
  assert.ok((await jwt.authenticate(request({}, `/?my_token=${token}`))).ok);
  const c = await jwt.authenticate(request({ cookie: `a=1; session=${token}` }));
  assert.ok(c.ok && c.auth?.principal === `${ISS}/bob`);
  // forwardOriginalToken keeps the header.
  const keep = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks, forwardOriginalToken: true }]);
  const k = await keep.authenticate(request({ authorization: `Bearer ${token}` }));
  assert.ok(k.ok && k.headers === undefined);
});

Deno.test("jwt: scope is space-delimited for matching; bad key sets are refused at compile", async () => {
  const iss = await issuer();
  const jwt = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks }]);
  const out = await jwt.authenticate(
    request({ authorization: `Bearer ${await iss.sign({ sub: "a", scope: "read write" })}` }),
  );
  assert.ok(out.ok);
  assert.deepEqual(claimValues(out.auth!, ["scope"]), ["read", "write"]);
  assert.throws(() => new JwtAuthenticator([{ issuer: ISS, jwks: "nope" }]), /jwks is not JSON/);
  assert.throws(() => new JwtAuthenticator([{ issuer: ISS, jwks: "{}" }]), /no "keys" array/);
  // An issuer whose keys couldn't be fetched ({"keys":[]}) refuses its tokens.
  const none = new JwtAuthenticator([{ issuer: ISS, jwks: '{"keys":[]}' }]);
  const t = await iss.sign({ sub: "a" });
  assert.deepEqual(await none.authenticate(request({ authorization: `Bearer ${t}` })), {
    ok: false,
    message: "Jwt verification fails",
  });
});

Deno.test("jwtDenied: 401 body and challenge", () => {
  const d = jwtDenied("Jwt is expired", "shop:80", "/cart?x=1", "http");
  assert.equal(d.body, "Jwt is expired");
  assert.deepEqual(d.headers[1], [
    "www-authenticate",
    'Bearer realm="http://shop:80/cart", error="invalid_token"',
  ]);
});

Deno.test("jwt: tokens are found wherever Envoy finds them, so none skips verification", async () => {
  const iss = await issuer();
  const other = await issuer("k2");
  const jwt = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks }]);
  const forged = await other.sign({ sub: "mallory" });
  const refused = async (req: JwtRequest, what: string) =>
    assert.equal((await jwt.authenticate(req)).ok, false, what);
  // Several Authorization values (joined with ","), the Bearer one second.
  await refused(request({ authorization: `Basic eDp5, Bearer ${forged}` }), "second value");
  // An empty parameter before the forged one; an empty cookie-style value.
  await refused(request({}, `/?access_token=&access_token=${forged}`), "repeated parameter");
  await refused(request({}, "/?access_token="), "empty parameter");
  await refused(request({ authorization: "Bearer" }), "bare scheme");
  // An explicit Authorization location matches the scheme without regard to case.
  const explicit = new JwtAuthenticator([{
    issuer: ISS,
    jwks: iss.jwks,
    fromHeaders: [{ name: "Authorization", prefix: "Bearer " }],
  }]);
  assert.equal(
    (await explicit.authenticate(request({ authorization: `bearer ${forged}` }))).ok,
    false,
  );
  // Two providers reading one header with different prefixes: both are read.
  const two = new JwtAuthenticator([
    {
      issuer: "other-issuer",
      jwks: other.jwks,
      fromHeaders: [{ name: "authorization", prefix: "Token " }],
    },
    { issuer: ISS, jwks: iss.jwks },
  ]);
  assert.equal((await two.authenticate(request({ authorization: `Bearer ${forged}` }))).ok, false);
  const good = await iss.sign({ sub: "alice" });
  const ok = await two.authenticate(request({ authorization: `Bearer ${good}` }));
  assert.ok(ok.ok && ok.auth?.principal === `${ISS}/alice`);
});

Deno.test("jwt: one valid token is enough; no sub means no principal; keys are tolerant", async () => {
  const iss = await issuer();
  const other = await issuer("k2");
  const jwt = new JwtAuthenticator([{ issuer: ISS, jwks: iss.jwks }]);
  const good = await iss.sign({ sub: "alice" });
  const bad = await other.sign({ sub: "mallory" });
  const both = await jwt.authenticate(
    request({ authorization: `Bearer ${good}` }, `/?access_token=${bad}`),
  );
  assert.ok(both.ok && both.auth?.principal === `${ISS}/alice`);
  const noSub = await jwt.authenticate(request({ authorization: `Bearer ${await iss.sign({})}` }));
  assert.ok(noSub.ok && noSub.auth && noSub.auth.principal === undefined);
  // A single JWK, and a set with entries that aren't keys.
  const jwk = JSON.parse(iss.jwks).keys[0];
  for (const jwks of [JSON.stringify(jwk), JSON.stringify({ keys: [1, "x", jwk] })]) {
    const j = new JwtAuthenticator([{ issuer: ISS, jwks }]);
    assert.ok((await j.authenticate(request({ authorization: `Bearer ${good}` }))).ok, jwks);
  }
});

Deno.test("jwt: output headers can't be sent by clients, and claims can't inject headers", async () => {
  const iss = await issuer();
  const jwt = new JwtAuthenticator([{
    issuer: ISS,
    jwks: iss.jwks,
    outputClaimToHeaders: [
      { header: "x-role", claim: "role" },
      { header: "x-name", claim: "name" },
      { header: "content-length", claim: "sub" },
    ],
  }]);
  // No token: the proxy's output headers are still removed from the request.
  assert.deepEqual(await jwt.authenticate(request({ "x-role": "admin" })), {
    ok: true,
    headers: { remove: ["x-role", "x-name"] },
  });
  const token = await iss.sign({ sub: "alice", name: "Bob\r\nx-admin: true" });
  const out = await jwt.authenticate(request({ authorization: `Bearer ${token}` }));
  assert.ok(out.ok);
  // No role claim: x-role only removed; a name with CR/LF isn't copied; framing headers never.
  assert.deepEqual(out.headers, { remove: ["x-role", "x-name", "authorization"] });
});

Deno.test("jwt: a rule without issuer (a jwksUri only) takes tokens of any issuer its keys verify", async () => {
  const iss = await issuer();
  const jwt = new JwtAuthenticator([{ issuer: "", jwks: iss.jwks }]);
  const token = await iss.sign({ sub: "bob", iss: "https://anyone.example" });
  const out = await jwt.authenticate(request({ authorization: `Bearer ${token}` }));
  assert.ok(out.ok);
  assert.equal(out.auth?.principal, "https://anyone.example/bob");
  // The keys still decide: a token signed by other keys is refused.
  const other = await issuer("k2");
  const bad = await jwt.authenticate(
    request({ authorization: `Bearer ${await other.sign({ sub: "bob" })}` }),
  );
  assert.deepEqual(bad, { ok: false, message: "Jwt verification fails" });
});
