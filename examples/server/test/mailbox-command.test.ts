import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeSite, siteKinds, type Site } from './helpers.js';

describe.each(siteKinds)('palabre mailbox on %s', (kind) => {
  let site: Site;
  beforeEach(async () => {
    site = await makeSite(kind);
    expect((await site.run('domain', 'add', 'sante.gouv.tg')).code).toBe(0);
    for (const u of ['secretariat', 'awa', 'kofi']) expect((await site.run('user', 'add', `${u}@sante.gouv.tg`, '--password', 'a-long-enough-password')).code).toBe(0);
    expect((await site.run('group', 'add', 'accueil', '--domain', 'sante.gouv.tg')).code).toBe(0);
    expect((await site.run('group', 'member', 'add', 'accueil', 'awa@sante.gouv.tg')).code).toBe(0);
  });
  afterEach(async () => site.cleanup());

  it('shares a functional mailbox with a group and a person, lists it, and takes it back', async () => {
    const share = await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'INBOX', 'group:accueil', 'lrswited');
    expect(share.code).toBe(0);
    expect(share.out).toBe('group:accueil now has "lrswixte" on secretariat@sante.gouv.tg/INBOX (Shared/secretariat@sante.gouv.tg/INBOX in mail apps)');
    expect((await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'inbox', 'kofi@sante.gouv.tg', 'lr')).code).toBe(0);
    const list = await site.run('mailbox', 'list', 'secretariat@sante.gouv.tg');
    const inbox = list.out.split('\n').find((l) => l.startsWith('INBOX'))!;
    expect(inbox).toContain('group:accueil:lrswixte');
    expect(inbox).toContain('kofi@sante.gouv.tg:lr');
    expect(list.out).toMatch(/^Sent\s+\\Sent\s+0\s+0/m);
    expect((await site.run('mailbox', 'unshare', 'secretariat@sante.gouv.tg', 'INBOX', 'kofi@sante.gouv.tg')).out).toBe('kofi@sante.gouv.tg no longer has access to secretariat@sante.gouv.tg/INBOX');
    expect((await site.run('mailbox', 'list', 'secretariat@sante.gouv.tg')).out).not.toContain('kofi');
    expect((await site.run('audit', '--type', 'mailbox.shared')).out).toContain('secretariat@sante.gouv.tg/INBOX');
  });

  it('refuses unknown rights, mailboxes, grantees and sharing with the owner', async () => {
    expect((await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'INBOX', 'anyone', 'lrz')).code).toBe(2);
    expect((await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'Nope', 'anyone', 'lr')).code).toBe(2);
    expect((await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'INBOX', 'nobody@sante.gouv.tg', 'lr')).code).not.toBe(0);
    expect((await site.run('mailbox', 'share', 'secretariat@sante.gouv.tg', 'INBOX', 'secretariat@sante.gouv.tg', 'lr')).code).toBe(2);
    expect((await site.run('mailbox', 'share', 'nobody@sante.gouv.tg', 'INBOX', 'anyone', 'lr')).code).not.toBe(0);
    expect((await site.run('mailbox', 'bogus')).code).toBe(2);
  });
});
