// The device scenario in the real k6 binary against Node servers on 127.0.0.1: buffering and resend when ACKs are
// withheld or falsified, and distributed execution segments that together simulate exactly the single-process fleet.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureK6Binary } from '../../src/stack/k6-binary.js';
import { baseConfig, count, runScenario } from './k6-helpers.js';
import { startTeltonikaServer } from './teltonika-server.js';

let k6 = '';
beforeAll(async () => {
  k6 = await ensureK6Binary();
});

describe('devices.js in k6', () => {
  it('withheld and falsified ACKs: the same packet is resent after reconnecting, every record ends up ACKed', async () => {
    const seen = new Map<string, number>();
    const server = await startTeltonikaServer((p) => {
      const nth = (seen.get(p.imei) ?? 0) + 1;
      seen.set(p.imei, nth);
      return nth === 1 ? 'none' : nth === 3 ? { count: 99 } : 'ack';
    });
    try {
      const res = await runScenario(k6, baseConfig(server.port, { ackTimeoutMs: 700, durationSec: 4 }));
      expect(res.code, res.stderr).toBe(0);
      expect(count(res, 'fleet_device_errors')).toBe(8); // 4 devices × (timeout + mismatch)
      expect(count(res, 'fleet_reconnects')).toBe(8);
      expect(count(res, 'fleet_records_resent')).toBeGreaterThanOrEqual(8);
      expect(count(res, 'fleet_records_acked')).toBe(count(res, 'fleet_records_sent'));
      expect(count(res, 'fleet_records_unsent')).toBe(0);
      expect(count(res, 'fleet_generator_errors')).toBe(0);
      expect(count(res, 'fleet_connects')).toBe(count(res, 'fleet_disconnects'));
      for (const imei of seen.keys()) {
        const pk = server.packets.filter((p) => p.imei === imei);
        expect(pk[1].bytes.equals(pk[0].bytes)).toBe(true); // resend after the withheld ACK
        expect(pk[3].bytes.equals(pk[2].bytes)).toBe(true); // resend after the falsified count
      }
      expect(res.metrics.fleet_send_lag?.count).toBeGreaterThan(0);
      expect(res.metrics.fleet_connected_devices?.max).toBe(4);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('two execution segments simulate exactly the single-process fleet, no IMEI twice (stepped fleet)', async () => {
    const cfg = (port: number) =>
      baseConfig(port, { devices: 23, devicesPerVu: 3, durationSec: 3, steps: [{ devices: 10, startMs: 0 }, { devices: 23, startMs: 1000 }] });
    const single = await startTeltonikaServer();
    const split = await startTeltonikaServer();
    try {
      const one = await runScenario(k6, cfg(single.port));
      expect(one.code, one.stderr).toBe(0);
      const seq = ['--execution-segment-sequence', '0,1/2,1'];
      const [a, b] = await Promise.all([
        runScenario(k6, cfg(split.port), ['--execution-segment', '0:1/2', ...seq]),
        runScenario(k6, cfg(split.port), ['--execution-segment', '1/2:1', ...seq]),
      ]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(single.logins.length).toBe(23);
      expect(single.imeis().size).toBe(23);
      // together: the same 23 IMEIs, each logged in once
      expect(split.logins.length).toBe(23);
      expect(split.imeis()).toEqual(single.imeis());
      expect(count(a, 'fleet_logins')).toBeGreaterThan(0);
      expect(count(b, 'fleet_logins')).toBeGreaterThan(0);
      expect(count(a, 'fleet_logins') + count(b, 'fleet_logins')).toBe(23);
    } finally {
      await single.close();
      await split.close();
    }
  }, 90_000);
});
