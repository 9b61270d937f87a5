/**
 * Types for `k6/x/tcp`, the raw TCP client module compiled into fleetload's k6 binary
 * (Go source: src/stack/k6build/tcp). The API is the one of grafana/xk6-tcp, so scenarios can switch
 * to the official extension by changing one import in src/stack/k6build/main.go.
 *
 * Runtime behaviour worth knowing:
 * - Everything is asynchronous. Listeners and promise settlements run on the VU's event loop.
 * - An open socket keeps its VU iteration alive until it closes (destroy(), peer close, error).
 *   When the iteration ends (scenario end, gracefulStop, uncaught exception) all its sockets close
 *   and their listeners are no longer called.
 * - `data` delivers raw read chunks (at most 4096 bytes each) with no framing: keep your own
 *   receive buffer and cut frames by their length field.
 * - An exception thrown by a listener aborts the iteration (like any uncaught exception).
 * - Metrics: tcp_connects, tcp_connect_duration, tcp_errors{reason=connect|timeout|read|reset|write},
 *   tcp_reads, tcp_writes, tcp_timeouts, tcp_socket_duration, plus k6's data_sent/data_received
 *   (emitted as bytes flow, not at the end of the iteration). All carry the VU tags plus the
 *   socket's, connect()'s and write()'s `tags`.
 */
declare module 'k6/x/tcp' {
  /** Options for `new Socket()`. */
  export interface SocketOptions {
    /** Tags added to every metric sample of this socket. */
    tags?: Record<string, string>;
  }

  /**
   * - `disconnected`: initial state, or after a failed connect() (connect() may be called again)
   * - `opening`: connect() in progress
   * - `open`: connected, ready for I/O
   * - `destroyed`: terminal; create a new Socket to connect again
   */
  export type SocketState = 'opening' | 'open' | 'destroyed' | 'disconnected';

  export type SocketEvent = 'connect' | 'data' | 'close' | 'error' | 'timeout';

  /** Options for `connect()`. */
  export interface ConnectOptions {
    /** Port number (or a numeric string). */
    port: number | string;
    /** Host name or IP. Default `localhost`. k6's `hosts`, `dns` and `blockHostnames` options apply. */
    host?: string;
    /** Wrap the connection in TLS, using k6's TLS options (`insecureSkipTLSVerify`, `tlsAuth`, …). Default false. */
    tls?: boolean;
    /** Tags added to every metric sample of this connection (on top of the socket's tags). */
    tags?: Record<string, string>;
    /**
     * Connect timeout in milliseconds (including the TLS handshake). Default: k6's dialer timeout (30 s).
     * fleetload addition; grafana/xk6-tcp ignores it.
     */
    timeout?: number;
  }

  /** Options for `write()`. */
  export interface WriteOptions {
    /** How a string argument is turned into bytes: `utf8` (default), `ascii`/`latin1`, `base64`, `base64url` or `hex`. */
    encoding?: string;
    /** Tags added to this write's `tcp_writes`/`data_sent` samples. */
    tags?: Record<string, string>;
  }

  /** A TCP client socket. */
  export class Socket {
    /** Current state; see {@link SocketState}. */
    readonly ready_state: SocketState;
    /** Local address, once connected. */
    readonly local_ip?: string;
    readonly local_port?: number;
    /** Peer address, once connected. */
    readonly remote_ip?: string;
    readonly remote_port?: number;
    /** Bytes written so far (counted when each write() settles). */
    readonly bytes_written: number;
    /** Bytes received so far (counted as `data` events are delivered). */
    readonly bytes_read: number;
    /** `ready_state === 'open'`. */
    readonly connected: boolean;

    constructor(options?: SocketOptions);

    /**
     * Connects. Resolves after the `connect` listener ran. On failure (refused, timeout, blocked host) it emits
     * `error`, counts `tcp_errors{reason="connect"|"timeout"}` and rejects with an Error whose `code` is Node-like
     * (`ECONNREFUSED`, `ETIMEDOUT`, …); the socket goes back to `disconnected`.
     */
    connect(port: number | string, host?: string): Promise<void>;
    connect(options: ConnectOptions): Promise<void>;

    /**
     * Queues bytes for sending. Writes on one socket go out in call order, even without awaiting each one.
     * Resolves when the kernel accepted all bytes; rejects if the socket is not open, closes first, or the write fails
     * (counted as `tcp_errors{reason="write"}`; no `error` event). Uint8Array/ArrayBuffer contents are copied at call time.
     */
    write(data: string | ArrayBuffer | Uint8Array, options?: WriteOptions): Promise<void>;

    /** Closes the socket for good. Idempotent; `close` fires once (asynchronously). Pending writes reject. */
    destroy(): void;

    /**
     * Idle read timeout in ms (0 disables): when nothing is received for that long, `timeout` fires
     * (and `tcp_timeouts` counts it). The socket stays open; the timer restarts.
     */
    setTimeout(timeoutMs: number): this;

    /**
     * Sets the listener for an event (one listener per event; a new one replaces the old one; `null` removes it).
     * - `connect`: connected (before the connect() promise resolves)
     * - `data`: a received chunk, as a Uint8Array over its own fresh ArrayBuffer (safe to keep)
     * - `error`: connect failure, or a read error such as a peer reset (`code: 'ECONNRESET'`, counted as
     *   `tcp_errors{reason="reset"}`), always followed by `close` for read errors
     * - `close`: the socket closed (destroy(), peer closed, read error); fires once
     * - `timeout`: see setTimeout()
     */
    on(event: 'connect' | 'close' | 'timeout', listener: () => void): void;
    on(event: 'data', listener: (data: Uint8Array) => void): void;
    on(event: 'error', listener: (error: Error & { code?: string }) => void): void;
  }

  const tcp: {
    Socket: typeof Socket;
    /** Version of fleetload's implementation (absent in grafana/xk6-tcp). */
    readonly version?: string;
  };
  export default tcp;
}
