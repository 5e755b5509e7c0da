// Calls a Google API as a service account, with the OAuth 2.0 JWT-bearer exchange the
// Google APIs use: sign a JWT with the account's private key, trade it at the token
// endpoint for an access token, call the API with `Authorization: Bearer <token>`.
//
//   payload: {
//     "clientEmail": "reporter@my-project.iam.gserviceaccount.com",   // the JWT's iss
//     "scope": "https://www.googleapis.com/auth/cloud-platform.read-only",
//     "api": "https://cloudresourcemanager.googleapis.com/v1/projects",
//     "method": "GET", "body": null,                                   // optional
//     "subject": "user@example.com",                                   // optional: domain-wide delegation
//     "key": "GOOGLE_SA_KEY",                                          // optional: the secret's name
//     "tokenUri": "https://oauth2.googleapis.com/token"                // optional
//   }
//
// - The key is the secret GOOGLE_SA_KEY: the service-account JSON file as Google hands
//   it out (its `private_key` is used) or a PEM RSA key. The supervisor signs the JWT
//   (`ctx.secrets.sign(…, "RS256", …)`); the key never enters the job. The payload names
//   the account (`clientEmail`) because the script cannot read the file.
// - The access token is cached in `ctx.state` for a minute less than its lifetime, so the
//   jobs of the next hour call the API without a new exchange. A cached token the API
//   refuses (401) is dropped and exchanged again once.
//
// Locally:
//
//   jobvisor run examples/google-service-account.js \
//     --allow-net oauth2.googleapis.com --allow-net '*.googleapis.com' \
//     --secret GOOGLE_SA_KEY=@service-account.json --state-file /tmp/google-state.json \
//     --payload '{"clientEmail":"…","scope":"…","api":"https://…googleapis.com/…"}'

const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The lifetime asked for the JWT itself; Google accepts at most an hour.
const ASSERTION_SECONDS = 3600;
/// How much earlier than the token endpoint says a cached token is given up.
const TOKEN_MARGIN_MS = 60_000;

export default async function (payload, ctx) {
  for (const field of ["clientEmail", "scope", "api"]) {
    if (typeof payload?.[field] !== "string" || payload[field] === "") {
      throw new TypeError(`google-service-account: the payload needs \`${field}\` (a string); see the comment at the top of the script`);
    }
  }
  const account = {
    clientEmail: payload.clientEmail,
    scope: payload.scope,
    subject: payload.subject,
    key: payload.key ?? "GOOGLE_SA_KEY",
    tokenUri: payload.tokenUri ?? GOOGLE_TOKEN_URI,
  };
  const cacheKey = `token:${await sha256Hex(JSON.stringify([account.tokenUri, account.clientEmail, account.scope, account.subject ?? null]))}`;

  let token = await cachedToken(ctx, cacheKey);
  const cached = token !== undefined;
  token ??= await exchange(ctx, account, cacheKey);
  let response = await callApi(payload, token, ctx);
  if (response.status === 401 && cached) {
    console.log("the cached access token was refused: exchanging a new one");
    await ctx.state.delete(cacheKey);
    token = await exchange(ctx, account, cacheKey);
    response = await callApi(payload, token, ctx);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${payload.method ?? "GET"} ${payload.api} answered ${response.status} ${response.statusText}: ${text.slice(0, 300)}`);
  }
  return { status: response.status, cachedToken: cached, data: text === "" ? null : JSON.parse(text) };
}

async function cachedToken(ctx, cacheKey) {
  const entry = await ctx.state.get(cacheKey);
  if (entry === undefined || typeof entry.accessToken !== "string") return undefined;
  return entry.expiresAt > Date.now() + TOKEN_MARGIN_MS / 2 ? entry.accessToken : undefined;
}

/// Signs a JWT for the account and trades it for an access token, which is cached.
async function exchange(ctx, account, cacheKey) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: account.clientEmail,
    scope: account.scope,
    aud: account.tokenUri,
    iat: now,
    exp: now + ASSERTION_SECONDS,
  };
  if (account.subject !== undefined) claims.sub = account.subject;
  const signingInput = `${base64urlJson({ alg: "RS256", typ: "JWT" })}.${base64urlJson(claims)}`;
  const signature = new Uint8Array(await ctx.secrets.sign(account.key, "RS256", signingInput));
  const assertion = `${signingInput}.${base64url(signature)}`;

  const response = await fetch(account.tokenUri, {
    method: "POST",
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
    signal: ctx.signal,
  });
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (!response.ok || typeof answer?.access_token !== "string") {
    const why = answer?.error ? `${answer.error}${answer.error_description ? `: ${answer.error_description}` : ""}` : text.slice(0, 300);
    throw new Error(`token endpoint ${account.tokenUri} answered ${response.status} without an access token: ${why}`);
  }
  const lifetimeMs = (Number(answer.expires_in) || 3600) * 1000;
  const ttl = Math.max(lifetimeMs - TOKEN_MARGIN_MS, 1000);
  await ctx.state.set(cacheKey, { accessToken: answer.access_token, expiresAt: Date.now() + ttl }, { ttl });
  console.log(`access token for ${account.clientEmail} obtained, valid ${Math.round(lifetimeMs / 1000)} s`);
  return answer.access_token;
}

function callApi(payload, token, ctx) {
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  let body;
  if (payload.body !== undefined && payload.body !== null) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(payload.body);
  }
  return fetch(payload.api, { method: payload.method ?? "GET", headers, body, signal: ctx.signal });
}

function base64urlJson(value) {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
