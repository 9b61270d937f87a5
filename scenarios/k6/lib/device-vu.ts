// The k6 side of a simulated device: grafana/xk6-tcp sockets (k6/x/tcp, v0.3.1 API: Promise-based connect/write,
// events through on()) and k6 timers behind session.ts's DeviceIO, k6 metrics behind its DeviceEvents. One VU runs a
// block of devices concurrently on its event loop; the device logic itself is src/sim, the same the engine runs.
import exec from 'k6/execution';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'k6/timers';
import { Socket } from 'k6/x/tcp';
import { ByteQueue } from '../../../src/protocol/teltonika/index';
import { DeviceCore, deviceSettings } from '../../../src/sim/device';
import { drainMs } from '../../../src/sim/fleet-config';
import { runDevice, type DeviceEvents, type DeviceIO, type Link, type ReadResult, type SessionTiming } from '../../../src/sim/session';
import { config, sampled, settings } from './config';
import * as m from './metrics';
import { devicesOfIteration, stepScenarios, type StepScenario } from './options';
import { targetProblem } from './settings';

/** xk6-tcp's connect() has no timeout option (k6's dialer waits up to 30 s): a device gives up sooner, as trackers do. */
const CONNECT_TIMEOUT_MS = 10_000;

const deviceModel = deviceSettings(config);
const steps: Record<string, StepScenario> = {};
for (const s of stepScenarios(config, settings.devicesPerVu)) steps[s.name] = s;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** One xk6-tcp socket as session.ts's Link: `data` chunks (no framing) queued, read by size with a deadline. */
class K6Link implements Link {
  private readonly queue = new ByteQueue(16);
  private waiter: (() => void) | undefined;
  private timer: number | undefined;
  private closed = false;
  failed = false;

  constructor(readonly socket: Socket) {
    // copy inside the listener: xk6-tcp may hand over a view of a pooled buffer it reuses afterwards
    socket.on('data', (data) => {
      this.queue.push(new Uint8Array(data));
      this.wake();
    });
    socket.on('error', () => {
      this.failed = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (w) w();
  }

  async write(bytes: Uint8Array): Promise<boolean> {
    if (this.closed) return false;
    try {
      // awaited: xk6-tcp gives unawaited writes no order; an ArrayBuffer is the documented binary type
      await this.socket.write(bytes.slice().buffer);
      return true;
    } catch {
      this.failed = true;
      return false;
    }
  }

  async read(n: number, timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const bytes = this.queue.take(n);
      if (bytes) return bytes;
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.wake();
        }, left);
      });
    }
  }

  close(): void {
    // an open socket keeps the VU's iteration alive: every link is destroyed, whatever ended the session
    this.socket.destroy();
  }
}

/** connect() raced with CONNECT_TIMEOUT_MS; a failed or late connect destroys the socket (it would hold the VU). */
async function connectLink(group: string): Promise<Link | undefined> {
  const socket = new Socket({ tags: { device_group: group } });
  const link = new K6Link(socket);
  let timer: number | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CONNECT_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([socket.connect({ host: config.tcpHost, port: config.tcpPort }).then(() => 'open' as const), timedOut]);
    if (outcome === 'open') return link;
  } catch {
    // refused, unreachable, DNS: the device counts a connect error and backs off
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  socket.destroy();
  return undefined;
}

/** Live counts of this VU's devices, sampled into the per-VU gauges once a second. */
const live = { connected: 0, cores: [] as DeviceCore[] };

const io = (group: string): DeviceIO => ({ now: () => Date.now(), sleep, connect: () => connectLink(group) });

const events: DeviceEvents = {
  error(reason) {
    m.deviceErrors.add(1, { reason });
    m.deviceErrorRate.add(true, { reason });
  },
  login(latencyMs, reconnect) {
    m.loginLatency.add(latencyMs);
    m.logins.add(1);
    if (reconnect) m.reconnects.add(1);
  },
  connected() {
    live.connected++;
    m.connects.add(1);
  },
  disconnected() {
    live.connected--;
    m.disconnects.add(1);
  },
  packet(count, resend) {
    m.packetsSent.add(1);
    m.deviceErrorRate.add(false);
    if (resend) m.recordsResent.add(count);
    else m.recordsSent.add(count);
  },
  acked(pkt, ackAt) {
    m.packetsAcked.add(1);
    m.recordsAcked.add(pkt.count);
    if (!sampled()) return;
    // per packet from when it was due (open model); per record from its own timestamp (freshness)
    m.ackLatency.add(ackAt - pkt.dueAt);
    for (const t of pkt.timestamps) m.recordLatency.add(ackAt - t);
  },
  sendLag(ms) {
    if (sampled()) m.sendLag.add(ms);
  },
  keepAlive: () => m.keepAlives.add(1),
  outage: (kind) => m.linkOutages.add(1, { kind }),
  recovered: (ms) => m.recoveryTime.add(ms),
  unrecovered: () => m.outagesUnrecovered.add(1),
};

/** Per-VU gauges every second, and the VU's event-loop lag every 250 ms; returns the function that stops both. */
function startVuHealth(deadline: number): () => void {
  const vuTag = { vu: String(exec.vu.idInTest) };
  const gauges = () => {
    // offline devices sleep through their outage: take their due records now so the gauge shows the real backlog
    const now = Date.now();
    let buffered = 0;
    for (const c of live.cores) {
      c.acquire(now, deadline);
      buffered += c.buffered;
    }
    m.connectedDevices.add(live.connected, vuTag);
    m.recordsBuffered.add(buffered, vuTag);
  };
  const ticker = setInterval(gauges, 1000);
  let heartbeatDue = Date.now() + 250;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    m.vuLoopLag.add(Math.max(0, now - heartbeatDue));
    heartbeatDue = now + 250;
  }, 250);
  return () => {
    clearInterval(ticker);
    clearInterval(heartbeat);
    gauges();
  };
}

function runOne(index: number, core: DeviceCore, timing: SessionTiming): Promise<void> {
  return runDevice(core, io(String(index % 10)), events, timing).then(
    (unsent) => {
      if (unsent > 0) m.recordsUnsent.add(unsent);
      if (core.lost > 0) m.recordsLost.add(core.lost);
    },
    (e: unknown) => {
      // one device's bug must not end the iteration, and with it every other device of this VU
      m.generatorErrors.add(1);
      console.error(`device ${index}: ${String(e)}`);
    },
  );
}

/** One iteration of a step scenario: the device block picked by exec.scenario.iterationInTest, until the end. */
export async function devices(): Promise<void> {
  const problem = targetProblem(config);
  if (problem) throw new Error(problem);
  const step = steps[exec.scenario.name];
  if (!step) throw new Error(`devices() runs only in the step scenarios (${Object.keys(steps).join(', ')}), not in ${exec.scenario.name}`);
  const { from, to } = devicesOfIteration(step, settings.devicesPerVu, exec.scenario.iterationInTest);
  if (from >= to) return;
  const testStart = exec.scenario.startTime - step.startMs;
  const deadline = testStart + config.durationSec * 1000;
  const timing: SessionTiming = { deadline, drainUntil: deadline + drainMs(config), ackTimeoutMs: config.ackTimeoutMs, keepAliveMs: config.keepAliveMs ?? 0 };
  const stopHealth = startVuHealth(deadline);
  const runs: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    const core = new DeviceCore(deviceModel, i, testStart, testStart + step.startMs);
    live.cores.push(core);
    runs.push(runOne(i, core, timing));
  }
  await Promise.all(runs);
  stopHealth();
}
