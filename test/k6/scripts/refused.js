// connect() to a closed port rejects; the socket can be destroyed afterwards; the iteration ends.
import { check } from 'k6';
import { Socket } from 'k6/x/tcp';

export const options = {
  scenarios: { refused: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '20s' } },
  thresholds: { checks: ['rate==1'] },
};

export default async function () {
  const s = new Socket();
  let errorEvent = '';
  let closeEvents = 0;
  s.on('error', (e) => (errorEvent = e.code));
  s.on('close', () => closeEvents++);
  let rejection;
  try {
    await s.connect(Number(__ENV.PORT), '127.0.0.1');
  } catch (e) {
    rejection = e;
  }
  check(rejection, {
    'connect rejected': (e) => e !== undefined,
    'rejection is an Error with code ECONNREFUSED': (e) => e instanceof Error && e.code === 'ECONNREFUSED',
  });
  check(s, {
    'error event fired': () => errorEvent === 'ECONNREFUSED',
    'back to disconnected': (x) => x.ready_state === 'disconnected' && !x.connected,
  });
  let writeRejected = false;
  await s.write('x').catch(() => (writeRejected = true));
  check(writeRejected, { 'write on unconnected socket rejects': (w) => w });
  s.destroy();
  await new Promise((r) => setTimeout(r, 20));
  check(closeEvents, { 'close after destroy': (n) => n === 1 });
}
