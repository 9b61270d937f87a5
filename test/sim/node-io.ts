// session.ts's DeviceIO on real loopback sockets for the tests: the engine's own TCP link (src/engine/tcp-link.ts),
// so the device logic is tested over the very I/O the engine runs it on.
import { systemClock } from '../../src/core/clock.js';
import { tcpDeviceIO } from '../../src/engine/tcp-link.js';
import type { DeviceIO } from '../../src/sim/session.js';

export function nodeIO(port: number): DeviceIO {
  return tcpDeviceIO({ host: '127.0.0.1', port, connectTimeoutMs: 5000 }, systemClock);
}
