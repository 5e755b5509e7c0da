// The follow-up job of rss-poller.js: one job per new feed item. A real handler would
// post it to a chat, store it or summarise it; this one logs it and returns it.
//
//   jobvisor run examples/handle-item.js --payload '{"id":"1","title":"Hello","link":"https://example.com/1"}'
export default function (item, ctx) {
  console.log(`job ${ctx.job.id}: new item ${item.id}: ${item.title ?? "(no title)"}`);
  return { id: item.id, title: item.title ?? null, link: item.link ?? null, feed: item.feed ?? null };
}
