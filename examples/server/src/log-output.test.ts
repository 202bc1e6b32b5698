import { describe, expect, it } from 'vitest';
import { chooseLogFormat, createServeLogger, humanLine } from './log-output.js';

describe('serve log output', () => {
  it('is human on a terminal, JSON otherwise, and the flag or the primary process decides first', () => {
    expect(chooseLogFormat(undefined, {}, true)).toBe('human');
    expect(chooseLogFormat(undefined, {}, false)).toBe('json');
    expect(chooseLogFormat('json', {}, true)).toBe('json');
    expect(chooseLogFormat(undefined, { PALABRE_LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(chooseLogFormat(undefined, { PALABRE_LOG_FORMAT: 'human' }, false)).toBe('human');
  });

  it('writes one short line per event: time, level, event, the fields that matter', () => {
    const lines: string[] = [];
    const log = createServeLogger({ format: 'human', level: 'info', node: 'mail.gouv.tg', colour: false, target: { write: (t) => lines.push(t) } });
    log.child({ service: 'smtp' }).info({ role: 'mx', port: 2525, services: ['http', 'imap'] }, 'smtp.listening');
    log.debug({ hidden: true }, 'below.level');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info  smtp\.listening {2}role=mx {2}port=2525 {2}services=http,imap\n$/);
    expect(lines[0]).not.toContain('mail.gouv.tg');
  });

  it('keeps what a client sent from reaching the terminal as control characters, and bounds long values', () => {
    const line = humanLine(JSON.stringify({ level: 40, time: 0, msg: 'smtp.refused', helo: 'x\u001b]0;owned\u0007', reason: 'y'.repeat(500) }), false);
    expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
    expect(line).toContain('warn ');
    expect(line.length).toBeLessThan(300);
    expect(humanLine('not json', false)).toBe('not json');
  });

  it('stays JSON, one object per line, for log shippers', () => {
    const lines: string[] = [];
    const log = createServeLogger({ format: 'json', level: 'info', node: 'n1', colour: false, target: { write: (t) => lines.push(t) } });
    log.info({ port: 1 }, 'imap.listening');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, node: 'n1', port: 1, msg: 'imap.listening' });
  });
});
