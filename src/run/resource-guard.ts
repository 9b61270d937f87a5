// Resource guard: before any process starts, compare the planned number of device connections with the
// limits that would otherwise stop a run halfway (EMFILE in the engine or the platform, EADDRNOTAVAIL when the
// ephemeral ports run out) and print exactly what to raise and by how much.
//
// Facts the arithmetic rests on (measured on Linux with this project's binaries):
// - Node (≥ 10) raises its soft RLIMIT_NOFILE to the hard limit at start-up (the engine and the platform), so
//   the HARD limit is what a process can use; a low soft limit alone is harmless (reported as a note).
// - Every simulated device holds one TCP socket in the engine; on the embedded stack the reference platform holds
//   the other end, so each of the two processes needs one descriptor per device plus its own overhead.
// - All device connections go from one source address to one target ip:port, so each needs its own local
//   port from net.ipv4.ip_local_port_range; reconnects leave ports in TIME_WAIT for 60 s.
import { readFileSync } from 'node:fs';
import { infraError } from '../core/errors.js';

export interface ResourceInput {
  devices: number;
  /** Soft and hard RLIMIT_NOFILE of this process (children inherit them). Infinity = unlimited. */
  fdSoftLimit: number;
  fdHardLimit: number;
  /** net.ipv4.ip_local_port_range */
  ephemeralPortRange: [number, number];
  /** TCP connections per device (1 for Teltonika trackers). */
  connectionsPerDevice?: number;
  /** Descriptors a process needs besides the device sockets: API/WebSocket clients, files, the pool (default 256). */
  extraFds?: number;
  /** The embedded stack: the reference platform on this machine holds one socket per device too. */
  embedded?: boolean;
  /** The embedded platform's connections-per-source-IP limit (its default is 20,000). */
  platformMaxConnPerIp?: number;
  /** fs.nr_open: the largest value a hard limit may be raised to without a sysctl. */
  nrOpen?: number;
  /** fs.file-max: descriptors for the whole system. */
  fileMax?: number;
}

export interface ResourceAssessment {
  /** false: the run cannot work as planned; `problems` say why and `advice` how to fix it. */
  ok: boolean;
  problems: string[];
  /** It will work, but with little margin (reconnects, other processes). */
  warnings: string[];
  /** Exact commands, one per line. */
  advice: string[];
  /** What was compared, for logs. */
  needed: { fdsPerProcess: number; ephemeralPorts: number };
}

/** Share of a limit above which a run is "tight". */
const TIGHT = 0.8;
const DEFAULT_EXTRA_FDS = 256;
/** Embedded-stack platform default, kept in sync with src/platform/config.ts DEFAULTS.maxConnectionsPerIp. */
const PLATFORM_DEFAULT_MAX_CONN_PER_IP = 20_000;

/** A round number at least `n` (two significant digits), what a person would type. */
export function roundUp(n: number): number {
  if (n <= 100) return Math.ceil(n);
  const mag = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / mag) * mag;
}

/** What the checks found, in the order they ran (problems, warnings and advice each keep that order). */
interface Findings {
  problems: string[];
  warnings: string[];
  advice: string[];
}

/** The planned load the checks compare against the limits. */
interface Need {
  /** device connections (one local port and one descriptor each) */
  conns: number;
  /** descriptors per process: device sockets plus the process's own */
  fds: number;
  /** who holds that many descriptors, for the messages */
  who: string;
}

export function assessResources(i: ResourceInput): ResourceAssessment {
  const conns = i.devices * (i.connectionsPerDevice ?? 1);
  const fds = conns + (i.extraFds ?? DEFAULT_EXTRA_FDS);
  const who = i.embedded ? 'the load engine and the embedded platform each need' : 'the load engine needs';
  const need: Need = { conns, fds, who };
  const f: Findings = { problems: [], warnings: [], advice: [] };
  checkProcessFds(i, need, f);
  checkSystemFds(i, need, f);
  checkEphemeralPorts(i, need, f);
  // the embedded platform refuses connections beyond its per-IP limit (all devices come from 127.0.0.1)
  if (i.embedded) checkPlatformPerIp(i, need, f);
  return { ok: f.problems.length === 0, problems: f.problems, warnings: f.warnings, advice: [...new Set(f.advice)], needed: { fdsPerProcess: fds, ephemeralPorts: conns } };
}

/** File descriptors per process; the hard limit is what Node raises itself to, so a low soft limit is only a note. */
function checkProcessFds(i: ResourceInput, { conns, fds, who }: Need, f: Findings): void {
  const fdTarget = roundUp(Math.ceil(fds / TIGHT));
  if (fds > i.fdHardLimit) {
    f.problems.push(
      `open-file limit too low: ${who} about ${fds} descriptors (${conns} device sockets + ${fds - conns} other), ` +
        `but the hard limit (ulimit -Hn) is ${i.fdHardLimit}: raise it by at least ${fds - i.fdHardLimit}, to ${fdTarget}`,
    );
    f.advice.push(...fdAdvice(fdTarget, i.nrOpen));
  } else if (fds > TIGHT * i.fdHardLimit) {
    f.warnings.push(`open-file limit is tight: ${who} about ${fds} descriptors and the hard limit is ${i.fdHardLimit}; consider raising it to ${fdTarget} (ulimit -Hn ${fdTarget})`);
  }
  if (i.fdSoftLimit < fds && fds <= i.fdHardLimit) {
    f.warnings.push(`note: the soft open-file limit (${i.fdSoftLimit}) is below ${fds}; Node raises it to the hard limit (${i.fdHardLimit}) itself`);
  }
}

/** fs.file-max counts every process: on the embedded stack the engine and the platform both hold `fds`. */
function checkSystemFds(i: ResourceInput, { fds }: Need, f: Findings): void {
  if (i.fileMax !== undefined && (i.embedded ? 2 : 1) * fds > i.fileMax) {
    const target = roundUp((i.embedded ? 2 : 1) * fds * 2);
    f.problems.push(`the system-wide descriptor limit fs.file-max (${i.fileMax}) is below the ${(i.embedded ? 2 : 1) * fds} descriptors this run needs: raise it by ${target - i.fileMax}, to ${target}`);
    f.advice.push(`sysctl -w fs.file-max=${target}`);
  }
}

/** Ephemeral ports: one local port per device connection towards the single target ip:port. */
function checkEphemeralPorts(i: ResourceInput, { conns }: Need, f: Findings): void {
  const [lo, hi] = i.ephemeralPortRange;
  const ports = Math.max(0, hi - lo + 1);
  if (conns > ports) {
    const full = 65535 - 1024 + 1;
    if (conns <= full) {
      const lo2 = Math.max(1024, 65535 - roundUp(Math.ceil(conns / TIGHT)) + 1);
      f.problems.push(
        `ephemeral ports too few: ${conns} device connections to one target need ${conns} local ports, but net.ipv4.ip_local_port_range ` +
          `${lo} ${hi} has ${ports}: widen it by at least ${conns - ports} ports, e.g. to ${lo2} 65535 (${65535 - lo2 + 1} ports)`,
      );
      f.advice.push(`sysctl -w net.ipv4.ip_local_port_range="${lo2} 65535"   # as root; persist in /etc/sysctl.d/90-fleetload.conf`);
    } else {
      f.problems.push(
        `${conns} device connections to one target ip:port exceed the ${full} ports one source address can use: ` +
          `split the fleet over several load generators (or source addresses) of at most ${Math.floor(full * TIGHT)} devices each`,
      );
    }
  } else if (conns > TIGHT * ports) {
    f.warnings.push(`ephemeral ports are tight: ${conns} device connections and ${ports} ports in ${lo}-${hi}; reconnects leave ports in TIME_WAIT for 60 s (widen: sysctl -w net.ipv4.ip_local_port_range="1024 65535")`);
  }
}

function checkPlatformPerIp(i: ResourceInput, { conns }: Need, f: Findings): void {
  const perIp = i.platformMaxConnPerIp ?? PLATFORM_DEFAULT_MAX_CONN_PER_IP;
  if (conns > perIp) {
    f.problems.push(`the embedded platform accepts at most ${perIp} connections per source address and all ${conns} devices come from 127.0.0.1`);
    f.advice.push(`--platform-arg=--max-conn-per-ip=${roundUp(conns + 100)}`);
  }
}

function fdAdvice(target: number, nrOpen: number | undefined): string[] {
  const out: string[] = [];
  if (nrOpen !== undefined && target > nrOpen) out.push(`sysctl -w fs.nr_open=${roundUp(target * 2)}   # the kernel's ceiling for any hard limit (now ${nrOpen})`);
  out.push(
    `ulimit -Hn ${target} && ulimit -Sn ${target}   # as root, in the shell that runs fleetload`,
    `# or permanently: '* hard nofile ${target}' in /etc/security/limits.conf, LimitNOFILE=${target} for a systemd unit, ` +
      `--ulimit nofile=${target}:${target} for docker run`,
  );
  return out;
}

// ---- I/O edge: the real limits of this machine ----------------------------------------------------

export interface MachineLimits {
  fdSoftLimit: number;
  fdHardLimit: number;
  ephemeralPortRange: [number, number];
  nrOpen?: number;
  fileMax?: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const limitValue = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));

/** Parses the "Max open files" line of /proc/<pid>/limits. */
export function parseOpenFilesLimit(text: string): { soft: number; hard: number } | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  return { soft: limitValue(m[1]), hard: limitValue(m[2]) };
}

/** This machine's limits, or undefined where /proc does not tell (not Linux): the guard then stays silent. */
export function readMachineLimits(): MachineLimits | undefined {
  const files = parseOpenFilesLimit(readText('/proc/self/limits') ?? '');
  const range = (readText('/proc/sys/net/ipv4/ip_local_port_range') ?? '').trim().split(/\s+/).map(Number);
  if (!files || range.length !== 2 || !range.every(Number.isFinite)) return undefined;
  const num = (p: string) => {
    const v = Number((readText(p) ?? '').trim());
    return Number.isFinite(v) && v > 0 ? v : undefined;
  };
  return {
    fdSoftLimit: files.soft,
    fdHardLimit: files.hard,
    ephemeralPortRange: [range[0], range[1]],
    nrOpen: num('/proc/sys/fs/nr_open'),
    fileMax: num('/proc/sys/fs/file-max'),
  };
}

export interface ResourceCheckOptions {
  embedded: boolean;
  /** API and WebSocket clients of the profile (they hold sockets too). */
  extraConnections?: number;
  platformMaxConnPerIp?: number;
  log?: (line: string) => void;
  /** For tests: limits instead of this machine's. */
  limits?: MachineLimits;
}

/**
 * Called by `fleetload run` before anything starts: throws infraError (exit 3) listing what to raise when
 * the run cannot work, logs warnings when it is tight, and is silent otherwise.
 */
export function checkResourcesBeforeRun(devices: number, o: ResourceCheckOptions): ResourceAssessment | undefined {
  const limits = o.limits ?? readMachineLimits();
  if (!limits) return undefined;
  const a = assessResources({
    devices,
    ...limits,
    extraFds: DEFAULT_EXTRA_FDS + (o.extraConnections ?? 0),
    embedded: o.embedded,
    platformMaxConnPerIp: o.platformMaxConnPerIp,
  });
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!a.ok) {
    throw infraError(
      [`this machine cannot run ${devices} devices as configured (nothing was started):`, ...a.problems.map((p) => `  - ${p}`), 'raise the limits, then run again:', ...a.advice.map((c) => `  ${c}`)].join('\n'),
    );
  }
  for (const w of a.warnings) log(`resource guard: ${w}`);
  return a;
}

/** The connections-per-source-IP limit passed to the embedded platform with --platform-arg, if any. */
export function platformConnPerIpArg(platformArgs: readonly string[] = []): number | undefined {
  for (let k = 0; k < platformArgs.length; k++) {
    const a = platformArgs[k];
    const m = /^--max-conn-per-ip(?:=(\d+))?$/.exec(a);
    if (!m) continue;
    const v = Number(m[1] ?? platformArgs[k + 1]);
    if (Number.isInteger(v)) return v;
  }
  return undefined;
}
