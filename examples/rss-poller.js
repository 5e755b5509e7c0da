// Polls an RSS or Atom feed and hands every item it has not seen before to a follow-up
// job, one job per item. Run it on a schedule; each run enqueues only what is new.
//
//   payload: { "url": "https://blog.rust-lang.org/feed.xml", "handler": "handle-item" }
//
// - The feed is fetched by the supervisor, so the feed's host must be in the script's
//   `allow_net` (examples/jobvisor.toml lists blog.rust-lang.org).
// - The cursor (the ids seen last time and the feed's ETag) lives in `ctx.state`, under a
//   key derived from the feed's URL. It is written with a compare-and-set on the version
//   read at the start: two polls of the same feed that overlap cannot both commit, the
//   loser fails with `StateConflict` and its attempt is retried, and a failed attempt
//   leaves neither a cursor nor children behind (both are committed with the job).
// - Each child gets the unique key `rss-item:<id>`, so even a poll that raced past the
//   cursor cannot enqueue a second live job for the same item.
//
// Locally, with the cursor kept in a file between runs (children are printed, not run):
//
//   jobvisor run examples/rss-poller.js --allow-net blog.rust-lang.org \
//     --state-file /tmp/rss-state.json --payload '{"url":"https://blog.rust-lang.org/feed.xml"}'

/// How many item ids the cursor remembers. Every id of the current feed is kept first, so
/// an item is only forgotten once it has left a feed of up to this many items.
const SEEN_LIMIT = 300;

/// Room the cursor may take in `ctx.state` (a value is at most 64 KiB of JSON).
const CURSOR_BYTES = 48 * 1024;

export default async function (payload, ctx) {
  const url = payload?.url;
  if (typeof url !== "string" || url === "") {
    throw new TypeError('rss-poller: the payload needs `url`, the feed\'s address: {"url":"https://…/feed.xml"}');
  }
  const handler = payload.handler ?? "handle-item";
  const key = `feed:${await sha256Hex(url)}`;

  const { value: cursor, version } = await ctx.state.getWithVersion(key);
  const seen = Array.isArray(cursor?.seen) ? cursor.seen : [];

  const headers = { accept: "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5" };
  if (cursor?.etag) headers["if-none-match"] = cursor.etag;
  const response = await fetch(url, { headers, signal: ctx.signal });
  if (response.status === 304) {
    console.log(`feed ${url}: not modified`);
    return { url, status: 304, items: 0, enqueued: [] };
  }
  if (!response.ok) {
    throw new Error(`feed ${url} answered ${response.status} ${response.statusText}`);
  }
  const items = parseFeed(await response.text());

  const known = new Set(seen);
  const fresh = items.filter((item) => !known.has(item.id));
  // Feeds list the newest item first: hand them on oldest first.
  for (const item of [...fresh].reverse()) {
    await ctx.enqueue(handler, { feed: url, ...item }, { unique: `rss-item:${item.id}` });
  }

  const next = {
    url,
    etag: response.headers.get("etag") ?? undefined,
    seen: [...new Set([...items.map((item) => item.id), ...seen])].slice(0, SEEN_LIMIT),
    polledAt: new Date().toISOString(),
  };
  while (next.seen.length > 0 && JSON.stringify(next).length > CURSOR_BYTES) {
    next.seen.pop();
  }
  // `ifVersion: null` when there was no cursor: the key must still be absent.
  await ctx.state.set(key, next, { ifVersion: version });

  console.log(`feed ${url}: ${items.length} items, ${fresh.length} new`);
  return { url, status: response.status, items: items.length, enqueued: fresh.map((item) => item.id) };
}

/// The items of an RSS (`<item>`) or Atom (`<entry>`) document: `{ id, title, link, date }`,
/// the id being the `<guid>` / `<id>`, else the link, else the title. A tolerant scan, not
/// an XML parser: it reads what feeds in the wild look like (CDATA, entities, attributes,
/// self-closing Atom links) and skips what it does not understand.
function parseFeed(xml) {
  const items = [];
  for (const [, kind, body] of xml.matchAll(/<(item|entry)(?=[\s>/])[^>]*>([\s\S]*?)<\/\1\s*>/gi)) {
    const atom = kind.toLowerCase() === "entry";
    const title = element(body, "title");
    const link = atom ? atomLink(body) : element(body, "link");
    const id = element(body, atom ? "id" : "guid") ?? link ?? title;
    const date = element(body, atom ? "updated" : "pubDate") ?? element(body, "published");
    if (id !== undefined) items.push({ id, title, link, date });
  }
  return items;
}

/// The text of the first `<name>` element of `body`, decoded and trimmed; `undefined` when
/// there is none or it is empty.
function element(body, name) {
  const match = body.match(new RegExp(`<${name}(?=[\\s>/])[^>]*?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, "i"));
  if (match === null || match[1] === undefined) return undefined;
  const text = decodeText(match[1]).trim();
  return text === "" ? undefined : text;
}

/// An Atom entry's link: the `href` of its `rel="alternate"` link, else of its first link
/// without a `rel`.
function atomLink(body) {
  let fallback;
  for (const [tag] of body.matchAll(/<link(?=[\s>/])[^>]*>/gi)) {
    const href = attribute(tag, "href");
    if (href === undefined) continue;
    const rel = attribute(tag, "rel");
    if (rel === "alternate") return href;
    if (rel === undefined && fallback === undefined) fallback = href;
  }
  return fallback;
}

function attribute(tag, name) {
  const match = tag.match(new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i"));
  return match === null ? undefined : decodeEntities(match[2] ?? match[3]);
}

/// Element text: CDATA sections as they are, entities decoded elsewhere, tags dropped.
function decodeText(text) {
  return text
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part) => (part.startsWith("<![CDATA[") ? part.slice(9, -3) : decodeEntities(part.replace(/<[^>]*>/g, ""))))
    .join("");
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
