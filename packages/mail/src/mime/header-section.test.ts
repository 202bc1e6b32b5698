import { describe, expect, it } from 'vitest';
import { HeaderSection } from './header-section.js';

describe('HeaderSection', () => {
  const raw = Buffer.from('From: "Awa D." <Awa@Sante.gouv.tg>\r\nSubject: two\r\n\tlines\r\nX-Junk\r\nBcc: a@b.example\r\nDKIM-Signature: v=1;\r\n b=abc\r\n\r\n');

  it('parses folded fields and keeps their raw bytes', () => {
    const h = HeaderSection.parse(raw);
    expect(h.terminated).toBe(true);
    expect(h.get('subject')).toBe('two\tlines'); // RFC 5322 §2.2.3: unfolding removes the line end only
    expect(h.get('dkim-signature')).toBe('v=1; b=abc');
    expect(h.toBuffer().equals(raw)).toBe(true);
    expect(h.toBuffer((f) => f.name === 'bcc').toString()).not.toMatch(/Bcc/);
    expect(h.toBuffer((f) => f.name === 'bcc').toString()).toContain('X-Junk\r\n');
  });

  it('ends an unterminated section with an empty line when written back', () => {
    const h = HeaderSection.parse(Buffer.from('Subject: no body'));
    expect(h.terminated).toBe(false);
    expect(h.toBuffer().toString()).toBe('Subject: no body\r\n\r\n');
  });
});
