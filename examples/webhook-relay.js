// Relays an event to a webhook, signed the way webhook receivers check it: an
// HMAC-SHA256 of the exact body with a shared secret, hex in `X-Signature: sha256=<hex>`.
//
//   payload: { "url": "https://hooks.example.com/jobvisor", "event": { "type": "deploy", … },
//              "secret": "RELAY_HMAC", "timeoutMs": 10000 }
//
// - The HMAC is computed by the supervisor (`ctx.secrets.sign`): the key never enters the
//   job, so the script can use it without being able to leak it. The secret needs no
//   `hosts` and no `expose`.
// - The request stops after `timeoutMs` (default 10 s), or earlier when the job is
//   cancelled, the daemon drains or the job's deadline is near (`ctx.signal`).
// - An answer other than 2xx fails the job with the status and the start of the body, so
//   the attempt is retried with the job's backoff.
//
// Locally, with the key in a file:
//
//   jobvisor run examples/webhook-relay.js --allow-net hooks.example.com \
//     --secret RELAY_HMAC=@relay-hmac-key --payload '{"url":"https://hooks.example.com/jobvisor","event":{"type":"ping"}}'

const DEFAULT_TIMEOUT_MS = 10_000;

export default async function (payload, ctx) {
  const url = payload?.url;
  if (typeof url !== "string" || url === "") {
    throw new TypeError('webhook-relay: the payload needs `url`, the webhook\'s address: {"url":"https://…","event":{…}}');
  }
  const secret = payload.secret ?? "RELAY_HMAC";
  const timeoutMs = payload.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const body = JSON.stringify(payload.event ?? {});
  const bytes = new TextEncoder().encode(body).length;

  const mac = new Uint8Array(await ctx.secrets.sign(secret, "HS256", body));
  const timeout = AbortSignal.timeout(timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-signature": `sha256=${hex(mac)}`,
        "x-jobvisor-job": String(ctx.job.id),
      },
      body,
      signal: AbortSignal.any([ctx.signal, timeout]),
    });
  } catch (error) {
    // Stopped by a drain or a cancel: the signal's AbortError goes on as it is, so that a
    // drain requeues the job without counting the attempt.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (timeout.aborted) {
      throw new Error(`webhook ${url} did not answer within ${timeoutMs} ms (payload.timeoutMs)`);
    }
    throw error;
  }
  if (!response.ok) {
    const text = (await response.text()).slice(0, 300);
    throw new Error(`webhook ${url} answered ${response.status} ${response.statusText}${text ? `: ${text}` : ""}`);
  }
  console.log(`webhook ${url}: ${response.status}, ${bytes} bytes relayed`);
  return { url, status: response.status, bytes };
}

function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
