import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes. */
export const COMMON_OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  positionals: string[];
}

/** parseArgs in strict mode, with unknown options turned into a plain-words usage error. */
export function parse<O extends Options>(argv: string[], options: O, usage: string): Parsed<O & typeof COMMON_OPTIONS> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: values as Parsed<O & typeof COMMON_OPTIONS>['values'], positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '')}\nusage: ${usage}`);
  }
}

export function requirePositional(positionals: string[], index: number, what: string, usage: string): string {
  const value = positionals[index];
  if (value === undefined || value === '') throw new UsageError(`missing ${what}\nusage: ${usage}`);
  return value;
}

export function noMorePositionals(positionals: string[], count: number, usage: string): void {
  if (positionals.length > count) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[count])}\nusage: ${usage}`);
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** `5G`, `500MB`, `1.5 GiB`, `unlimited` (null). Binary units: what mail and file quotas mean in practice. */
export function parseSize(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited' || t === 'none') return null;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(t);
  const unit = match ? UNITS[match[2]!] : undefined;
  if (!match || unit === undefined) throw new UsageError(`not a size: ${JSON.stringify(text)} (try 500M, 5G or unlimited)`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size too large: ${text}`);
  return bytes;
}

/** A message or mailbox limit: a whole number, or `unlimited` (null). */
export function parseCount(text: string, what: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited' || t === 'none') return null;
  if (!/^\d{1,10}$/.test(t) || Number(t) > 2 ** 31 - 1) throw new UsageError(`not a ${what} limit: ${JSON.stringify(text)} (a whole number or unlimited)`);
  return Number(t);
}

export function formatCount(count: number | null): string {
  return count === null ? 'unlimited' : String(count);
}

export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[i]}`;
}
