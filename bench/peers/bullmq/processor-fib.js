// BullMQ sandboxed processor for the `fib` workload: naive recursive fib(n), n = 20 by
// default (21,891 calls, result 6765). CPU-bound JavaScript inside the child process.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

module.exports = async function fibJob(job) {
  const n = Number.isInteger(job.data.n) ? job.data.n : 20;
  return { fib: fib(n) };
};
