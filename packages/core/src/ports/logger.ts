export type LogFields = Record<string, unknown>;

export interface LogFn {
  (fields: LogFields, event: string): void;
}

/**
 * pino-shaped: `log.info({ accountId }, 'auth.success')`. A pino logger satisfies it as is. Event names
 * come from each package's closed, exported set; fields never hold passwords, tokens, Authorization
 * headers, message bodies or calendar payloads.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: LogFields): Logger;
}

const noop = (): void => {};

export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
