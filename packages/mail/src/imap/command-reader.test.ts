import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Segment } from './arguments.js';
import { CommandReader, type LiteralDecision } from './command-reader.js';
import { ImapError } from './errors.js';
import { InputReader } from './input-reader.js';

const LIMITS = { maxLineBytes: 100, maxLiteralBytes: 50, maxCommandBytes: 200, maxMessageBytes: 1000 };

function setup(decide: (name: string, size: number) => LiteralDecision = () => ({ action: 'buffer' })) {
  const stream = new PassThrough();
  const input = new InputReader(4096);
  input.attach(stream);
  let continuations = 0;
  const reader = new CommandReader(input, LIMITS, {
    continueLiteral: async () => {
      continuations++;
    },
    precheck: (head) => (head.name === 'BOGUS' ? new ImapError('BAD', null, 'Unknown command') : null),
    decideLiteral: async (head, _segments, size) => decide(head.name, size),
  });
  return { stream, reader, continuations: () => continuations };
}

const texts = (segments: Segment[]) => segments.map((s) => (Buffer.isBuffer(s) ? s.toString() : s.kind === 'literal' ? `<${s.data.toString()}>` : `<stream ${s.size}>`));

describe('CommandReader framing', () => {
  it('frames lines and literals, asking for a continuation only for synchronising literals', async () => {
    const { stream, reader, continuations } = setup();
    stream.write('a LOGIN {3}\r\nbob {4+}\r\npass\r\nb uid fetch 1 FLAGS\r\n');
    const first = await reader.read();
    expect(first.kind === 'command' && [first.head, texts(first.segments)]).toEqual([{ tag: 'a', name: 'LOGIN' }, ['a LOGIN {3}', '<bob>', ' {4+}', '<pass>', '']]);
    expect(continuations()).toBe(1);
    const second = await reader.read();
    expect(second.kind === 'command' && second.head).toEqual({ tag: 'b', name: 'UID FETCH' });
  });

  it('rejects bad tags, missing commands and failed prechecks, skipping their non-synchronising literals', async () => {
    const { stream, reader, continuations } = setup();
    stream.write('+bad NOOP\r\n\r\nx BOGUS {3+}\r\nabc more\r\ny BOGUS {2}\r\nz NOOP\r\n');
    expect(await reader.read()).toMatchObject({ kind: 'rejected', tag: '*' });
    expect(await reader.read()).toMatchObject({ kind: 'rejected', tag: '*' });
    expect(await reader.read()).toMatchObject({ kind: 'rejected', tag: 'x' });
    expect(await reader.read()).toMatchObject({ kind: 'rejected', tag: 'y' });
    expect(continuations()).toBe(0);
    expect(await reader.read()).toMatchObject({ kind: 'command', head: { tag: 'z', name: 'NOOP' } });
  });

  it('refuses oversized literals: BAD for synchronising ones, BYE for a non-synchronising one it cannot skip', async () => {
    const a = setup();
    a.stream.write('a LOGIN {51}\r\nb NOOP\r\n');
    const r = await a.reader.read();
    expect(r.kind === 'rejected' && r.error?.wire('a')).toBe('a BAD [TOOBIG] Literal too large');
    expect(await a.reader.read()).toMatchObject({ kind: 'command', head: { name: 'NOOP' } });
    const b = setup();
    b.stream.write('a LOGIN {5000+}\r\n');
    expect(await b.reader.read()).toMatchObject({ kind: 'fatal' });
    const c = setup();
    c.stream.write(`a LOGIN {60+}\r\n${'x'.repeat(60)} y\r\nb NOOP\r\n`);
    expect(await c.reader.read()).toMatchObject({ kind: 'rejected', tag: 'a' });
    expect(await c.reader.read()).toMatchObject({ kind: 'command', head: { name: 'NOOP' } });
  });

  it('streams a message literal and then checks the rest of the command is empty', async () => {
    const { stream, reader } = setup((name) => (name === 'APPEND' ? { action: 'stream' } : { action: 'buffer' }));
    stream.write('a APPEND INBOX {5+}\r\nhello\r\nb APPEND INBOX {3+}\r\nabcXYZ\r\n');
    const r = await reader.read();
    expect(r.kind === 'command' && r.streamed).toBe(true);
    const lit = r.kind === 'command' ? r.segments[1] : null;
    expect(lit && !Buffer.isBuffer(lit) && lit.kind === 'stream' && lit.size).toBe(5);
    // The handler gives up without reading: the reader skips the literal itself.
    expect(await reader.finishStreamed()).toBeNull();
    await reader.read();
    expect(((await reader.finishStreamed()) as ImapError).message).toBe('Unexpected data after the message');
  });

  it('answers an over-long line and a too-large command', async () => {
    const { stream, reader } = setup();
    stream.write(`a ${'x'.repeat(300)}\r\n`);
    expect(await reader.read()).toMatchObject({ kind: 'rejected', tag: 'a' });
    stream.write(`b X {40}\r\n${'y'.repeat(40)}${'z'.repeat(90)} {40}\r\n${'y'.repeat(40)}${'w'.repeat(60)}\r\n`);
    const r = await reader.read();
    expect(r.kind === 'rejected' && r.error?.message).toBe('Command too large');
  });

  it('frames the literals that follow a streamed one (MULTIAPPEND): taken, refused before +, or skipped when non-synchronising', async () => {
    const { stream, reader, continuations } = setup((name) => (name === 'APPEND' ? { action: 'stream' } : { action: 'buffer' }));
    stream.write('a APPEND INBOX {5+}\r\nhello (\\Seen) {3}\r\n');
    await reader.read();
    const lines: string[] = [];
    const take = async (line: Buffer): Promise<LiteralDecision> => {
      lines.push(line.toString());
      return { action: 'stream' };
    };
    const second = await reader.nextStreamed(take);
    expect(second.kind === 'message' && [second.size, second.binary]).toEqual([3, false]);
    expect(lines).toEqual([' (\\Seen) {3}']);
    expect(continuations()).toBe(1);
    stream.write('abc ~{2+}\r\nxy\r\n');
    // The handler read nothing of the second message: skipped, then a literal8 announced and refused.
    const third = await reader.nextStreamed(async () => ({ action: 'refuse', error: new ImapError('NO', 'LIMIT', 'Too many') }));
    expect(third.kind === 'refused' && third.error.code).toBe('LIMIT');
    stream.write('b APPEND INBOX {2+}\r\nok {2000}\r\nc NOOP\r\n');
    await reader.read();
    const big = await reader.nextStreamed(take);
    expect(big.kind === 'refused' && big.error.code).toBe('TOOBIG');
    expect(continuations()).toBe(1);
    expect(await reader.read()).toMatchObject({ kind: 'command', head: { name: 'NOOP' } });
    stream.write('d APPEND INBOX {2+}\r\nok\r\n');
    await reader.read();
    expect(await reader.nextStreamed(take)).toEqual({ kind: 'last', line: Buffer.alloc(0) });
  });
});
