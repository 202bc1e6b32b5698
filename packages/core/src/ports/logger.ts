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

/**
 * A child logger made only when something is logged through it: per-request loggers cost nothing on
 * the requests that log nothing (most of them), where a pino child costs microseconds each time.
 */
export function lazyChild(parent: Logger, bindings: LogFields): Logger {
  if (parent === silentLogger) return silentLogger;
  let real: Logger | null = null;
  // pino says which levels it would write: below those, not even the child is made.
  const enabled = (parent as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.bind(parent);
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error'): LogFn =>
    (fields, event) => {
      if (enabled && !enabled(level)) return;
      (real ??= parent.child(bindings))[level](fields, event);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => lazyChild(parent, { ...bindings, ...more }) };
}
