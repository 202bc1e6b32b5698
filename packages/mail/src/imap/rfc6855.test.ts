import { describe, expect, it } from 'vitest';
import { downgradeRendered } from './rfc6855.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('RFC 6855 downgrade of rendered strings', () => {
  it('turns UTF-8 literals into 7-bit encoded-words and leaves the rest as rendered', () => {
    const subject = 'Réunion à Lomé';
    const env = `("Mon, 3 Mar 2025" {${Buffer.byteLength(subject)}}\r\n${subject} (("Awa" NIL "awa" "sante.gouv.tg")) {5}\r\nab{1}c NIL)`;
    expect(downgradeRendered(env)).toBe(`("Mon, 3 Mar 2025" "=?utf-8?b?${b64(subject)}?=" (("Awa" NIL "awa" "sante.gouv.tg")) {5}\r\nab{1}c NIL)`);
    expect(downgradeRendered('("plain" NIL)')).toBe('("plain" NIL)');
  });

  it('counts literal bytes, not characters (4-byte characters too), and splits long text into words of at most 75 characters', () => {
    const text = '😀é'.repeat(40);
    const out = downgradeRendered(`({${Buffer.byteLength(text)}}\r\n${text} "après")`);
    expect(out).toMatch(/^\("(=\?utf-8\?b\?[A-Za-z0-9+/=]+\?= ?)+" "après"\)$/);
    const words = out.slice(2, out.indexOf('" "')).split(' ');
    expect(words.every((w) => w.length <= 75)).toBe(true);
    const decoded = words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString()).join('');
    expect(decoded).toBe(text);
  });
});
