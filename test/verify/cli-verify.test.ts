import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerVerify } from '../../src/cli/verify.js';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { writeManifest, readManifest, type RunManifest } from '../../src/core/manifest.js';
import { freePort } from '../../src/stack/ports.js';

// embedded: the k6-only SLO files below need no servers, so no kept evidence is opened for them
const manifest = (prometheusUrl: string, embedded = true): RunManifest => ({
  runId: 'cli-1', profile: 'smoke', seed: 1, startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:00:30.000Z',
  stages: [], devices: 1, imeis: ['356307042441013'], target: { tcp: '127.0.0.1:5027', embedded },
  prometheus: { url: prometheusUrl }, postgres: { url: 'postgres://postgres:topsecret@127.0.0.1:5432/postgres' },
  versions: { fleetload: '0.1.0' }, k6: { exitCode: 0, summaryFile: 'k6-summary.json' },
});

function setup(ackP95: number, slo: string) {
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-cli-'));
  writeFileSync(join(dir, 'k6-summary.json'), JSON.stringify({ metrics: { fleet_ack_latency: { values: { 'p(95)': ackP95, count: 10 } } } }));
  writeFileSync(join(dir, 'slo.yaml'), slo);
  return dir;
}
const K6_SLO = `version: 1
total: { pass: 90, warning: 75 }
objectives:
  - { id: ack, description: d, source: k6, query: metrics.fleet_ack_latency.values.p(95), unit: ms, pass: "< 1000", warning: "< 2000", key: true }
  - { id: samples, description: d, source: k6, query: metrics.fleet_ack_latency.values.count, unit: acks, pass: ">= 1" }
`;
/** The newest verification folder of a run (verify-<time>/). */
const latest = (dir: string) => join(dir, readdirSync(dir).filter((f) => f.startsWith('verify-')).sort().at(-1)!);
const run = async (args: string[]) => {
  const program = new Command().exitOverride();
  registerVerify(program);
  await program.parseAsync(['node', 'fleetload', 'verify', ...args]);
};

afterEach(() => {
  process.exitCode = 0;
  vi.restoreAllMocks();
});

describe('fleetload verify', () => {
  it('writes the reports, prints the table and sets the exit code from the verdict', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const pass = setup(100, K6_SLO);
    writeManifest(pass, manifest('http://127.0.0.1:1'));
    await run([pass, '--slo', join(pass, 'slo.yaml')]);
    expect(process.exitCode).toBe(0);
    const first = JSON.parse(readFileSync(join(latest(pass), 'report.json'), 'utf8'));
    expect(first.verdict).toBe('pass');
    expect(first.slo.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.fleetload).toMatch(/^\d+\.\d+\.\d+/);
    expect(String(out.mock.calls.at(-1)?.[0])).toContain('verdict: PASS');
    expect(String(out.mock.calls.at(-1)?.[0])).toContain(`verdict written to ${latest(pass)}`);
    // the run's own outputs are never overwritten: a second verification gets its own folder
    writeFileSync(join(pass, 'report.json'), '{"the run":"own report"}');
    await run([pass, '--slo', join(pass, 'slo.yaml')]);
    expect(readFileSync(join(pass, 'report.json'), 'utf8')).toBe('{"the run":"own report"}');
    expect(readdirSync(pass).filter((f) => f.startsWith('verify-'))).toHaveLength(2);

    const warn = setup(1500, K6_SLO);
    writeManifest(warn, manifest('http://127.0.0.1:1'));
    await run([warn, '--slo', join(warn, 'slo.yaml')]);
    expect(process.exitCode).toBe(0);
    await run([warn, '--slo', join(warn, 'slo.yaml'), '--fail-on-warn']);
    expect(process.exitCode).toBe(1);
    expect(readFileSync(join(latest(warn), 'junit.xml'), 'utf8')).toContain('slo-warning');

    const fail = setup(5000, K6_SLO);
    writeManifest(fail, manifest('http://127.0.0.1:1'));
    await run([fail, '--slo', join(fail, 'slo.yaml'), '--baseline', latest(pass)]);
    expect(process.exitCode).toBe(1);
    expect(JSON.parse(readFileSync(join(latest(fail), 'report.json'), 'utf8')).baseline.runId).toBe('cli-1');
    expect(existsSync(join(fail, 'report.json'))).toBe(false);
  });

  it('the manifest never holds a password', () => {
    const dir = setup(1, K6_SLO);
    writeManifest(dir, manifest('http://user:pw@127.0.0.1:9090'));
    const text = readFileSync(join(dir, 'run.json'), 'utf8');
    expect(text).not.toContain('topsecret');
    expect(text).not.toContain(':pw@');
    expect(readManifest(dir).postgres?.url).toBe('postgres://postgres@127.0.0.1:5432/postgres');
  });

  it('Prometheus unreachable: exit 3 and an error report is left for CI', async () => {
    const dir = setup(1, K6_SLO.replace('objectives:\n', `objectives:\n  - { id: up, description: d, source: prometheus, query: sum(up), unit: x, pass: "> 0" }\n`));
    writeManifest(dir, manifest(`http://127.0.0.1:${await freePort()}`, false));
    const err = await run([dir, '--slo', join(dir, 'slo.yaml')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    const report = JSON.parse(readFileSync(join(latest(dir), 'report.json'), 'utf8'));
    expect(report.verdict).toBe('error');
    expect(report.slo.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(latest(dir), 'junit.xml'), 'utf8')).toContain('verification-error');
  });

  it('an embedded run without kept evidence: exit 3 naming the evidence folder, and an error report', async () => {
    const dir = setup(1, K6_SLO.replace('objectives:\n', `objectives:\n  - { id: up, description: d, source: prometheus, query: sum(up), unit: x, pass: "> 0" }\n`));
    writeManifest(dir, manifest('http://127.0.0.1:1'));
    const err = await run([dir, '--slo', join(dir, 'slo.yaml')]).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    expect((err as Error).message).toContain(join(dir, 'evidence'));
    expect((err as Error).message).toMatch(/--no-keep-evidence/);
    expect(JSON.parse(readFileSync(join(latest(dir), 'report.json'), 'utf8')).verdict).toBe('error');
  });

  it('a folder without a manifest, or with a broken one, is bad input (exit 2) naming what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetload-cli-'));
    const e1 = await run([dir]).catch((e: unknown) => e);
    expect((e1 as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ runId: 'bad id!' }));
    const e2 = await run([dir]).catch((e: unknown) => e);
    expect((e2 as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    expect((e2 as Error).message).toContain('runId must match');
  });
});
