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
    const seen: string[] = [];
    inflate.on('data', (d: Buffer) => seen.push(d.toString()));
    for (let round = 0; round < 5; round++) {
      await w.line(`* ${round} EXISTS`);
      await w.flush();
      // Without Z_SYNC_FLUSH the peer would wait for more data; with it the line is readable now.
      for (let i = 0; i < 50 && !seen.join('').includes(`* ${round} EXISTS\r\n`); i++) await new Promise((r) => setImmediate(r));
      expect(seen.join('')).toContain(`* ${round} EXISTS\r\n`);
    }
    const big = Buffer.alloc(1024 * 1024, 0x41);
    await w.write(big);
    await w.flush();
    for (let i = 0; i < 200 && seen.join('').length < 1024 * 1024; i++) await new Promise((r) => setImmediate(r));
    expect(seen.join('').length).toBeGreaterThanOrEqual(1024 * 1024);
    w.close();
  });
});
