/**
 * Why a Teltonika frame was refused. Stable strings: servers log them and tests match on them, so add codes rather
 * than renaming them.
 */
export type TeltonikaErrorCode =
  | 'BAD_PREAMBLE'
  | 'LENGTH_OUT_OF_BOUNDS'
  | 'CRC_MISMATCH'
  | 'COUNT_MISMATCH'
  | 'TRUNCATED'
  | 'UNKNOWN_CODEC'
  | 'BAD_IMEI'
  | 'BAD_LOGIN'
  | 'TRAILING_BYTES'
  | 'BAD_ACK'
  | 'BAD_VALUE';

/**
 * The only error the protocol library throws, whatever the input bytes: callers can then treat every other error as a
 * bug in our code rather than in the device.
 */
export class TeltonikaError extends Error {
  readonly code: TeltonikaErrorCode;

  constructor(code: TeltonikaErrorCode, message: string) {
    super(message);
    this.name = 'TeltonikaError';
    this.code = code;
  }
}

export function isTeltonikaError(e: unknown): e is TeltonikaError {
  return e instanceof TeltonikaError;
}
