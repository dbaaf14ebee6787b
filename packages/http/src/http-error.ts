/**
 * An error a route (or hook) throws to answer with a specific status and machine-readable code;
 * the central error handler turns it into `{ success: false, error: { code, message } }`.
 * The message is shown to the client, so it must not contain internals.
 */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
}

export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}
