// The server resets the connection mid-stream: 'error' (ECONNRESET) then 'close', tcp_errors{reason=reset}, no crash.
import { check } from 'k6';
import { Socket } from 'k6/x/tcp';

export const options = {
  scenarios: { reset: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '20s' } },
  thresholds: { checks: ['rate==1'] },
};

export default async function () {
  const s = new Socket({ tags: { device: 'reset-1' } });
  const events = [];
  let errorCode = '';
  let finish;
  const closed = new Promise((r) => (finish = r));
  s.on('data', () => events.push('data'));
  s.on('error', (e) => {
    events.push('error');
    errorCode = e.code;
  });
  s.on('close', () => {
    events.push('close');
    finish();
  });
  await s.connect(Number(__ENV.PORT), '127.0.0.1');
  await s.write(new Uint8Array([1, 2, 3, 4]));
  await closed;
  const last = events.slice(-2).join(',');
  check(null, {
    'error then close': () => last === 'error,close',
    'error code ECONNRESET': () => errorCode === 'ECONNRESET',
    'socket destroyed': () => s.ready_state === 'destroyed',
  });
  s.destroy(); // no-op after close
}
