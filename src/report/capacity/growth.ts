// Database growth: bytes per stored record measured from PostgreSQL (db-stats.json) projected to the planned
// fleet: rows/day, GB/month and the size of one monthly partition.
import type { DbStats } from './db-stats.js';

export interface GrowthInput {
  plannedDevices: number;
  /** seconds between two records of one device */
  reportIntervalSec: number;
  /** where the interval came from (flag, measured, default) */
  intervalSource: string;
}

export interface Growth {
  plannedDevices: number;
  reportIntervalSec: number;
  intervalSource: string;
  bytesPerRow: number;
  bytesPerRowBasis: string;
  rowsPerDay: number;
  bytesPerDay: number;
  /** decimal GB (1e9 bytes) per 30-day month */
  gbPerMonth: number;
  /** one monthly partition (31 days, the largest month), decimal GB */
  partitionGb: number;
  gbPerYear: number;
  notes: string[];
}

const GB = 1e9;

export function projectGrowth(stats: DbStats, g: GrowthInput): Growth | undefined {
  const bpr = stats.bytesPerRow;
  if (!bpr || !(bpr.value > 0) || !(g.reportIntervalSec > 0) || !(g.plannedDevices > 0)) return undefined;
  const rowsPerDay = (g.plannedDevices * 86_400) / g.reportIntervalSec;
  const bytesPerDay = rowsPerDay * bpr.value;
  const notes: string[] = [];
  if (stats.rows < 10_000) notes.push(`measured on ${stats.rows} rows: page and index fill differ from a large table, so treat bytes/row as ±30 %`);
  notes.push('heap + indexes + TOAST of telemetry_records; WAL, backups and replicas come on top');
  return {
    plannedDevices: g.plannedDevices,
    reportIntervalSec: g.reportIntervalSec,
    intervalSource: g.intervalSource,
    bytesPerRow: bpr.value,
    bytesPerRowBasis: bpr.basis,
    rowsPerDay,
    bytesPerDay,
    gbPerMonth: (bytesPerDay * 30) / GB,
    partitionGb: (bytesPerDay * 31) / GB,
    gbPerYear: (bytesPerDay * 365) / GB,
    notes,
  };
}
