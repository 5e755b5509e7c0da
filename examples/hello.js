// The smallest useful handler: read the payload, log, return a JSON result.
//
//   jobvisor run examples/hello.js --payload '{"name":"world"}'
export default async function (payload, ctx) {
  const name = payload.name ?? "stranger";
  console.log(`job ${ctx.job.id} (attempt ${ctx.job.attempt}/${ctx.job.maxAttempts}) greeting ${name}`);
  // Timers sleep: waiting costs no CPU.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { greeting: `Hello, ${name}!`, at: new Date() };
}
