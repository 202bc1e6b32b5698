import { describe, expect, it } from 'vitest';
import { UsageError } from '../args.js';
import { parseSource } from './legacy-source.js';

describe('parseSource', () => {
  it('reads imaps:// and imap:// with their default ports, as a canonical id', () => {
    expect(parseSource('imaps://Legacy.Sante.gouv.tg')).toEqual({
      id: 'imaps://legacy.sante.gouv.tg:993',
      host: 'legacy.sante.gouv.tg',
      port: 993,
      implicitTls: true,
    });
    expect(parseSource('imap://10.0.0.5:1143/')).toEqual({ id: 'imap://10.0.0.5:1143', host: '10.0.0.5', port: 1143, implicitTls: false });
    expect(parseSource('imaps://[::1]:9993').host).toBe('::1');
  });

  it('refuses other schemes, credentials and paths in the URL', () => {
    for (const bad of ['https://legacy', 'legacy:993', 'imaps://user:pass@legacy', 'imaps://legacy/INBOX', 'imaps://legacy?x=1']) {
      expect(() => parseSource(bad), bad).toThrow(UsageError);
    }
  });
});
