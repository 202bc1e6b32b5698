import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputReader } from './input-reader.js';

function source(): { input: InputReader; stream: PassThrough } {
  const stream = new PassThrough();
  const input = new InputReader(1024);
  input.attach(stream);
  return { input, stream };
}

describe('InputReader', () => {
  it('reads lines split across chunks, CRLF or bare LF', async () => {
    const { input, stream } = source();
    stream.write('a1 NO');
    stream.write('OP\r');
    stream.write('\nb2 X\nrest');
    expect((await input.readLine(100)) as { line: Buffer }).toMatchObject({ kind: 'line', line: Buffer.from('a1 NOOP') });
    expect(await input.readLine(100)).toMatchObject({ kind: 'line', line: Buffer.from('b2 X') });
    stream.end();
    expect(await input.readLine(100)).toMatchObject({ kind: 'line', line: Buffer.from('rest') });
    expect(await input.readLine(100)).toEqual({ kind: 'end' });
  });

  it('discards an over-long line as it arrives and keeps its tail', async () => {
    const { input, stream } = source();
    for (let i = 0; i < 100; i++) stream.write('x'.repeat(1000));
    stream.write(' {5+}\r\nnext\r\n');
    const r = await input.readLine(500);
    expect(r.kind).toBe('too-long');
    if (r.kind === 'too-long') {
      expect(r.tail.toString().endsWith(' {5+}')).toBe(true);
      expect(r.length).toBe(100_005);
    }
    expect(await input.readLine(500)).toMatchObject({ kind: 'line', line: Buffer.from('next') });
  });

  it('with a discard budget, refuses to throw away more than it per command instead of reading it', async () => {
    const { input, stream } = source();
    input.limitDiscard(600);
    stream.write(`${'x'.repeat(900)}\r\nok\r\n`);
    expect(await input.readLine(500)).toEqual({ kind: 'over-budget' });
    input.beginCommand();
    expect(await input.skip(601)).toBe('over-budget');
    expect(input.pending()).toBeGreaterThan(900); // nothing was consumed
    expect(await input.skip(400)).toBe('skipped');
    expect(await input.skip(300)).toBe('over-budget'); // 400 + 300 > 600 in one command
    expect(await input.skip(300, true)).toBe('skipped'); // an invited literal's rest does not count
    input.beginCommand();
    expect(await input.skip(202)).toBe('skipped'); // the rest of the long line and its CRLF
    expect(await input.readLine(500)).toMatchObject({ kind: 'line', line: Buffer.from('ok') });
  });

  it('pauses its source beyond the buffer bound and resumes as it is read', async () => {
    const { input, stream } = source();
    stream.write(Buffer.alloc(4096, 0x61));
    await new Promise((r) => setImmediate(r));
    expect(stream.isPaused()).toBe(true);
    expect(await input.readExactly(4000)).toHaveLength(4000);
    expect(stream.isPaused()).toBe(false);
  });

  it('streams a literal of exactly n bytes without reading past it', async () => {
    const { input, stream } = source();
    stream.write('hello wor');
    const { stream: lit, remaining } = input.streamExactly(11);
    stream.write('ld\r\nafter\r\n');
    const chunks: Buffer[] = [];
    for await (const c of lit) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello world');
    expect(remaining()).toBe(0);
    expect(await input.readLine(100)).toMatchObject({ kind: 'line', line: Buffer.from('') });
    expect(await input.readLine(100)).toMatchObject({ kind: 'line', line: Buffer.from('after') });
  });

  it('fails a literal stream when the connection ends inside it', async () => {
    const { input, stream } = source();
    const { stream: lit } = input.streamExactly(10);
    stream.end('abc');
    await expect(async () => {
      for await (const _ of lit) void _;
    }).rejects.toThrow(/closed inside a literal/);
  });
});
