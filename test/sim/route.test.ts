// The bus model: deterministic per seed, and physically plausible (speed agrees with distance over time).
import { describe, expect, it } from 'vitest';
import { busFor, stateAt } from '../../src/sim/route.js';
import { recordAt } from '../../src/sim/telemetry.js';
import { avlRecordSize } from '../../src/protocol/teltonika/index.js';

const centre = { latitude: 44.7722, longitude: 17.191 };
const T0 = Date.UTC(2026, 0, 5, 7, 0, 0);

function haversineM(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const R = 6_371_000;
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

describe('bus route model', () => {
  it('is deterministic per seed and differs between seeds and devices', () => {
    const a = stateAt(busFor(7, 3, centre), T0);
    expect(stateAt(busFor(7, 3, centre), T0)).toEqual(a);
    expect(stateAt(busFor(8, 3, centre), T0)).not.toEqual(a);
    expect(stateAt(busFor(7, 4, centre), T0)).not.toEqual(a);
  });

  it('moves consistently: distance between 1 s fixes matches the reported speeds, stops and layovers happen', () => {
    for (const device of [0, 5, 17, 123]) {
      const bus = busFor(1, device, centre);
      let prev = stateAt(bus, T0);
      let stops = 0;
      let layover = 0;
      let moving = 0;
      let maxErr = 0;
      for (let t = 1; t <= 2 * 3600; t++) {
        const s = stateAt(bus, T0 + t * 1000);
        const dist = haversineM(prev, s);
        const expected = (prev.speedMs + s.speedMs) / 2; // trapezoid rule over one second
        // straight-line distance can only be shorter at a corner; along a straight street they agree
        expect(dist).toBeLessThanOrEqual(Math.max(prev.speedMs, s.speedMs) + 0.05);
        if (prev.angle === s.angle) maxErr = Math.max(maxErr, Math.abs(dist - expected));
        if (s.stopped && !prev.stopped) stops++;
        if (!s.ignition) layover++;
        if (s.moving) moving++;
        expect(s.speed).toBeLessThanOrEqual(60);
        expect(Math.abs(s.latitude - centre.latitude)).toBeLessThan(0.07);
        expect(s.odometerM).toBeGreaterThanOrEqual(prev.odometerM);
        prev = s;
      }
      expect(maxErr).toBeLessThan(0.3); // metres per second, rounding of coordinates included
      expect(stops).toBeGreaterThan(10); // a bus stops every few hundred metres
      expect(layover).toBeGreaterThan(0); // and lays over at the terminus with the ignition off
      expect(moving).toBeGreaterThan(3600);
    }
  });

  it('odometer grows by the distance driven', () => {
    const bus = busFor(1, 9, centre);
    const a = stateAt(bus, T0);
    const b = stateAt(bus, T0 + 600_000);
    let path = 0;
    let p = a;
    for (let t = 1; t <= 600; t++) {
      const s = stateAt(bus, T0 + t * 1000);
      path += (p.speedMs + s.speedMs) / 2;
      p = s;
    }
    expect(Math.abs(b.odometerM - a.odometerM - path)).toBeLessThan(5);
  });

  it('records carry ignition, movement and the usual IO set; 8E adds the VIN; a Codec 8 record is 63 bytes', () => {
    const bus = busFor(1, 2, centre);
    const { record } = recordAt(bus, 0x08, T0);
    const ids = record.io.map((e) => e.id);
    for (const id of [239, 240, 21, 66, 67, 24, 16]) expect(ids).toContain(id);
    expect(avlRecordSize(0x08, record)).toBe(63); // → 20 records in a 1280-byte frame
    const ext = recordAt(bus, 0x8e, T0, undefined, new Uint8Array(17)).record;
    expect(ext.io.map((e) => e.id)).toContain(256);
    expect(avlRecordSize(0x8e, ext)).toBeGreaterThan(63);
  });
});
