// Bus-like movement for simulated devices. Every group of BUSES_PER_LINE consecutive devices shares one line: a
// closed loop of streets around a point near the configured centre, with stops every few hundred metres and a
// terminus where the bus lays over with the ignition off. Buses of one line run the same timetable, evenly spaced.
// Between two stops a bus accelerates, cruises and brakes (a trapezoidal speed profile), so the reported speed is the
// derivative of the reported position: distance / time between two fixes agrees with the speeds. Everything is a pure
// function of (seed, device index, time); no Node APIs (the k6 bundle uses this file too).
import { between, unit } from './rng.js';

export interface Position {
  latitude: number;
  longitude: number;
  /** metres */
  altitude: number;
  /** heading, degrees 0..359 clockwise from north */
  angle: number;
  /** km/h, rounded */
  speed: number;
  satellites: number;
}

export interface VehicleState extends Position {
  /** exact speed in m/s before rounding */
  speedMs: number;
  ignition: boolean;
  moving: boolean;
  /** total distance driven since the (simulated) odometer was installed, metres */
  odometerM: number;
  /** at a stop or at the terminus */
  stopped: boolean;
}

export interface RouteOptions {
  /** cruise speed range between stops, km/h */
  cruiseKmh: [number, number];
  /** dwell at an ordinary stop (doors open, ignition on), ms */
  stopDwellMs: [number, number];
  /** layover at the terminus (ignition off), ms */
  layoverMs: [number, number];
  /** distance between stops, metres */
  stopSpacingM: [number, number];
  /** acceleration and braking, m/s² */
  accelMs2: number;
}

export const DEFAULT_ROUTE: RouteOptions = {
  cruiseKmh: [30, 50],
  stopDwellMs: [15_000, 40_000],
  layoverMs: [180_000, 360_000],
  stopSpacingM: [300, 700],
  accelMs2: 1,
};

export const BUSES_PER_LINE = 8;
const M_PER_DEG_LAT = 111_320;
const ODOMETER_EPOCH_MS = Date.UTC(2025, 0, 1);

/** One leg of the timetable: drive from one stop to the next, then dwell there. */
interface Leg {
  fromM: number; // distance along the loop where the leg starts
  distM: number;
  startMs: number; // offset into the cycle
  driveMs: number;
  dwellMs: number;
  vmax: number; // m/s actually reached (triangular profile for short legs)
  accelMs: number; // time spent accelerating (= braking)
  /** the dwell after this leg is the terminus layover (ignition off) */
  layover: boolean;
}

export interface BusRoute {
  line: number;
  /** loop vertices in metres east/north of the line's origin (closed: last connects to first) */
  xs: number[];
  ys: number[];
  /** distance along the loop at each vertex; cum[n] = loop length */
  cum: number[];
  lengthM: number;
  legs: Leg[];
  cycleMs: number;
  originLat: number;
  originLon: number;
  mPerDegLon: number;
  altitudeBase: number;
  accel: number;
}

export interface BusDevice {
  route: BusRoute;
  /** where in the timetable cycle this bus is at time 0 */
  phaseMs: number;
  /** odometer reading at time 0 (metres) */
  odometerBaseM: number;
  seed: number;
  index: number;
}

const routeCache = new Map<string, BusRoute>();

function driveTime(dist: number, vmax: number, a: number): { driveMs: number; v: number; accelMs: number } {
  if (dist >= (vmax * vmax) / a) return { driveMs: (dist / vmax + vmax / a) * 1000, v: vmax, accelMs: (vmax / a) * 1000 };
  const v = Math.sqrt(a * dist);
  return { driveMs: 2 * Math.sqrt(dist / a) * 1000, v, accelMs: (v / a) * 1000 };
}

/** The line (loop, stops, timetable) with the given number, for a seed and centre. Cached. */
export function busLine(seed: number, line: number, centre: { latitude: number; longitude: number }, opts: RouteOptions = DEFAULT_ROUTE): BusRoute {
  const key = `${seed}:${line}:${centre.latitude}:${centre.longitude}:${JSON.stringify(opts)}`;
  const hit = routeCache.get(key);
  if (hit) return hit;
  // The loop's origin lies within ~4 km of the centre; the loop itself has a 0.8–2.5 km radius, irregular.
  const bearing = unit(seed, line, 101) * 2 * Math.PI;
  const dist = Math.sqrt(unit(seed, line, 102)) * 4000;
  const originLat = centre.latitude + (dist * Math.cos(bearing)) / M_PER_DEG_LAT;
  const mPerDegLon = M_PER_DEG_LAT * Math.cos((originLat * Math.PI) / 180);
  const originLon = centre.longitude + (dist * Math.sin(bearing)) / mPerDegLon;
  const radius = between(seed, line, 103, 800, 2500);
  const n = 8 + Math.floor(unit(seed, line, 104) * 7);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < n; k++) {
    const theta = (2 * Math.PI * k) / n;
    const r = radius * between(seed, line, 200 + k, 0.6, 1.0);
    xs.push(r * Math.cos(theta));
    ys.push(r * Math.sin(theta));
  }
  const cum = [0];
  for (let k = 0; k < n; k++) {
    const j = (k + 1) % n;
    cum.push(cum[k] + Math.hypot(xs[j] - xs[k], ys[j] - ys[k]));
  }
  const lengthM = cum[n];
  // stops along the loop; stop 0 (distance 0) is the terminus
  const stops = [0];
  for (let s = 1; ; s++) {
    const next = stops[stops.length - 1] + between(seed, line, 300 + s, opts.stopSpacingM[0], opts.stopSpacingM[1]);
    if (next > lengthM - opts.stopSpacingM[0] / 2) break;
    stops.push(next);
  }
  const cruise = between(seed, line, 105, opts.cruiseKmh[0], opts.cruiseKmh[1]) / 3.6;
  const legs: Leg[] = [];
  let t = 0;
  for (let s = 0; s < stops.length; s++) {
    const fromM = stops[s];
    const toM = s + 1 < stops.length ? stops[s + 1] : lengthM;
    const layover = s + 1 === stops.length;
    const d = driveTime(toM - fromM, cruise, opts.accelMs2);
    const dwellMs = Math.round(layover ? between(seed, line, 106, opts.layoverMs[0], opts.layoverMs[1]) : between(seed, line, 400 + s, opts.stopDwellMs[0], opts.stopDwellMs[1]));
    legs.push({ fromM, distM: toM - fromM, startMs: t, driveMs: d.driveMs, dwellMs, vmax: d.v, accelMs: d.accelMs, layover });
    t += d.driveMs + dwellMs;
  }
  const route: BusRoute = {
    line, xs, ys, cum, lengthM, legs, cycleMs: t, originLat, originLon, mPerDegLon,
    altitudeBase: Math.round(between(seed, line, 107, 120, 320)),
    accel: opts.accelMs2,
  };
  routeCache.set(key, route);
  return route;
}

/** The bus a device is: its line, where it is in the timetable, its odometer. */
export function busFor(seed: number, index: number, centre: { latitude: number; longitude: number }, opts: RouteOptions = DEFAULT_ROUTE): BusDevice {
  const line = Math.floor(index / BUSES_PER_LINE);
  const route = busLine(seed, line, centre, opts);
  const slot = index % BUSES_PER_LINE;
  const phaseMs = ((slot + unit(seed, index, 1) * 0.2) / BUSES_PER_LINE) * route.cycleMs;
  return { route, phaseMs, odometerBaseM: Math.floor(between(seed, index, 2, 10_000_000, 400_000_000)), seed, index };
}

/** Distance driven into a leg and speed at `tau` ms after the leg started driving. */
function legProgress(leg: Leg, a: number, tau: number): { s: number; v: number } {
  const T = leg.driveMs;
  if (tau >= T) return { s: leg.distM, v: 0 };
  const t1 = leg.accelMs;
  const sec = tau / 1000;
  if (tau <= t1) return { s: 0.5 * a * sec * sec, v: a * sec };
  if (tau >= T - t1) {
    const rest = (T - tau) / 1000;
    return { s: leg.distM - 0.5 * a * rest * rest, v: a * rest };
  }
  const d1 = (leg.vmax * leg.vmax) / (2 * a);
  return { s: d1 + leg.vmax * (sec - t1 / 1000), v: leg.vmax };
}

function legAt(route: BusRoute, t: number): Leg {
  const legs = route.legs;
  let lo = 0;
  let hi = legs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (legs[mid].startMs <= t) lo = mid;
    else hi = mid - 1;
  }
  return legs[lo];
}

/** Where the bus is and what it does at `timeMs` (ms since epoch). */
export function stateAt(bus: BusDevice, timeMs: number): VehicleState {
  const r = bus.route;
  // time since a fixed reference keeps the odometer (laps × loop length) within its 4 wire bytes for decades
  const total = timeMs - ODOMETER_EPOCH_MS + bus.phaseMs;
  const laps = Math.floor(total / r.cycleMs);
  const t = total - laps * r.cycleMs;
  const leg = legAt(r, t);
  const tau = t - leg.startMs;
  const p = legProgress(leg, r.accel, tau);
  const alongM = leg.fromM + p.s;
  const stopped = tau >= leg.driveMs;
  // vertex segment containing alongM (wrap at the loop end)
  let k = 0;
  const along = alongM >= r.lengthM ? alongM - r.lengthM : alongM;
  while (k < r.xs.length - 1 && r.cum[k + 1] <= along) k++;
  const j = (k + 1) % r.xs.length;
  const segLen = r.cum[k + 1] - r.cum[k];
  const f = segLen > 0 ? (along - r.cum[k]) / segLen : 0;
  const dx = r.xs[j] - r.xs[k];
  const dy = r.ys[j] - r.ys[k];
  const x = r.xs[k] + dx * f;
  const y = r.ys[k] + dy * f;
  const heading = ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360;
  const ignition = !(stopped && leg.layover);
  const minute = Math.floor(timeMs / 60_000);
  return {
    latitude: Math.round((r.originLat + y / M_PER_DEG_LAT) * 1e7) / 1e7,
    longitude: Math.round((r.originLon + x / r.mPerDegLon) * 1e7) / 1e7,
    altitude: Math.round(r.altitudeBase + 15 * Math.sin((along / r.lengthM) * 6 * Math.PI)),
    angle: Math.round(heading) % 360,
    speed: Math.round(p.v * 3.6),
    speedMs: p.v,
    satellites: 7 + Math.floor(unit(bus.seed, bus.index, 1000 + (minute % 100_000)) * 7),
    ignition,
    moving: p.v > 0.3,
    odometerM: (((bus.odometerBaseM + Math.floor(laps * r.lengthM + alongM)) % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000,
    stopped,
  };
}
