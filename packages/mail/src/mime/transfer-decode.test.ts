import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { canDecode, createTransferDecoder, decodeQp } from './transfer-decode.js';

async function decode(encoding: string, input: string | Buffer, chunkSize = 3): Promise<Buffer> {
  const bytes = Buffer.from(input);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) pieces.push(bytes.subarray(i, i + chunkSize));
  const out: Buffer[] = [];
  for await (const c of Readable.from(pieces).pipe(createTransferDecoder(encoding))) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('transfer decoding', () => {
  it('decodes base64 across chunk boundaries and line breaks, byte-exact', async () => {
    const blob = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
    const wrapped = blob.toString('base64').replace(/(.{76})/g, '$1\r\n');
    for (const size of [1, 3, 7, 100]) expect((await decode('base64', wrapped, size)).equals(blob)).toBe(true);
  });

  it('decodes quoted-printable with soft breaks, escapes split across chunks and padding', async () => {
    const qp = 'caf=C3=A9 =\r\nsuite  \r\nfin=3D';
    for (const size of [1, 2, 5]) expect((await decode('quoted-printable', qp, size)).toString()).toBe('café suite\r\nfin=');
    expect(decodeQp(Buffer.from('a=ZZb=')).toString()).toBe('a=ZZb=');
  });

  it('passes 7bit/8bit/binary through and knows what it cannot decode', async () => {
    expect((await decode('8bit', 'é\u0000x')).toString()).toBe('é\u0000x');
    expect(canDecode('x-uuencode')).toBe(false);
    expect(canDecode('BASE64')).toBe(true);
  });
});
