// A tiny Teltonika server for tests: frames logins, AVL packets and keep-alives with the protocol library, records
// what each device sent, and lets a test decide each reply (withhold the ACK, falsify the count, reset, delay).
import net from 'node:net';
import { decodeAvlPacket, encodeAck, encodeLoginReply, TeltonikaFramer, type AvlRecord } from '../../src/protocol/teltonika/index.js';

export interface Received {
  imei: string;
  codec: number;
  records: AvlRecord[];
  bytes: Buffer;
  at: number;
}

export type Reply = 'ack' | 'none' | { count: number } | 'reset';

export interface TestServer {
  port: number;
  logins: string[];
  packets: Received[];
  keepAlives: number;
  /** distinct IMEIs that logged in */
  imeis(): Set<string>;
  close(): Promise<void>;
}

export async function startTeltonikaServer(decide: (p: Received, nth: number) => Reply = () => 'ack'): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const state: TestServer = {
    port: 0,
    logins: [],
    packets: [],
    keepAlives: 0,
    imeis: () => new Set(state.logins),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const framer = new TeltonikaFramer();
    let imei = '';
    s.on('data', (chunk) => {
      for (const f of framer.push(chunk)) {
        if (f.type === 'keepalive') state.keepAlives++;
        else if (f.type === 'login') {
          imei = f.imei;
          state.logins.push(imei);
          s.write(encodeLoginReply(true));
        } else {
          const pkt = decodeAvlPacket(f.bytes);
          const p: Received = { imei, codec: pkt.codec, records: pkt.records, bytes: Buffer.from(f.bytes), at: Date.now() };
          state.packets.push(p);
          const reply = decide(p, state.packets.length);
          if (reply === 'ack') s.write(encodeAck(pkt.records.length));
          else if (reply === 'reset') s.resetAndDestroy();
          else if (reply !== 'none') s.write(encodeAck(reply.count));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}
