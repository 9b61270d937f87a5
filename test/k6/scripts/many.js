// Many sockets in one VU: all connect, exchange a message, destroy.
import { check } from 'k6';
import { Socket } from 'k6/x/tcp';

export const options = {
  scenarios: { many: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '30s' } },
  thresholds: { checks: ['rate==1'] },
};

export default async function () {
  const n = Number(__ENV.N || 500);
  const port = Number(__ENV.PORT);
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = new Socket({ tags: { device: 'many' } });
      const msg = `device-${i}\n`;
      let got = '';
      let finish;
      const echoed = new Promise((r) => (finish = r));
      s.on('data', (d) => {
        got += String.fromCharCode(...d);
        if (got.length >= msg.length) finish();
      });
      try {
        await s.connect(port, '127.0.0.1');
        await s.write(msg);
        await echoed;
        return got === msg;
      } finally {
        s.destroy();
      }
    }),
  );
  check(results, { 'every socket echoed its own message': (r) => r.length === n && r.every(Boolean) });
}
