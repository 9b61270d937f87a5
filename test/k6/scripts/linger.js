// Sockets left open when the scenario ends: k6 must close them and exit (no hang, no goroutine leak).
import { Socket } from 'k6/x/tcp';
import tcp from 'k6/x/tcp';

export const options = {
  scenarios: { linger: { executor: 'constant-vus', vus: 2, duration: '2s', gracefulStop: '1s' } },
};

export default async function () {
  if (__ITER === 0 && __VU === 1) console.log(`k6/x/tcp version ${tcp.version}`);
  for (let i = 0; i < 20; i++) {
    const s = new Socket();
    s.on('data', () => {});
    await s.connect(Number(__ENV.PORT), '127.0.0.1');
    s.write('hello');
  }
  // never destroyed: the iteration stays alive until the scenario ends
}
