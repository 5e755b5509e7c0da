// A filter/transform script of the kind users hand to a job runner: keep the active
// records, reshape them, and summarise.
//
//   jobvisor run examples/transform.js --payload @examples/transform-payload.json
export default function (payload) {
  const active = payload.records.filter((r) => r.active);
  const byCountry = {};
  for (const r of active) {
    byCountry[r.country] = (byCountry[r.country] ?? 0) + 1;
  }
  return {
    total: payload.records.length,
    active: active.length,
    byCountry,
    emails: active.slice(0, 3).map((r) => r.email.toLowerCase()),
  };
}
