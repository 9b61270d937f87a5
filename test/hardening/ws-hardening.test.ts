// Hardening of the platform's WebSocket feed against hostile clients: no message, whatever its shape, may take the
// platform down. After each case the platform answers /health and a fresh device still gets its ACK.
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { usePlatformFixture } from '../platform/helpers.js';
import { runGoodFleet } from './devices.js';

const { setup } = usePlatformFixture('ws-hardening');

interface Reply {
  messages: Array<{ type?: string; message?: string }>;
  closeCode: number | undefined;
}

/** Opens /ws, sends one message, and collects what the server answers within a short while. */
function sendOne(port: number, payload: string | Buffer, binary: boolean): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const out: Reply = { messages: [], closeCode: undefined };
    ws.on('message', (d) => out.messages.push(JSON.parse(String(d)) as Reply['messages'][number]));
    ws.on('error', reject);
    ws.on('close', (code) => {
      out.closeCode = code;
      resolve(out);
    });
    ws.on('open', () => {
      ws.send(payload, { binary });
      setTimeout(() => ws.close(), 300);
    });
  });
}

describe('WebSocket feed against hostile messages', () => {
  it('answers JSON that is not a control message with an error, binary frames with close 1003, and stays up', async () => {
    const { p } = await setup();
    for (const text of ['null', '42', '"subscribe"', '[]', 'true', '{"subscribe":null}', '{"subscribe":[1,2]}', '{}']) {
      const r = await sendOne(p.httpPort, text, false);
      expect(r.messages.map((m) => m.type), text).toEqual(['error']);
    }
    const bin = await sendOne(p.httpPort, Buffer.from([0, 1, 2, 3]), true);
    expect(bin.closeCode).toBe(1003);
    const res = await fetch(`http://127.0.0.1:${p.httpPort}/health`);
    expect(res.status).toBe(200);
    const late = await runGoodFleet({ port: p.tcpPort, n: 1, intervalMs: 0, untilMs: Date.now(), maxPackets: 1 });
    expect(late.failures).toEqual([]);
    expect(late.packetsAcked).toBe(1);
  });
});
