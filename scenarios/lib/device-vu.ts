// The k6 side of a simulated device: k6/x/tcp sockets and k6 timers behind session.ts's DeviceIO, metrics behind its
// DeviceEvents. One VU runs a block of devices concurrently on its event loop.
import exec from 'k6/execution';
import { clearTimeout, setInterval, clearInterval, setTimeout } from 'k6/timers';
import { Socket } from 'k6/x/tcp';
import { ByteQueue } from '../../src/protocol/teltonika/index';
import { DeviceCore, deviceSettings } from '../../src/sim/device';
import { devicesOfIteration, stepScenarios, type StepScenario } from '../../src/sim/fleet-config';
import { drainMs } from '../../src/sim/k6-options';
import { runDevice, type DeviceEvents, type DeviceIO, type Link, type ReadResult } from '../../src/sim/session';
import { config, sampled } from './config';
import * as m from './metrics';

const settings = deviceSettings(config);
const steps: Record<string, StepScenario> = {};
for (const s of stepScenarios(config)) steps[s.name] = s;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

class K6Link implements Link {
  private readonly queue = new ByteQueue(16);
  private waiter: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  failed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (data) => {
      this.queue.push(data);
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
    try {
      await this.socket.write(bytes);
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
    this.socket.destroy();
  }
}

/** Live counts of this VU's devices, sampled into the per-VU gauges once a second. */
const live = { connected: 0, cores: [] as DeviceCore[] };

const io = (group: string): DeviceIO => ({
  now: () => Date.now(),
  sleep,
  async connect() {
    const socket = new Socket({ tags: { device_group: group } });
    const link = new K6Link(socket);
    try {
      await socket.connect({ host: config.tcpHost, port: config.tcpPort, timeout: 10_000 });
      return link;
    } catch {
      socket.destroy();
      return undefined;
    }
  },
});

const events: DeviceEvents = {
  error: (reason) => m.deviceErrors.add(1, { reason }),
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
    if (resend) m.recordsResent.add(count);
    else m.recordsSent.add(count);
  },
  acked(pkt, ackAt) {
    m.recordsAcked.add(pkt.count);
    if (sampled()) m.ackLatency.add(ackAt - pkt.dueAt);
  },
  sendLag(ms) {
    if (sampled()) m.sendLag.add(ms);
  },
  keepAlive: () => m.keepAlives.add(1),
  outage: (kind) => m.linkOutages.add(1, { kind }),
  recovered: (ms) => m.recoveryTime.add(ms),
  unrecovered: () => m.outagesUnrecovered.add(1),
};

/** One iteration of a step scenario: the device block picked by exec.scenario.iterationInTest, until the end. */
export async function devices(): Promise<void> {
  const step = steps[exec.scenario.name];
  if (!step) throw new Error(`devices() runs only in the step scenarios, not in ${exec.scenario.name}`);
  const { from, to } = devicesOfIteration(step, config.devicesPerVu, exec.scenario.iterationInTest);
  if (from >= to) return;
  const testStart = exec.scenario.startTime - step.startMs;
  const deadline = testStart + config.durationSec * 1000;
  const timing = { deadline, drainUntil: deadline + drainMs(config), ackTimeoutMs: config.ackTimeoutMs, keepAliveMs: config.keepAliveMs ?? 0 };
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
  // event-loop health of this VU: a timer that should fire every 250 ms, and how late it actually does
  let heartbeatDue = Date.now() + 250;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    m.vuLoopLag.add(Math.max(0, now - heartbeatDue));
    heartbeatDue = now + 250;
  }, 250);
  const runs: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    const core = new DeviceCore(settings, i, testStart, testStart + step.startMs);
    live.cores.push(core);
    runs.push(
      runDevice(core, io(String(i % 10)), events, timing).then(
        (unsent) => {
          if (unsent > 0) m.recordsUnsent.add(unsent);
          if (core.lost > 0) m.recordsLost.add(core.lost);
        },
        (e: unknown) => {
          // one device's bug must not end the iteration, and with it every other device of this VU
          m.generatorErrors.add(1);
          console.error(`device ${i}: ${String(e)}`);
        },
      ),
    );
  }
  await Promise.all(runs);
  clearInterval(ticker);
  clearInterval(heartbeat);
  gauges();
}
