import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { receiveMessage } from './message-receiver.js';

const opts = { maxHeaderBytes: 1024, spoolDir: tmpdir(), memoryBytes: 64, maxBytes: 10_000 };
const chunked = (text: string, size: number) => Readable.from(Array.from({ length: Math.ceil(text.length / size) }, (_, i) => Buffer.from(text.slice(i * size, (i + 1) * size))));
const read = async (r: Awaited<ReturnType<typeof receiveMessage>>) => {
  const parts: Buffer[] = [];
  for await (const c of r.body.stream()) parts.push(c as Buffer);
  await r.body.dispose();
  return Buffer.concat(parts).toString();
};

describe('receiveMessage', () => {
  const message = 'From: a@example.org\r\nSubject: x\r\n\r\nbody line 1\r\nbody line 2\r\n' + 'z'.repeat(200) + '\r\n';

  it('splits header and body the same way whatever the chunking, spilling large bodies to disk', async () => {
    for (const size of [1, 2, 3, 5, 64, 1000]) {
      const r = await receiveMessage(chunked(message, size), opts);
      expect(r.header.toString()).toBe('From: a@example.org\r\nSubject: x\r\n\r\n');
      expect(await read(r)).toBe(message.slice(r.header.length));
      expect(r.size).toBe(message.length);
      expect(r.bareNewline).toBe(false);
    }
  });

  it('finds a bare LF or CR even across chunk boundaries', async () => {
    for (const bad of ['a\nb', 'a\rb', 'a\n.\r\nb', 'end\r']) {
      for (const size of [1, 2, 7]) {
        const r = await receiveMessage(chunked(`Subject: x\r\n\r\n${bad}\r\n`.replace(/\r\n$/, bad.endsWith('\r') ? '' : '\r\n'), size), opts);
        expect(r.bareNewline, JSON.stringify(bad)).toBe(true);
        await r.body.dispose();
      }
    }
  });

  it('flags oversize headers and messages without keeping them', async () => {
    const big = await receiveMessage(chunked(`X-Big: ${'a'.repeat(2000)}\r\n\r\nbody\r\n`, 100), opts);
    expect(big.headerTooLarge).toBe(true);
    expect(big.header.length).toBeLessThanOrEqual(1024);
    await big.body.dispose();
    const huge = await receiveMessage(chunked(`Subject: x\r\n\r\n${'b'.repeat(20_000)}\r\n`, 500), opts);
    expect(huge.tooLarge).toBe(true);
    expect(huge.body.size).toBeLessThanOrEqual(10_000);
    await huge.body.dispose();
  });

  it('flags NUL bytes and lines over 998 characters across chunk boundaries, keeping no line', async () => {
    const limit = { ...opts, maxBytes: 100_000 };
    for (const size of [1, 3, 997, 1000]) {
      const at = await receiveMessage(chunked(`Subject: x\r\n\r\n${'a'.repeat(998)}\r\n${'b'.repeat(998)}`, size), limit);
      expect([at.longLine, at.nul]).toEqual([false, false]);
      await at.body.dispose();
      for (const text of [`Subject: x\r\n\r\n${'a'.repeat(999)}\r\n`, `Subject: ${'s'.repeat(990)}\r\n\r\nx\r\n`, `Subject: x\r\n\r\n${'c'.repeat(999)}`]) {
        const over = await receiveMessage(chunked(text, size), limit);
        expect(over.longLine, `${text.length} in chunks of ${size}`).toBe(true);
        await over.body.dispose();
      }
      const nul = await receiveMessage(chunked('Subject: x\r\n\r\nbefore\u0000after\r\n', size), limit);
      expect(nul.nul).toBe(true);
      await nul.body.dispose();
    }
  });

  it('accepts a message with an empty header section', async () => {
    const r = await receiveMessage(chunked('\r\nonly body\r\n', 3), opts);
    expect(r.header.toString()).toBe('\r\n');
    expect(await read(r)).toBe('only body\r\n');
  });
});
