// Echo round-trip: binary bytes incl. 0x00/0xFF, > 4 KiB so the data arrives in several chunks,
// unawaited writes must go out in call order, chunks are real Uint8Arrays the script may keep.
import { check } from 'k6';
import { Socket } from 'k6/x/tcp';
import tcp from 'k6/x/tcp';

export const options = {
  scenarios: { echo: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '20s' } },
  thresholds: { checks: ['rate==1'] },
};

export default async function () {
  const total = 20000;
  const expected = new Uint8Array(total);
  for (let i = 0; i < total; i++) expected[i] = i % 3 === 0 ? 0x00 : i % 3 === 1 ? 0xff : (i * 7) & 0xff;

  const s = new Socket({ tags: { device: 'echo-1' } });
  check(s, {
    'initial state disconnected': (x) => x.ready_state === 'disconnected' && x.connected === false,
    'default export has Socket': () => tcp.Socket === Socket && s instanceof Socket,
  });
  const chunks = [];
  let received = 0;
  let connectEvents = 0;
  let closeEvents = 0;
  let finish;
  const done = new Promise((r) => (finish = r));
  s.on('connect', () => connectEvents++);
  s.on('close', () => closeEvents++);
  s.on('error', (e) => console.error('unexpected error event', e.message));
  s.on('data', (d) => {
    chunks.push(d); // kept on purpose: the module must not reuse the buffer
    received += d.byteLength;
    if (received >= total) finish();
  });
  await s.connect({ port: Number(__ENV.PORT), host: '127.0.0.1', tags: { conn: 'c1' } });
  check(s, {
    'open after connect': (x) => x.ready_state === 'open' && x.connected === true && connectEvents === 1,
    'addresses known': (x) => x.remote_ip === '127.0.0.1' && x.remote_port === Number(__ENV.PORT) && x.local_port > 0 && typeof x.local_ip === 'string',
  });

  // 100 writes of 200 bytes, not awaited one by one: order must be kept.
  const writes = [];
  for (let off = 0; off < total; off += 200) {
    const slice = expected.subarray(off, off + 200);
    // mix the accepted data types
    if (off % 600 === 0) writes.push(s.write(slice));
    else if (off % 600 === 200) writes.push(s.write(slice.slice().buffer));
    else writes.push(s.write(hex(slice), { encoding: 'hex' }));
  }
  await Promise.all(writes);
  await done;

  const all = new Uint8Array(received);
  let pos = 0;
  for (const c of chunks) {
    all.set(c, pos);
    pos += c.length;
  }
  check(chunks, {
    'data is Uint8Array with its own buffer': (cs) => cs.every((c) => c instanceof Uint8Array && c.byteOffset === 0 && c.buffer.byteLength === c.byteLength),
    'chunks at most 4096 bytes': (cs) => cs.every((c) => c.byteLength <= 4096),
    'several chunks': (cs) => cs.length > 1,
  });
  check(all, {
    'all bytes echoed in order': (a) => a.length === total && a.every((b, i) => b === expected[i]),
  });
  check(s, { 'byte counters': (x) => x.bytes_written === total && x.bytes_read === total });

  s.destroy();
  s.destroy(); // idempotent
  check(s, { 'destroyed': (x) => x.ready_state === 'destroyed' && !x.connected });
  let rejected = '';
  try {
    await s.write('late');
  } catch (e) {
    rejected = String(e.message);
  }
  check(rejected, { 'write after destroy rejects': (m) => m.length > 0 });
  await new Promise((r) => setTimeout(r, 50));
  check(closeEvents, { 'close fired exactly once': (n) => n === 1 });
}

function hex(bytes) {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}
