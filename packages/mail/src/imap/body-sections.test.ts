import { describe, expect, it } from 'vitest';
import { analyzeMessage } from '../mime/analyze.js';
import { findPart, sectionRange } from './body-sections.js';

const RAW = [
  'Subject: outer',
  'Content-Type: multipart/mixed; boundary=o',
  '',
  '--o',
  'Content-Type: text/plain',
  '',
  'first',
  '--o',
  'Content-Type: message/rfc822',
  '',
  'Subject: inner',
  'Content-Type: multipart/alternative; boundary=i',
  '',
  '--i',
  'Content-Type: text/plain',
  '',
  'inner plain',
  '--i',
  'Content-Type: text/html',
  '',
  '<b>inner</b>',
  '--i--',
  '--o--',
  '',
].join('\r\n');

describe('body sections', async () => {
  const a = await analyzeMessage(RAW);
  const root = a.data.parts;
  const text = (path: number[], t: Parameters<typeof sectionRange>[3]) => {
    const r = sectionRange(root, a.size, path, t);
    return r.kind === 'range' ? RAW.slice(r.start, r.end) : null;
  };

  it('numbers parts through multiparts and message/rfc822 (RFC 9051 §6.4.5 example layout)', () => {
    expect(text([1], null)).toBe('first');
    expect(text([2, 1], null)).toBe('inner plain');
    expect(text([2, 2], null)).toBe('<b>inner</b>');
    expect(text([2], 'HEADER')).toBe('Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n');
    expect(text([2], 'TEXT')!.startsWith('--i\r\n')).toBe(true);
    expect(text([2], 'MIME')).toBe('Content-Type: message/rfc822\r\n\r\n');
    expect(text([], 'TEXT')!.startsWith('--o')).toBe(true);
    expect(text([], null)).toBe(RAW);
    expect(text([3], null)).toBeNull();
    expect(text([1], 'HEADER')).toBeNull();
    expect(findPart(root, [2, 2, 1])?.t).toBe('text/html');
  });

  it('treats a single-part message body as part 1', async () => {
    const single = await analyzeMessage('Subject: s\r\n\r\nbody\r\n');
    const r = sectionRange(single.data.parts, single.size, [1], null);
    expect(r.kind === 'range' && [r.start, r.end]).toEqual([14, 20]);
    expect(sectionRange(single.data.parts, single.size, [2], null).kind).toBe('missing');
  });
});
