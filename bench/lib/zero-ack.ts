// The benchmarks' zero-work Teltonika server: it frames logins and AVL packets and answers at once, with no
// database, so every millisecond a benchmark measures is the engine's. It runs in a child process of its own (the
// benchmark's script started with --acker), so the engine's CPU and memory are measured alone.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { encodeAck, encodeLoginReply, TeltonikaFramer } from '../../src/protocol/teltonika/index.js';

/** `--acker`: serve on a free port of 0.0.0.0 and print the port on stdout. */
export async function runZeroAckServer(): Promise<void> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => {});
    const framer = new TeltonikaFramer();
    s.on('data', (chunk) => {
      for (const f of framer.push(chunk)) {
        if (f.type === 'login') s.write(encodeLoginReply(true));
        else if (f.type === 'avl') s.write(encodeAck(f.bytes[9]));
      }
    });
  });
  server.maxConnections = 200_000;
  await new Promise<void>((r) => server.listen({ port: 0, host: '0.0.0.0', backlog: 8192 }, r));
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
}

/** Starts this script again with --acker; resolves with the port it serves. */
export async function startZeroAckServer(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [process.argv[1], '--acker'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { port: Number(line), child };
}
