// Peer benchmark driver: BullMQ sandboxed processors on a private Redis.
//
// Roles (run.sh drives all three; you rarely call this by hand):
//   node bench.mjs --port P --fsync everysec --workload trivial --mode burst --jobs 20000 --runs 3 --out f.json
//   node bench.mjs --role worker ...     (spawned by the driver: the BullMQ Worker host)
//   node bench.mjs --role report a.json b.json [--json out.json]
//
// The worker host is a separate Node process (as in a real deployment: producers and
// the worker are different processes). Its Worker gets a processor *file path*, so BullMQ
// runs each job in a sandboxed child process (useWorkerThreads: false, concurrency 2 =>
// up to 2 reused child processes). The driver only produces jobs and measures.

import { fork } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) o[k] = true;
      else { o[k] = v; i++; }
    } else o._.push(a);
  }
  return o;
}
const args = parseArgs(process.argv.slice(2));
const num = (v, d) => (v === undefined ? d : Number(v));

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
function rssKiB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : null;
  } catch { return null; }
}
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* fall back to a /proc scan */ }
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}
function connection(port) {
  return { host: '127.0.0.1', port, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

// ================================================================ worker role
async function workerRole() {
  const { Worker } = await import('bullmq');
  const port = num(args.port);
  const processor = path.join(HERE, `processor-${args.workload}.js`);
  const worker = new Worker(args.queue, processor, {
    connection: connection(port),
    concurrency: num(args.concurrency, 2),
    useWorkerThreads: false, // default: child processes (fork), not worker_threads
    autorun: false,
  });
  let failed = 0;
  worker.on('failed', (job, err) => {
    failed++;
    if (failed <= 3) process.send?.({ type: 'log', msg: `job ${job?.id} failed: ${err?.message}` });
  });
  worker.on('error', (err) => process.send?.({ type: 'log', msg: `worker error: ${err?.message}` }));
  await worker.waitUntilReady();
  process.on('message', async (m) => {
    if (m?.type === 'go') {
      worker.run().catch((e) => process.send?.({ type: 'log', msg: `run() failed: ${e?.message}` }));
    } else if (m?.type === 'pause') {
      await worker.pause(true); // waits for active jobs; the sandbox children stay in the pool
      process.send?.({ type: 'paused' });
    } else if (m?.type === 'resume') {
      worker.resume();
    } else if (m?.type === 'stop') {
      const t = setTimeout(() => process.exit(3), 15000);
      try { await worker.close(); } catch { /* ignore */ }
      clearTimeout(t);
      process.send?.({ type: 'stopped', failed }, () => process.exit(0));
    }
  });
  process.send({ type: 'ready' });
}

// ================================================================ driver role
function startWorkerHost(queue, port, workload, concurrency) {
  const child = fork(fileURLToPath(import.meta.url), [
    '--role', 'worker', '--queue', queue, '--port', String(port),
    '--workload', workload, '--concurrency', String(concurrency),
  ], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waitFor = (type, ms) => new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.off('message', on); reject(new Error(`worker host: no '${type}' in ${ms} ms`)); }, ms);
    const on = (m) => { if (m?.type === type) { clearTimeout(t); child.off('message', on); resolve(m); } };
    child.on('message', on);
  });
  child.on('message', (m) => { if (m?.type === 'log') console.error(`[worker] ${m.msg}`); });
  return { child, waitFor };
}

async function stopWorkerHost(host) {
  if (host.child.exitCode !== null) return { failed: null };
  let res = { failed: null };
  try {
    host.child.send({ type: 'stop' });
    res = await host.waitFor('stopped', 20000);
  } catch (e) { console.error(String(e)); }
  const exited = new Promise((r) => host.child.once('exit', r));
  if (host.child.exitCode === null) await Promise.race([exited, sleep(5000)]);
  if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill('SIGKILL');
  return res;
}

// RSS sampler for the worker host, its sandbox children and redis.
function startSampler(hostPid, redisPid, everyMs = 200) {
  const s = { childMaxKiB: new Map(), childLastKiB: new Map(), hostMaxKiB: 0, redisMaxKiB: 0, samples: 0 };
  const tick = () => {
    s.samples++;
    const h = rssKiB(hostPid); if (h) s.hostMaxKiB = Math.max(s.hostMaxKiB, h);
    const r = redisPid ? rssKiB(redisPid) : null; if (r) s.redisMaxKiB = Math.max(s.redisMaxKiB, r);
    for (const c of childPids(hostPid)) {
      const k = rssKiB(c);
      if (!k) continue;
      s.childLastKiB.set(c, k);
      s.childMaxKiB.set(c, Math.max(s.childMaxKiB.get(c) ?? 0, k));
    }
  };
  const timer = setInterval(tick, everyMs);
  tick();
  return {
    stop() {
      tick();
      clearInterval(timer);
      const maxes = [...s.childMaxKiB.values()];
      const lasts = [...s.childLastKiB.values()];
      return {
        children: maxes.length,
        child_rss_max_mib: maxes.length ? +(Math.max(...maxes) / 1024).toFixed(1) : null,
        child_rss_end_mib: lasts.map((k) => +(k / 1024).toFixed(1)),
        children_rss_total_mib: lasts.length ? +(lasts.reduce((a, b) => a + b, 0) / 1024).toFixed(1) : null,
        worker_host_rss_max_mib: +(s.hostMaxKiB / 1024).toFixed(1),
        redis_rss_max_mib: +(s.redisMaxKiB / 1024).toFixed(1),
      };
    },
  };
}

function jobData(workload, i) {
  return workload === 'fib' ? { n: 20 } : { a: i, b: i + 1 };
}
function expected(workload, data) {
  return workload === 'fib' ? { fib: 6765 } : { sum: data.a + data.b };
}

async function resetRedis(redis) {
  await redis.flushall();
  // Shrink the AOF back to (almost) nothing so every run starts from the same file size.
  const info0 = await redis.info('persistence');
  if (/aof_enabled:1/.test(info0)) {
    try { await redis.bgrewriteaof(); } catch { /* one may already be running */ }
    for (let i = 0; i < 300; i++) {
      const info = await redis.info('persistence');
      if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) break;
      await sleep(100);
    }
  }
}

async function checkSample(queue, workload, n) {
  // read back the 5 newest and 5 oldest completed jobs (warm-up jobs excluded) and check
  // each return value
  const jobs = [...await queue.getJobs(['completed'], 0, 4, false), ...await queue.getJobs(['completed'], 0, 4, true)]
    .filter((j) => j && !String(j.id).startsWith('w'));
  return jobs.length > 0 && jobs.every((j) => JSON.stringify(j.returnvalue) === JSON.stringify(expected(workload, j.data)));
}

async function burstRun(ctx, runIdx) {
  const { Queue } = ctx.bullmq;
  const { port, workload, jobs: n, chunk, concurrency, redis, redisPid } = ctx;
  await resetRedis(redis);
  const qname = `bench-${workload}-burst-${runIdx}`;
  const queue = new Queue(qname, { connection: connection(port) });
  await queue.waitUntilReady();

  // 0. optional warm-up: the worker runs W jobs (own ids, not counted), then pauses
  const warmup = ctx.warmup;
  const e2e = ctx.clock === 'e2e';
  let host = null;
  if (warmup > 0 || e2e) {
    host = startWorkerHost(qname, port, workload, concurrency);
    await host.waitFor('ready', 30000);
    host.child.send({ type: 'go' });
  }
  if (warmup > 0) {
    const warm = [];
    for (let i = 0; i < warmup; i++) warm.push({ name: workload, data: jobData(workload, i), opts: { jobId: `w${i}` } });
    await queue.addBulk(warm);
    for (let i = 0; i < 1200; i++) {
      const c = await queue.getJobCounts('completed', 'failed');
      if (c.completed + c.failed >= warmup) break;
      await sleep(50);
    }
    if (!e2e) {
      host.child.send({ type: 'pause' });
      await host.waitFor('paused', 30000);
    }
  }

  // 1. enqueue N jobs with addBulk in chunks (drain clock: worker not running, or paused;
  //    e2e clock: the worker is running and the clock starts here)
  let sampler = e2e ? startSampler(host.child.pid, redisPid) : null;
  const tE2e0 = Date.now();
  const tAdd0 = performance.now();
  for (let base = 0; base < n; base += chunk) {
    const batch = [];
    for (let i = base; i < Math.min(n, base + chunk); i++) batch.push({ name: workload, data: jobData(workload, i) });
    await queue.addBulk(batch);
  }
  const enqueueS = (performance.now() - tAdd0) / 1000;

  // 2. start the (already connected) worker host and time until all N are completed
  if (!host) {
    host = startWorkerHost(qname, port, workload, concurrency);
    await host.waitFor('ready', 30000);
  }
  sampler ??= startSampler(host.child.pid, redisPid);
  const t0 = e2e ? tE2e0 : Date.now();
  if (!e2e) host.child.send({ type: warmup > 0 ? 'resume' : 'go' });
  const deadline = t0 + Math.max(120000, n * 50); // bounded: >= 20 jobs/s or give up
  let counts = {};
  while (Date.now() < deadline) {
    counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait');
    if (counts.completed + counts.failed >= n + warmup) break;
    await sleep(50);
  }
  counts.completed -= warmup;
  // exact finish time: the completed set is a ZSET scored by finishedOn (ms)
  const last = await redis.zrange(`bull:${qname}:completed`, -1, -1, 'WITHSCORES');
  const tEnd = last.length ? Number(last[1]) : Date.now();
  const rss = sampler.stop();
  const correct = await checkSample(queue, workload, n);
  const stopped = await stopWorkerHost(host);
  await queue.close();
  const elapsedS = (tEnd - t0) / 1000;
  const done = counts.completed ?? 0;
  return {
    run: runIdx + 1,
    jobs: n,
    warmup_jobs: warmup,
    clock: e2e ? 'e2e: first addBulk -> last completion, worker running' : 'drain: worker start/resume -> last completion, queue pre-filled',
    completed: done,
    failed: counts.failed ?? 0,
    timed_out: done + (counts.failed ?? 0) < n,
    results_checked: correct,
    enqueue_s: +enqueueS.toFixed(3),
    enqueue_jobs_per_s: Math.round(n / enqueueS),
    drain_s: +elapsedS.toFixed(3),
    jobs_per_s: Math.round(done / elapsedS),
    worker_failed_events: stopped.failed,
    ...rss,
  };
}

async function trickleRun(ctx, runIdx) {
  const { Queue, QueueEvents } = ctx.bullmq;
  const { port, workload, concurrency, redis, redisPid, rate, duration } = ctx;
  await resetRedis(redis);
  const qname = `bench-${workload}-trickle-${runIdx}`;
  const queue = new Queue(qname, { connection: connection(port) });
  const events = new QueueEvents(qname, { connection: connection(port) });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);

  const host = startWorkerHost(qname, port, workload, concurrency);
  await host.waitFor('ready', 30000);
  host.child.send({ type: 'go' });

  const added = new Map();     // jobId -> performance.now() when add() resolved
  const calledAt = new Map();  // jobId -> performance.now() when add() was called
  const doneAt = new Map();    // jobId -> performance.now() when 'completed' was seen
  const addedWall = new Map(); // jobId -> wall-clock ms (sub-ms) when add() resolved
  let failedEv = 0;
  events.on('completed', ({ jobId }) => { doneAt.set(jobId, performance.now()); });
  events.on('failed', () => { failedEv++; });

  // warm-up: both sandbox children exist before measuring (not counted)
  const warm = [];
  for (let i = 0; i < 20; i++) warm.push(queue.add(workload, jobData(workload, i), { jobId: `w${i}` }));
  await Promise.all(warm);
  for (let i = 0; i < 200 && ![...Array(20).keys()].every((k) => doneAt.has(`w${k}`)); i++) await sleep(50);

  const sampler = startSampler(host.child.pid, redisPid);
  const total = Math.round(rate * duration);
  let issued = 0;
  const pending = [];
  const t0 = performance.now();
  // open-loop schedule: job k is due at t0 + k/rate; never wait for earlier adds
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (issued < due) {
      const id = `t${issued}`;
      calledAt.set(id, performance.now());
      pending.push(queue.add(workload, jobData(workload, issued), { jobId: id })
        .then(() => { added.set(id, performance.now()); addedWall.set(id, performance.timeOrigin + performance.now()); }));
      issued++;
    }
    await sleep(2);
  }
  const addSpan = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  const deadline = performance.now() + 60000;
  while (performance.now() < deadline) {
    let all = true;
    for (let k = 0; k < total; k++) if (!doneAt.has(`t${k}`)) { all = false; break; }
    if (all) break;
    await sleep(50);
  }
  const rss = sampler.stop();
  const lat = [];
  const latCall = [];
  let negative = 0;
  for (let k = 0; k < total; k++) {
    const id = `t${k}`;
    const d = doneAt.get(id);
    if (d === undefined) continue;
    const a = added.get(id);
    if (d < a) negative++;
    lat.push(Math.max(0, d - a));
    latCall.push(d - calledAt.get(id));
  }
  lat.sort((x, y) => x - y);
  latCall.sort((x, y) => x - y);
  // Server-side view of the same jobs: finishedOn (ms, written by the worker host when it
  // moved the job to completed) minus add() resolved. Tells a slow worker from a slow
  // event subscriber. 1 ms resolution.
  const pipe = redis.pipeline();
  for (let k = 0; k < total; k++) pipe.hget(`bull:${qname}:t${k}`, 'finishedOn');
  const fin = await pipe.exec();
  const latFin = [];
  for (let k = 0; k < total; k++) {
    const f = Number(fin[k]?.[1]);
    const a = addedWall.get(`t${k}`);
    if (Number.isFinite(f) && a !== undefined) latFin.push(Math.max(0, f - a));
  }
  latFin.sort((x, y) => x - y);
  const lastDone = Math.max(...[...doneAt.entries()].filter(([k]) => k.startsWith('t')).map(([, v]) => v));
  const stopped = await stopWorkerHost(host);
  await events.close();
  await queue.close();
  const r2 = (x) => (x === null ? null : +x.toFixed(2));
  return {
    run: runIdx + 1,
    rate_target: rate,
    duration_s: duration,
    jobs: total,
    completed_seen: lat.length,
    failed: failedEv,
    add_span_s: +addSpan.toFixed(2),
    achieved_jobs_per_s: Math.round(lat.length / ((lastDone - t0) / 1000)),
    p50_ms: r2(pct(lat, 50)),
    p90_ms: r2(pct(lat, 90)),
    p99_ms: r2(pct(lat, 99)),
    max_ms: r2(lat.length ? lat[lat.length - 1] : null),
    p50_to_finishedOn_ms: r2(pct(latFin, 50)),
    p99_to_finishedOn_ms: r2(pct(latFin, 99)),
    max_to_finishedOn_ms: r2(latFin.length ? latFin[latFin.length - 1] : null),
    p50_from_call_ms: r2(pct(latCall, 50)),
    p99_from_call_ms: r2(pct(latCall, 99)),
    completed_before_add_resolved: negative,
    worker_failed_events: stopped.failed,
    ...rss,
  };
}

async function driverRole() {
  const bullmq = await import('bullmq');
  const { default: IORedis } = await import('ioredis');
  const port = num(args.port);
  if (!port) throw new Error('--port is required');
  const redis = new IORedis(connection(port));
  const info = await redis.info('server');
  const redisPid = Number((info.match(/process_id:(\d+)/) || [])[1]) || null;
  const redisVersion = (info.match(/redis_version:([^\r\n]+)/) || [])[1];
  const cfg = await redis.config('GET', 'append*');
  const ctx = {
    bullmq, redis, redisPid, port,
    workload: args.workload ?? 'trivial',
    mode: args.mode ?? 'burst',
    jobs: num(args.jobs, 20000),
    chunk: num(args.chunk, 1000),
    warmup: num(args.warmup, 0),
    clock: args.clock === 'e2e' ? 'e2e' : 'drain',
    concurrency: num(args.concurrency, 2),
    rate: num(args.rate, 500),
    duration: num(args.duration, 20),
  };
  const runs = num(args.runs, 3);
  const fsync = args.fsync ?? 'unknown';
  const out = [];
  for (let r = 0; r < runs; r++) {
    const res = ctx.mode === 'trickle' ? await trickleRun(ctx, r) : await burstRun(ctx, r);
    out.push(res);
    console.error(`  ${fsync} ${ctx.workload} ${ctx.mode} run ${r + 1}/${runs}: ` +
      (ctx.mode === 'trickle'
        ? `p50 ${res.p50_ms} ms, p99 ${res.p99_ms} ms, ${res.completed_seen}/${res.jobs} seen, child RSS max ${res.child_rss_max_mib} MiB`
        : `${res.jobs_per_s} jobs/s (${res.completed}/${res.jobs} in ${res.drain_s} s; enqueue ${res.enqueue_jobs_per_s}/s), child RSS max ${res.child_rss_max_mib} MiB`));
  }
  await redis.quit();
  const bullmqVersion = JSON.parse(readFileSync(path.join(HERE, 'node_modules/bullmq/package.json'), 'utf8')).version;
  const record = {
    fsync, workload: ctx.workload, mode: ctx.mode, clock: ctx.mode === 'burst' ? ctx.clock : undefined, warmup: ctx.mode === 'burst' ? ctx.warmup : 20, concurrency: ctx.concurrency,
    sandbox: 'child_process (useWorkerThreads: false)',
    redis_version: redisVersion, redis_config: Object.fromEntries(cfg.reduce((a, v, i) => (i % 2 ? a : [...a, [v, cfg[i + 1]]]), [])),
    bullmq_version: bullmqVersion, node_version: process.version,
    runs: out,
  };
  if (args.out) writeFileSync(args.out, JSON.stringify(record, null, 2) + '\n');
  else console.log(JSON.stringify(record, null, 2));
}

// ================================================================ report role
function reportRole() {
  const files = args._;
  const groups = files.filter((f) => existsSync(f)).map((f) => {
    const g = JSON.parse(readFileSync(f, 'utf8'));
    const probe = f.replace(/\.json$/, '.fsync-probe.json');
    if (probe !== f && existsSync(probe)) g.fdatasync_probe_before = JSON.parse(readFileSync(probe, 'utf8'));
    return g;
  });
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/) || [])[1];
  const summary = {
    benchmark: 'bullmq-peer',
    date: new Date().toISOString(),
    machine: {
      cpu, cpus: os.cpus().length, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
      kernel: os.release(), loadavg_at_end: os.loadavg().map((x) => +x.toFixed(2)),
    },
    bullmq_version: groups[0]?.bullmq_version, redis_version: groups[0]?.redis_version, node_version: process.version,
    results: groups.map((g) => {
      const m = (k) => median(g.runs.map((r) => r[k]));
      const med = g.mode === 'trickle'
        ? { p50_ms: m('p50_ms'), p90_ms: m('p90_ms'), p99_ms: m('p99_ms'), achieved_jobs_per_s: m('achieved_jobs_per_s'),
            child_rss_max_mib: m('child_rss_max_mib'), worker_host_rss_max_mib: m('worker_host_rss_max_mib'), redis_rss_max_mib: m('redis_rss_max_mib') }
        : { jobs_per_s: m('jobs_per_s'), drain_s: m('drain_s'), enqueue_jobs_per_s: m('enqueue_jobs_per_s'),
            child_rss_max_mib: m('child_rss_max_mib'), worker_host_rss_max_mib: m('worker_host_rss_max_mib'), redis_rss_max_mib: m('redis_rss_max_mib') };
      return { ...g, median: med };
    }),
  };
  const rows = [['fsync', 'workload', 'mode', 'runs', 'median', 'per run', 'enqueue/s', 'child RSS max', 'host RSS', 'redis RSS', 'fdatasync p50', 'ok']];
  for (const g of summary.results) {
    const md = g.median;
    const ok = g.runs.every((r) => (g.mode === 'trickle' ? r.completed_seen === r.jobs && !r.failed : !r.timed_out && !r.failed && r.results_checked));
    rows.push([
      g.fsync, g.workload, g.mode === 'burst' ? `burst/${g.clock ?? 'drain'}` : g.mode, String(g.runs.length),
      g.mode === 'trickle' ? `p50 ${md.p50_ms} ms / p99 ${md.p99_ms} ms` : `${md.jobs_per_s} jobs/s`,
      g.mode === 'trickle' ? g.runs.map((r) => r.p99_ms).join(', ') + ' (p99)' : g.runs.map((r) => r.jobs_per_s).join(', '),
      g.mode === 'trickle' ? '-' : String(md.enqueue_jobs_per_s),
      `${md.child_rss_max_mib} MiB x${g.runs[0]?.children ?? '?'}`,
      `${md.worker_host_rss_max_mib} MiB`, `${md.redis_rss_max_mib} MiB`,
      g.fdatasync_probe_before ? `${g.fdatasync_probe_before.p50_ms} ms` : '-', ok ? 'yes' : 'NO',
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  console.log(line(rows[0]));
  console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  for (const r of rows.slice(1)) console.log(line(r));
  const json = JSON.stringify(summary, null, 2) + '\n';
  if (args.json && args.json !== true) writeFileSync(args.json, json);
  else console.log(json);
}


// ================================================================ fsync probe role
// The disk's fdatasync latency right now (a 512-byte append + fdatasync, 300 times), in
// the directory Redis writes its AOF to. With appendfsync always, jobs/s is bounded by it.
async function fsyncProbeRole() {
  const { openSync, writeSync, fdatasyncSync, closeSync, unlinkSync } = await import('node:fs');
  const file = path.join(args.dir ?? os.tmpdir(), `fsync-probe-${process.pid}`);
  const fd = openSync(file, 'a');
  const buf = Buffer.alloc(512, 120);
  const lat = [];
  for (let i = 0; i < 300; i++) {
    writeSync(fd, buf);
    const t = performance.now();
    fdatasyncSync(fd);
    lat.push(performance.now() - t);
  }
  closeSync(fd);
  unlinkSync(file);
  lat.sort((a, b) => a - b);
  const r = { n: lat.length, p50_ms: +pct(lat, 50).toFixed(3), p90_ms: +pct(lat, 90).toFixed(3), p99_ms: +pct(lat, 99).toFixed(3), max_ms: +lat[lat.length - 1].toFixed(3) };
  if (args.out) writeFileSync(args.out, JSON.stringify(r) + '\n');
  console.error(`  fdatasync probe: p50 ${r.p50_ms} ms, p90 ${r.p90_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms`);
}

// ================================================================ main
const role = args.role ?? 'driver';
const main = role === 'worker' ? workerRole : role === 'report' ? async () => reportRole()
  : role === 'fsync-probe' ? fsyncProbeRole : driverRole;
main().then(
  () => { if (role === 'driver') process.exit(0); },
  (e) => { console.error(e?.stack ?? String(e)); process.exit(1); },
);
