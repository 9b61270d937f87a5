/**
 * Types for `k6/x/tcp` as grafana/xk6-tcp **v0.3.1** ships it (k6 v2 line; the same JavaScript API as v0.2.0, which is
 * the release for k6 v1). @types/k6 has no declarations for extensions, so fleetload keeps this one; it is written
 * from xk6-tcp's index.d.ts, its release notes and its source, in fleetload's words.
 *
 * Changes between releases that this bundle depends on:
 * - v0.1.0 had a synchronous API plus `connectAsync`/`writeAsync`; **v0.2.0 removed the synchronous calls and renamed
 *   the Promise-based ones to `connect`/`write`**, and `data` became a Uint8Array (it was an ArrayBuffer).
 * - v0.3.0/v0.3.1 only move to the k6 v2 module path (go.k6.io/k6/v2); the JavaScript API is unchanged.
 *
 * Runtime behaviour the device loop (scenarios/k6/lib/device-vu.ts) is built around:
 * - `data` delivers raw read chunks (at most 4096 bytes) with no framing, and the object may be a view of a pooled Go
 *   buffer that is reused after the listener returns: copy it inside the listener (`new Uint8Array(data)`).
 * - One listener per event: `on()` replaces the previous listener.
 * - `connect()` has no timeout option (k6's dialer default applies): a caller that needs one races it with a timer.
 * - An open socket keeps its VU iteration alive until it is destroyed; always `destroy()` (also after a failed connect).
 * - A read error other than EOF/timeout (a peer reset) emits `error` and then `close`. In v0.3.1 that path also pushes a
 *   tcp_errors sample with a nil tag set, which panics k6's metrics flusher (xk6-tcp issue #67, fix e4d658c, PR #68).
 */
declare module 'k6/x/tcp' {
  export interface SocketOptions {
    /** Tags added to every metric sample of this socket. */
    tags?: Record<string, string>;
  }

  export type SocketState = 'opening' | 'open' | 'destroyed' | 'disconnected';

  export type SocketEvent = 'connect' | 'data' | 'close' | 'error' | 'timeout';

  export interface ConnectOptions {
    port: number | string;
    /** Default 'localhost'. */
    host?: string;
    /** TLS with k6's TLS options. Default false. */
    tls?: boolean;
    tags?: Record<string, string>;
  }

  export interface WriteOptions {
    /** For string data: utf8 (default), utf-8, ascii, base64, base64url or hex; anything else rejects. */
    encoding?: string;
    tags?: Record<string, string>;
  }

  export class Socket {
    ready_state: SocketState;
    local_ip?: string;
    local_port?: number;
    remote_ip?: string;
    remote_port?: number;
    bytes_written: number;
    bytes_read: number;
    readonly connected: boolean;

    constructor(options?: SocketOptions);

    /** Resolves once connected; rejects on failure (the socket must still be destroyed). */
    connect(port: number | string, host?: string): Promise<void>;
    connect(options: ConnectOptions): Promise<void>;

    /** Resolves when the kernel accepted every byte. Await each write: unawaited writes are not ordered. */
    write(data: string | ArrayBuffer, options?: WriteOptions): Promise<void>;

    /** Closes for good (idempotent); `close` fires. A destroyed socket cannot be reused. */
    destroy(): void;

    /** Idle read timeout in ms (0 disables): `timeout` fires, the socket stays open. */
    setTimeout(timeoutMs: number): this;

    on(event: 'connect' | 'close' | 'timeout', listener: () => void): void;
    on(event: 'data', listener: (data: Uint8Array) => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
  }

  const tcp: { Socket: typeof Socket };
  export default tcp;
}
