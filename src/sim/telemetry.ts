// What a simulated bus tracker reports: an AVL record per acquisition with GPS from the route model and the IO set of
// a typical FMB installation (Teltonika notes §8.3/§8.4). Codec 8E devices also send the VIN as a variable-length
// (NX) element, which only 8E can carry. No Node APIs (the k6 bundle uses this file too).
import type { AvlRecord, Codec, IoValue } from '../protocol/teltonika/index.js';
import { hash32 } from './rng.js';
import { stateAt, type BusDevice, type VehicleState } from './route.js';

export const IO = {
  ignition: 239,
  movement: 240,
  gsmSignal: 21,
  gnssStatus: 69,
  externalVoltage: 66,
  batteryVoltage: 67,
  speed: 24,
  pdop: 181,
  hdop: 182,
  odometer: 16,
  gsmOperator: 241,
  vin: 256,
} as const;

const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';

/** A stable 17-character VIN for a device (8E NX element 256). */
export function vinFor(seed: number, index: number): Uint8Array {
  const out = new Uint8Array(17);
  const prefix = 'WMA'; // a bus maker's WMI
  for (let i = 0; i < 17; i++) {
    const c = i < 3 ? prefix.charCodeAt(i) : VIN_CHARS.charCodeAt(hash32(seed, index, 5000 + i) % VIN_CHARS.length);
    out[i] = c;
  }
  return out;
}

/** The record a device acquires at `timeMs`; `prev` (the state at the previous record) marks ignition changes as events. */
export function recordAt(bus: BusDevice, codec: Codec, timeMs: number, prevIgnition?: boolean, vin?: Uint8Array): { record: AvlRecord; state: VehicleState } {
  const s = stateAt(bus, timeMs);
  const h = hash32(bus.seed, bus.index, Math.floor(timeMs / 1000));
  const ignitionEvent = prevIgnition !== undefined && prevIgnition !== s.ignition;
  const io: IoValue[] = [
    { id: IO.ignition, width: 1, value: s.ignition ? 1 : 0 },
    { id: IO.movement, width: 1, value: s.moving ? 1 : 0 },
    { id: IO.gsmSignal, width: 1, value: 3 + (h % 3) },
    { id: IO.gnssStatus, width: 1, value: 1 },
    // 24 V bus: ~27.8 V with the alternator running, ~25 V on batteries alone
    { id: IO.externalVoltage, width: 2, value: (s.ignition ? 27_600 : 25_000) + (h % 400) },
    { id: IO.batteryVoltage, width: 2, value: 4_050 + ((h >>> 9) % 120) },
    { id: IO.speed, width: 2, value: s.speed },
    { id: IO.pdop, width: 2, value: 8 + ((h >>> 3) % 10) },
    { id: IO.hdop, width: 2, value: 6 + ((h >>> 5) % 8) },
    { id: IO.odometer, width: 4, value: s.odometerM },
    { id: IO.gsmOperator, width: 4, value: 21_803 },
  ];
  if (codec === 0x8e && vin) io.push({ id: IO.vin, width: 'x', value: vin });
  const record: AvlRecord = {
    timestamp: timeMs,
    priority: ignitionEvent ? 1 : 0,
    longitude: s.longitude,
    latitude: s.latitude,
    altitude: s.altitude,
    angle: s.angle,
    satellites: s.satellites,
    speed: s.speed,
    eventId: ignitionEvent ? IO.ignition : 0,
    io,
  };
  return { record, state: s };
}
