import { describe, expect, it } from 'vitest';
import { DavError } from './errors.js';
import { evaluateIf, parseIfHeader, submittedTokens } from './if-header.js';
import { evaluateConditional, parseEtagList } from './conditional.js';
import { parseRange } from './range.js';

const state = (etag: string | null, tokens: string[] = []) => async () => ({ etag, tokens: new Set(tokens) });

describe('If header', () => {
  it('parses untagged and tagged lists with Not, tokens and entity tags', () => {
    expect(parseIfHeader('(<opaquelocktoken:a> ["e1"]) (Not <DAV:no-lock> [W/"e2"])')).toEqual([
      { resource: null, conditions: [{ not: false, token: 'opaquelocktoken:a' }, { not: false, etag: '"e1"' }] },
      { resource: null, conditions: [{ not: true, token: 'DAV:no-lock' }, { not: false, etag: 'W/"e2"' }] },
    ]);
    expect(parseIfHeader('<http://h/dav/a> (<t1>) <http://h/dav/b> (NOT ["x]y"])')).toEqual([
      { resource: 'http://h/dav/a', conditions: [{ not: false, token: 't1' }] },
      { resource: 'http://h/dav/b', conditions: [{ not: true, etag: '"x]y"' }] },
    ]);
  });

  it('refuses malformed headers with 400', () => {
    for (const bad of ['', '(', '()', '(<a>', '<x>', 'garbage', '(<a>) <x> (<b>)', '([])', `(${'<t> '.repeat(300)})`]) {
      expect(() => parseIfHeader(bad), bad).toThrow(DavError);
    }
  });

  it('evaluates lists as litmus and RFC 4918 expect', async () => {
    const lock = 'opaquelocktoken:abc';
    const s = state('"e1"', [lock]);
    expect(await evaluateIf(parseIfHeader(`(<${lock}> ["e1"])`), s)).toBe(true);
    expect(await evaluateIf(parseIfHeader('(<DAV:no-lock> ["e1"])'), s)).toBe(false);
    expect(await evaluateIf(parseIfHeader(`(<${lock}x>) (Not <DAV:no-lock>)`), s)).toBe(true);
    expect(await evaluateIf(parseIfHeader(`(<${lock}> ["e2"]) (Not <DAV:no-lock> ["e2"])`), s)).toBe(false);
    expect(await evaluateIf(parseIfHeader('(Not ["e1"])'), s)).toBe(false);
    expect(submittedTokens(parseIfHeader(`(<${lock}x>) (Not <DAV:no-lock>)`))).toEqual(new Set([`${lock}x`]));
  });
});

describe('conditional requests', () => {
  const current = { etag: '"v1"', lastModified: new Date('2026-01-02T03:04:05Z') };
  it('answers If-Match, If-None-Match and the date conditions', () => {
    expect(evaluateConditional({ 'if-match': '"v1"' }, current, false)).toBe('proceed');
    expect(evaluateConditional({ 'if-match': '"v0", "v2"' }, current, false)).toBe('failed');
    expect(evaluateConditional({ 'if-match': '*' }, null, false)).toBe('failed');
    expect(evaluateConditional({ 'if-none-match': '*' }, current, false)).toBe('failed');
    expect(evaluateConditional({ 'if-none-match': '*' }, null, false)).toBe('proceed');
    expect(evaluateConditional({ 'if-none-match': 'W/"v1"' }, current, true)).toBe('not-modified');
    expect(evaluateConditional({ 'if-modified-since': current.lastModified.toUTCString() }, current, true)).toBe('not-modified');
    expect(evaluateConditional({ 'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' }, current, true)).toBe('proceed');
    expect(evaluateConditional({ 'if-unmodified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' }, current, false)).toBe('failed');
  });
  it('unescapes the entity tags Evolution sends', () => {
    expect(parseEtagList('\\"v1\\"')).toEqual(['"v1"']);
    expect(evaluateConditional({ 'if-match': '\\"v1\\"' }, current, false)).toBe('proceed');
  });
});

describe('Range', () => {
  it('parses single ranges and refuses unsatisfiable ones', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseRange('items=0-1', 100)).toBeNull();
    expect(parseRange('bytes=9-3', 100)).toBeNull();
  });
});
