import { describe, expect, it } from 'vitest';
import { lazyChild, silentLogger, type LogFields, type Logger } from './logger.js';

function recorder(level: 'debug' | 'info' | 'warn' | 'error', bindings: LogFields = {}, log: { lines: unknown[]; children: number } = { lines: [], children: 0 }) {
  const order = ['debug', 'info', 'warn', 'error'];
  const write = (l: string) => (fields: LogFields, event: string) => log.lines.push({ level: l, ...bindings, ...fields, event });
  const logger: Logger & { isLevelEnabled(l: string): boolean } = {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => {
      log.children++;
      return recorder(level, { ...bindings, ...more }, log).logger;
    },
    isLevelEnabled: (l) => order.indexOf(l) >= order.indexOf(level),
  };
  return { logger, log };
}

describe('lazyChild', () => {
  it('makes the child only when something is written, with every binding', () => {
    const { logger, log } = recorder('info');
    const lazy = lazyChild(logger, { requestId: 'r1' }).child({ account: 'a@b.test' });
    lazy.debug({}, 'below.level');
    expect(log.children).toBe(0);
    lazy.warn({ n: 1 }, 'dav.slow');
    lazy.info({ n: 2 }, 'dav.done');
    expect(log.children).toBe(1);
    expect(log.lines).toEqual([
      { level: 'warn', requestId: 'r1', account: 'a@b.test', n: 1, event: 'dav.slow' },
      { level: 'info', requestId: 'r1', account: 'a@b.test', n: 2, event: 'dav.done' },
    ]);
    expect(lazyChild(silentLogger, { x: 1 })).toBe(silentLogger);
  });
});
