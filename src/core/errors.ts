// Exit codes are a contract with CI systems: change them only on purpose.
export const ExitCode = {
  Pass: 0,
  SloBreach: 1,
  BadInput: 2,
  Infrastructure: 3,
  InvalidRun: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends a command with a chosen exit code and a message meant for a person. */
export class FleetloadError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FleetloadError';
  }
}

export const badInput = (message: string, cause?: unknown) => new FleetloadError(message, ExitCode.BadInput, { cause });
export const infraError = (message: string, cause?: unknown) => new FleetloadError(message, ExitCode.Infrastructure, { cause });
export const invalidRun = (message: string, cause?: unknown) => new FleetloadError(message, ExitCode.InvalidRun, { cause });
