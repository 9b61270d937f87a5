// The engine's health sampler reads a real process from /proc: a busy child burns CPU and holds memory, and the
// sampler's figures and its bounded time series must show it. assessGenerator turns figures into verdict reasons.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { assessGenerator, readProc, startGeneratorSampler, type GeneratorSamples } from '../../src/engine/health.js';
import { generatorQueries } from '../../src/report/series.js';

describe('generator sampler', () => {
  it('reads RSS and CPU of a live process, nothing of a gone one', () => {
    const me = readProc(process.pid)!;
    expect(me.rssKb).toBeGreaterThan(10_000);
    expect(me.cpuSeconds).toBeGreaterThan(0);
    expect(readProc(2 ** 22 + 12345)).toBeUndefined();
  });

  it('follows a busy process with a bounded, ordered time series', async () => {
    // ~1.2 s of a spinning loop holding 50 MB
    const child = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(50e6, 1); const end = Date.now() + 1200; while (Date.now() < end); console.log(b[7])'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const sampler = startGeneratorSampler(child.pid!, 20, 8);
    await new Promise((r) => setTimeout(r, 1000));
    const s = sampler.stop();
    await once(child, 'exit');
    expect(s.samples).toBeGreaterThan(20);
    expect(s.cpuSeconds).toBeGreaterThan(0.1); // an idle process shows ~0; the suite shares 2 cores
    expect(s.peakCpuPercentOfCore).toBeGreaterThan(20);
    expect(s.peakRssKb).toBeGreaterThan(50_000);
    // decimated to the cap, still spanning the whole second, in order, cumulative CPU never going down
    expect(s.points.length).toBeLessThanOrEqual(8);
    expect(s.points.length).toBeGreaterThanOrEqual(4);
    expect(s.points.at(-1)![0] - s.points[0][0]).toBeGreaterThan(0.6);
    for (let i = 1; i < s.points.length; i++) {
      expect(s.points[i][0]).toBeGreaterThan(s.points[i - 1][0]);
      expect(s.points[i][1]).toBeGreaterThanOrEqual(s.points[i - 1][1]);
    }
    expect(Math.max(...s.points.map((p) => p[2]))).toBeGreaterThan(50e6);
    // stored beside the Prometheus series for the report's process chart
    const [cpu, rss] = generatorQueries(s.points);
    expect(cpu).toMatchObject({ id: 'generator_cpu', kind: 'counter', status: 'ok' });
    expect(rss.series[0].points.map((p) => p[1])).toEqual(s.points.map((p) => p[2]));
  });
});

describe('assessGenerator', () => {
  const samples = (cpuSeconds: number): GeneratorSamples => ({
    samples: 60, wallSeconds: 60, cores: 2, peakRssKb: 200_000, lastRssKb: 150_000, cpuSeconds, peakCpuPercentOfCore: 150, points: [],
  });
  const inputs = (sendLag: number, loopDelay: number, dropped = 0, errors = 0) => ({
    sendLagP95Ms: sendLag, sendLagMaxMs: sendLag * 2, eventLoopDelayP99MaxMs: loopDelay, droppedRequests: dropped, generatorErrors: errors, workers: 2,
  });

  it('a healthy engine gives figures and no reasons', () => {
    const r = assessGenerator(inputs(5, 10), samples(30));
    expect(r.invalidReasons).toEqual([]);
    expect(r.figures).toMatchObject({ cpu_avg_percent_of_machine: 25, rss_peak_mb: 195.3, send_lag_p95_ms: 5, event_loop_delay_p99_max_ms: 10, dropped_requests: 0, workers: 2 });
  });

  it('names each limit the engine broke', () => {
    const r = assessGenerator(inputs(400, 300, 3, 1), samples(114), { maxRssMb: 100 });
    expect(r.invalidReasons).toHaveLength(6);
    const all = r.invalidReasons.join('\n');
    expect(all).toMatch(/95% of all 2 cores.*CPU-bound/);
    expect(all).toMatch(/peak memory 195.3 MB exceeds 100 MB/);
    expect(all).toMatch(/400 ms late at p95/);
    expect(all).toMatch(/event loop ran 300 ms late at p99/);
    expect(all).toMatch(/3 API requests were dropped/);
    expect(all).toMatch(/1 engine errors/);
  });

  it('a limit exactly met is no reason; one past it is', () => {
    expect(assessGenerator(inputs(250, 100), samples(10)).invalidReasons).toEqual([]);
    expect(assessGenerator(inputs(250.1, 100), samples(10)).invalidReasons).toHaveLength(1);
  });
});
