import { PassThrough } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ResponseWriter } from './response-writer.js';

describe('ResponseWriter', () => {
  it('gathers small writes and passes everything through in order', async () => {
    const sink = new PassThrough();
    const got: Buffer[] = [];
    sink.on('data', (d) => got.push(d));
    const w = new ResponseWriter(sink);
    for (let i = 0; i < 1000; i++) await w.line(`* ${i} EXISTS`);
    await w.flush();
    const text = Buffer.concat(got).toString();
    expect(text.split('\r\n').length).toBe(1001);
    expect(got.length).toBeLessThan(10);
  });

  it('after COMPRESS every flush is a complete deflate block the peer can decode at once', async () => {
    const sink = new PassThrough();
    const w = new ResponseWriter(sink);
    await w.line('a OK DEFLATE active');
    await w.flush();
    const clear = sink.read() as Buffer;
    expect(clear.toString()).toBe('a OK DEFLATE active\r\n');
    await w.startDeflate();
    // Nothing written yet: a flush must not put (even empty) compressed bytes on the wire.
    await w.flush();
    expect(sink.read()).toBeNull();
    const inflate = createInflateRaw();
    sink.pipe(inflate);
    let seen = '';
    let waiting: { test: () => boolean; resolve: () => void } | null = null;
    inflate.on('data', (d: Buffer) => {
      seen += d.toString();
      if (waiting?.test()) waiting.resolve();
    });
    // Resolves once the inflated text satisfies `test`; the peer never sends more, so only a complete
    // sync-flushed block can satisfy it.
    const decoded = (test: () => boolean) => new Promise<void>((resolve) => (test() ? resolve() : (waiting = { test, resolve })));
    for (let round = 0; round < 5; round++) {
      await w.line(`* ${round} EXISTS`);
      await w.flush();
      await decoded(() => seen.includes(`* ${round} EXISTS\r\n`));
    }
    const big = Buffer.alloc(1024 * 1024, 0x41);
    await w.write(big);
    await w.flush();
    await decoded(() => seen.length >= 1024 * 1024);
    expect(seen.endsWith('A'.repeat(1000))).toBe(true);
    w.close();
  });
});
