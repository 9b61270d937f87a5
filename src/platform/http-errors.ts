// Errors the HTTP routes throw and the body every error answer carries ({statusCode, error, message}); the error
// handler in http-api.ts turns them into replies.
import { STATUS_CODES } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A device timestamp outside the plausibility window: a 400 that is also counted by reason. */
export class ImplausibleTime extends HttpError {
  constructor(
    readonly reason: 'too_old' | 'future',
    message: string,
  ) {
    super(400, message);
  }
}

export function errorBody(status: number, message: string) {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
}
