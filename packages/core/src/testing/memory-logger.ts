import type { LogFields, Logger } from '../ports/logger.js';

export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly event: string;
  readonly fields: LogFields;
}

export interface MemoryLogger extends Logger {
  readonly records: LogRecord[];
  /** Everything logged, serialised: tests grep it for secrets that must never appear. */
  text(): string;
}

/** A logger that keeps what it is told, so tests can assert on events and on what is never logged. */
export function memoryLogger(bindings: LogFields = {}, records: LogRecord[] = []): MemoryLogger {
  const at =
    (level: LogRecord['level']) =>
    (fields: LogFields, event: string): void => {
      records.push({ level, event, fields: { ...bindings, ...fields } });
    };
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more: LogFields) => memoryLogger({ ...bindings, ...more }, records),
    text: () => records.map((r) => `${r.level} ${r.event} ${safeJson(r.fields)}`).join('\n'),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return String(value);
  }
}
