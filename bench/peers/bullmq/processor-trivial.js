// BullMQ sandboxed processor for the `trivial` workload.
// Same job as jobvisor's bench handler: `export default (p) => ({ sum: p.a + p.b })`.
module.exports = async function trivial(job) {
  return { sum: job.data.a + job.data.b };
};
