// Platform benchmark: many concurrent simulated devices (stop-and-wait, like real trackers) against the
// reference platform on a real PostgreSQL. Prints sustained committed records/s, client-side ACK latency
// percentiles and the batch sizes the writer achieved. The platform runs in a worker thread so that the
// load client and the server do not share one event loop.
//   node dist/bench/platform.js [--devices 400] [--records 25] [--duration 20] [--warmup 3] [--codec 8|8e]
//                               [--batch-max-rows 1000] [--batch-max-age-ms 100] [--writer-concurrency 2] [--pg-url URL]
// Without --pg-url (or PG_URL) an embedded PostgreSQL is started in a temporary folder and removed afterwards.
import { connect, type Socket } from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { encodeAvlPacket, encodeLogin, imeiForIndex, type AvlRecord, type Codec } from '../src/protocol/teltonika/index.js';
import { startPlatform } from '../src/platform/platform.js';
import { startEmbeddedPostgres } from '../src/stack/postgres.js';

interface PlatformJob {
  pgUrl: string;
  batchMaxRows: number;
  batchMaxAgeMs: number;
  writerConcurrency: number;
  poolSize: number;
}

if (!isMainThread && (workerData as { role?: string })?.role === 'platform') {
  const job = (workerData as { job: PlatformJob }).job;
  const p = await startPlatform({
    ...job,
    host: '127.0.0.1',
    tcpPort: 0,
    httpPort: 0,
    maxQueuedRecords: 200_000,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)),
  });
  parentPort?.postMessage({ tcpPort: p.tcpPort, httpPort: p.httpPort });
  parentPort?.on('message', async (m: string) => {
    if (m === 'close') {
      await p.close();
      parentPort?.postMessage('closed');
    }
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '400' },
      records: { type: 'string', default: '25' },
      duration: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      codec: { type: 'string', default: '8' },
      'batch-max-rows': { type: 'string', default: '1000' },
      'batch-max-age-ms': { type: 'string', default: '100' },
      'writer-concurrency': { type: 'string', default: '2' },
      'pool-size': { type: 'string', default: '6' },
      'pg-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const devices = Number(values.devices);
  const perPacket = Number(values.records);
  const durationS = Number(values.duration);
  const warmupS = Number(values.warmup);
  const codec: Codec = values.codec === '8e' ? 0x8e : 0x08;

  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let pgUrl = values['pg-url'] ?? process.env.PG_URL;
  if (!pgUrl) {
    embedded = await startEmbeddedPostgres();
    pgUrl = embedded.url;
  }
  // A fresh database per run, so partitions and indexes start empty.
  const dbName = `bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(pgUrl);
  u.pathname = `/${dbName}`;

  const job: PlatformJob = {
    pgUrl: u.toString(),
    batchMaxRows: Number(values['batch-max-rows']),
    batchMaxAgeMs: Number(values['batch-max-age-ms']),
    writerConcurrency: Number(values['writer-concurrency']),
    poolSize: Number(values['pool-size']),
  };
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'platform', job } });
  const ports = await new Promise<{ tcpPort: number; httpPort: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });

  const scrape = async () => {
    const text = await (await fetch(`http://127.0.0.1:${ports.httpPort}/metrics`)).text();
    const get = (name: string, le?: string) => {
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const [k, v] = line.split(' ');
        if (k === name || (le !== undefined && k === `${name}{le="${le}"}`)) return Number(v);
      }
      return 0;
    };
    return {
      inserted: get('telemetry_records_inserted_total'),
      batches: get('db_batch_size_count'),
      batchRows: get('db_batch_size_sum'),
      insertSeconds: get('db_batch_insert_duration_seconds_sum'),
      cpu: get('process_cpu_seconds_total'),
    };
  };

  // ---- load client ----
  let measuring = false;
  let stopping = false;
  const latencies: number[] = [];
  let ackedRecords = 0;
  let errors = 0;
  const deviceLoop = async (index: number) => {
    const imei = imeiForIndex(97, index);
    const s: Socket = connect({ host: '127.0.0.1', port: ports.tcpPort, noDelay: true });
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    let buf: Buffer = Buffer.alloc(0);
    let want = 0;
    let wake: (() => void) | undefined;
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (buf.length >= want && wake) wake();
    });
    s.on('error', () => errors++);
    const read = async (n: number) => {
      want = n;
      while (buf.length < n) {
        if (s.destroyed) throw new Error('closed');
        await new Promise<void>((r) => (wake = r));
      }
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    s.write(encodeLogin(imei));
    if ((await read(1))[0] !== 1) throw new Error('login rejected');
    let t = Date.now() - 60_000;
    const recs: AvlRecord[] = Array.from({ length: perPacket }, () => ({
      timestamp: 0,
      priority: 0,
      longitude: 17 + index / 1000,
      latitude: 44 + index / 1000,
      altitude: 100,
      angle: 90,
      satellites: 10,
      speed: 50,
      eventId: 0,
      io: [
        { id: 239, width: 1, value: 1 },
        { id: 66, width: 2, value: 12_000 },
        { id: 16, width: 4, value: index },
      ],
    }));
    while (!stopping) {
      const now = Date.now();
      for (const r of recs) {
        t = Math.max(t + 1, now - perPacket);
        r.timestamp = t;
        r.speed = (r.speed + 1) % 120;
      }
      const pkt = encodeAvlPacket(codec, recs);
      const t0 = performance.now();
      s.write(pkt);
      const ack = (await read(4)).readUInt32BE(0);
      if (ack !== perPacket) throw new Error(`ACK ${ack} != ${perPacket}`);
      if (measuring) {
        latencies.push(performance.now() - t0);
        ackedRecords += perPacket;
      }
    }
    s.end();
  };

  const started = performance.now();
  const loops = Array.from({ length: devices }, (_, i) => deviceLoop(i).catch((e: unknown) => {
    errors++;
    if (errors < 5) process.stderr.write(`device ${i}: ${String(e)}\n`);
  }));
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const m0 = await scrape();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, durationS * 1000));
  measuring = false;
  const w1 = performance.now();
  const m1 = await scrape();
  const cpu1 = process.cpuUsage(cpu0);
  stopping = true;
  await Promise.all(loops);
  worker.postMessage('close');
  await new Promise((r) => worker.once('message', r));
  await worker.terminate();
  await embedded?.stop();

  const seconds = (w1 - w0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : Number.NaN);
  const batches = m1.batches - m0.batches;
  const result = {
    devices,
    recordsPerPacket: perPacket,
    codec: codec === 0x8e ? '8E' : '8',
    batchMaxRows: job.batchMaxRows,
    batchMaxAgeMs: job.batchMaxAgeMs,
    writerConcurrency: job.writerConcurrency,
    seconds: Number(seconds.toFixed(1)),
    committedRecordsPerSec: Math.round((m1.inserted - m0.inserted) / seconds),
    ackedRecordsPerSec: Math.round(ackedRecords / seconds),
    ackLatencyMs: { p50: round(q(0.5)), p95: round(q(0.95)), p99: round(q(0.99)), max: round(latencies.at(-1) ?? Number.NaN) },
    batches,
    meanBatchSize: Math.round((m1.batchRows - m0.batchRows) / Math.max(1, batches)),
    meanInsertMs: round(((m1.insertSeconds - m0.insertSeconds) / Math.max(1, batches)) * 1000),
    // the worker shares the process: cpu here is client + platform JS
    nodeCpuCores: round((cpu1.user + cpu1.system) / 1e6 / seconds),
    errors,
    totalSeconds: round((performance.now() - started) / 1000),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      [
        `platform benchmark: ${devices} devices x ${perPacket} records/packet (codec ${result.codec}), ${result.seconds} s measured after ${warmupS} s warm-up`,
        `  batch settings       ${job.batchMaxRows} rows / ${job.batchMaxAgeMs} ms, ${job.writerConcurrency} in flight`,
        `  committed            ${result.committedRecordsPerSec.toLocaleString('en')} records/s`,
        `  acknowledged         ${result.ackedRecordsPerSec.toLocaleString('en')} records/s`,
        `  ACK latency (client) p50 ${result.ackLatencyMs.p50} ms  p95 ${result.ackLatencyMs.p95} ms  p99 ${result.ackLatencyMs.p99} ms  max ${result.ackLatencyMs.max} ms`,
        `  batches              ${batches} (mean ${result.meanBatchSize} rows, mean insert ${result.meanInsertMs} ms)`,
        `  node CPU (client+platform) ${result.nodeCpuCores} cores; errors ${errors}`,
        `  ${JSON.stringify(result)}`,
      ].join('\n') + '\n',
    );
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
