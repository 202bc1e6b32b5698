import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, startImap, type ImapWorld } from './imap-harness.js';

describe('IMAP smoke', () => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap();
  });
  afterAll(async () => w.close());

  it('logs in, lists, appends, fetches', async () => {
    const c = await w.client();
    const list = await c.list();
    expect(list.map((m) => m.path).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    const r = await c.append('INBOX', message('hello'), ['\\Seen']);
    expect(r.uid).toBe(1);
    await c.mailboxOpen('INBOX');
    const m = await c.fetchOne('1', { envelope: true, source: true, flags: true, bodyStructure: true });
    expect(m.envelope.subject).toBe('hello');
    expect(m.source.toString()).toBe(message('hello'));
    await c.logout();
  });
});
