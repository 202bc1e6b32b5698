import { pino } from 'pino';
import type { Logger } from '@palabre/core';

/**
 * Where `palabre serve` writes its log: JSON lines (one object per event, for journald, Loki or any
 * log shipper) unless a person is watching a terminal, who gets one short line per event instead.
 * The choice is made once by the process that owns the terminal and handed to worker processes
 * through PALABRE_LOG_FORMAT, so every worker writes the same format to the shared stdout.
 */
export type LogFormat = 'human' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['human', 'json'];

export function chooseLogFormat(flag: string | undefined, env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): LogFormat {
  const wanted = flag ?? env.PALABRE_LOG_FORMAT;
  if (wanted === 'human' || wanted === 'json') return wanted;
  return stdoutIsTerminal ? 'human' : 'json';
}

export interface LogTarget {
  write(text: string): void;
}

export function createServeLogger(options: { format: LogFormat; level: string; node: string; colour: boolean; target?: LogTarget }): Logger {
  const target = options.target ?? process.stdout;
  const destination = options.format === 'json' ? target : humanDestination(target, options.colour);
  return pino({ level: options.level, base: { node: options.node } }, destination) as unknown as Logger;
}

/** Fields every line carries or that the line's layout already shows. */
const HIDDEN = new Set(['level', 'time', 'msg', 'node', 'pid', 'hostname', 'component', 'service', 'v']);
const LEVELS: Record<number, [string, string]> = {
  10: ['trace', '\x1b[90m'],
  20: ['debug', '\x1b[90m'],
  30: ['info ', '\x1b[36m'],
  40: ['warn ', '\x1b[33m'],
  50: ['error', '\x1b[31m'],
  60: ['fatal', '\x1b[35m'],
};
const MAX_VALUE = 120;

/** pino writes one JSON line per call; each becomes `12:04:31 info  smtp.listening  role=mx port=2525`. */
function humanDestination(target: LogTarget, colour: boolean): LogTarget {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) target.write(`${humanLine(line, colour)}\n`);
    },
  };
}

export function humanLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toTimeString().slice(0, 8) : '--:--:--';
  const [level, tint] = LEVELS[record.level as number] ?? ['log  ', ''];
  const event = String(record.msg ?? '');
  const fields: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN.has(key) || value === undefined || value === null) continue;
    fields.push(`${key}=${shortValue(value)}`);
  }
  const levelText = colour && tint ? `${tint}${level}\x1b[0m` : level;
  const eventText = colour ? `\x1b[1m${event}\x1b[0m` : event;
  return [`${time} ${levelText} ${eventText}`, ...fields].join('  ');
}

function shortValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  else if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) text = value.join(',');
  else if (typeof value === 'object') {
    const err = value as { message?: unknown; type?: unknown };
    text = typeof err.message === 'string' ? JSON.stringify(err.message) : JSON.stringify(value);
  } else text = String(value);
  // Control characters from the network (a client's HELO, a file name) never reach the terminal raw.
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}
