import { isPalabreError } from '@palabre/core';
import { UsageError } from './args.js';

export interface Output {
  out(line?: string): void;
  err(line: string): void;
  readonly interactive: boolean;
}

export const stdio: Output = {
  out: (line = '') => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  get interactive() {
    return Boolean(process.stdout.isTTY);
  },
};

/** Exit codes: 0 ok, 1 refused or failed, 2 usage error. */
export function exitCodeFor(error: unknown): number {
  return error instanceof UsageError ? 2 : 1;
}

/** A message for people: our typed errors say what went wrong; anything else keeps its cause short. */
export function describeError(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (isPalabreError(error)) {
    if (error.kind === 'unavailable' && error.cause instanceof Error) return `${error.message} (${error.cause.message.split('\n')[0]})`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Fixed-width table for list commands. */
export function table(rows: string[][], headers: string[]): string[] {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}
