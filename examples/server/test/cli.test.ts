import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeSite, siteKinds, type Site } from './helpers.js';
import { openContext } from '../src/context.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '@palabre/core';

describe.each(siteKinds)('palabre administration commands on %s', (kind) => {
  let site: Site;
  beforeEach(async () => {
    site = await makeSite(kind);
  });
  afterEach(async () => site.cleanup());

  it('adds, lists and removes domains, IDNs included, with clear refusals', async () => {
    expect(await site.run('domain', 'add', 'sante.gouv.tg', '--quota', '5G')).toMatchObject({ code: 0, out: 'domain sante.gouv.tg added' });
    expect((await site.run('domain', 'add', 'ministère.gouv.tg')).out).toBe('domain xn--ministre-60a.gouv.tg added (ministère.gouv.tg)');
    const list = await site.run('domain', 'list');
    expect(list.out).toMatch(/sante\.gouv\.tg\s+0\s+5 GiB/);
    expect(list.out).toContain('xn--ministre-60a.gouv.tg');
    expect(await site.run('domain', 'add', 'SANTE.gouv.tg')).toMatchObject({ code: 1, err: expect.stringContaining('already exists') });
    expect(await site.run('domain', 'add', 'not a domain')).toMatchObject({ code: 1, err: expect.stringContaining('invalid domain') });
    expect(await site.run('domain', 'add', '--', '-x.tg')).toMatchObject({ code: 1, err: expect.stringContaining('invalid domain label') });
    expect(await site.run('domain', 'alias', 'add', 'sante.gouv.tg', 'ms.gouv.tg')).toMatchObject({ code: 0 });
    expect((await site.run('domain', 'list')).out).toContain('ms.gouv.tg');
    expect(await site.run('domain', 'remove', 'xn--ministre-60a.gouv.tg')).toMatchObject({ code: 0 });
    expect(await site.run('domain', 'frobnicate')).toMatchObject({ code: 2 });
    expect(await site.run('domain', 'add')).toMatchObject({ code: 2, err: expect.stringContaining('missing domain name') });
  });

  it('manages accounts end to end', async () => {
    await site.run('domain', 'add', 'sante.gouv.tg', '--quota', '1G');
    const added = await site.run('user', 'add', 'Awa.Diallo@sante.gouv.tg', '--name', 'Awa Diallo', '--department', 'DRH', '--password', 'Le soleil de Lomé 2026');
    expect(added).toMatchObject({ code: 0, out: 'account awa.diallo@sante.gouv.tg added (quota 1 GiB)' });
    const generated = await site.run('user', 'add', 'kofi@sante.gouv.tg', '--quota', '500M');
    expect(generated.code).toBe(0);
    const password = /password: (\S+)/.exec(generated.out)?.[1];
    expect(password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);

    // The generated password really signs in.
    const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
    try {
      const ok = await ctx.authenticator.verifyPassword('kofi@sante.gouv.tg', password!, { protocol: 'cli', secure: true });
      expect(ok.ok).toBe(true);
    } finally {
      await ctx.close();
    }

    const list = await site.run('user', 'list');
    expect(list.out).toMatch(/awa\.diallo@sante\.gouv\.tg\s+Awa Diallo\s+DRH\s+active\s+1 GiB\s+never/);
    expect(list.out).toMatch(/kofi@sante\.gouv\.tg\s+kofi\s+active\s+500 MiB/);
    expect((await site.run('user', 'suspend', 'kofi@sante.gouv.tg')).out).toContain('suspended');
    expect((await site.run('user', 'show', 'kofi@sante.gouv.tg')).out).toContain('status:      suspended');
    expect((await site.run('user', 'unsuspend', 'kofi@sante.gouv.tg')).code).toBe(0);
    expect((await site.run('user', 'quota', 'kofi@sante.gouv.tg', 'unlimited')).out).toContain('unlimited');
    // RFC 9208 MESSAGE and MAILBOX limits beside the storage one; a limit not named stays as it was.
    expect((await site.run('user', 'quota', 'kofi@sante.gouv.tg', '--messages', '10000', '--mailboxes', '200')).out).toBe(
      'quota of kofi@sante.gouv.tg: unlimited, 10000 messages, 200 mailboxes',
    );
    expect((await site.run('user', 'quota', 'kofi@sante.gouv.tg', '2G', '--mailboxes', 'unlimited')).out).toBe('quota of kofi@sante.gouv.tg: 2 GiB, 10000 messages, unlimited mailboxes');
    expect((await site.run('user', 'show', 'kofi@sante.gouv.tg')).out).toContain('quota:       2 GiB, 10000 messages, unlimited mailboxes');
    expect(await site.run('user', 'quota', 'kofi@sante.gouv.tg')).toMatchObject({ code: 2, err: expect.stringContaining('a size, --messages or --mailboxes is required') });
    expect(await site.run('user', 'quota', 'kofi@sante.gouv.tg', '--messages', 'lots')).toMatchObject({ code: 2, err: expect.stringContaining('not a message limit') });
    expect((await site.run('user', 'show', 'kofi@sante.gouv.tg')).out).toContain('10000 messages');
    expect((await site.run('domain', 'add', 'limits.gouv.tg', '--messages', '5000', '--mailboxes', '100')).code).toBe(0);
    expect((await site.run('user', 'add', 'ama@limits.gouv.tg', '--no-password')).code).toBe(0);
    expect((await site.run('user', 'show', 'ama@limits.gouv.tg')).out).toContain('quota:       unlimited, 5000 messages, 100 mailboxes');
    expect(await site.run('user', 'passwd', 'kofi@sante.gouv.tg', '--password', 'short')).toMatchObject({ code: 1, err: expect.stringContaining('at least 12 characters') });
    expect((await site.run('user', 'passwd', 'kofi@sante.gouv.tg', '--password', 'A much longer passphrase')).code).toBe(0);
    expect((await site.run('user', 'remove', 'kofi@sante.gouv.tg')).code).toBe(0);
    expect(await site.run('user', 'show', 'kofi@sante.gouv.tg')).toMatchObject({ code: 1, err: 'palabre: no account kofi@sante.gouv.tg' });
    const audit = await site.run('audit', '--limit', '50');
    for (const event of ['account.created', 'account.suspended', 'password.changed', 'account.removed']) expect(audit.out).toContain(event);
  });

  it('refuses bad input without creating anything', async () => {
    await site.run('domain', 'add', 'sante.gouv.tg');
    const cases: [string[], RegExp][] = [
      [['user', 'add', 'awa@sante.gouv.tg', '--password', ''], /password refused/],
      [['user', 'add', 'awa@sante.gouv.tg', '--password', 'x'.repeat(1_000_000)], /password refused/],
      [['user', 'add', 'awa@sante.gouv.tg', '--password', 'password1234'], /too easy/],
      [['user', 'add', 'awa@elsewhere.tg', '--password', 'A long enough passphrase'], /not hosted here/],
      [['user', 'add', 'a b@sante.gouv.tg'], /invalid/],
      [['user', 'add', '"x"@sante.gouv.tg'], /invalid/],
      [['user', 'add', 'x@sante.gouv.tg\r\nRCPT TO:<evil@x.tg>'], /invalid/],
      [['user', 'add', `${'a'.repeat(70)}@sante.gouv.tg`], /64 octets/],
      [['user', 'add', 'awa@sante.gouv.tg', '--quota', 'lots'], /not a size/],
      [['user', 'add', 'awa@sante.gouv.tg', '--nonsense'], /Unknown option/],
    ];
    for (const [argv, message] of cases) {
      const r = await site.run(...argv);
      expect(r.code, argv.join(' ').slice(0, 80)).not.toBe(0);
      expect(r.err).toMatch(message);
    }
    expect((await site.run('user', 'list')).out.split('\n')).toHaveLength(1);
    expect(await site.run('user', 'add', 'awa@sante.gouv.tg', '--password', 'A long enough passphrase')).toMatchObject({ code: 0 });
    expect(await site.run('user', 'add', 'AWA@sante.gouv.tg', '--password', 'A long enough passphrase')).toMatchObject({ code: 1, err: expect.stringContaining('already in use') });
  });

  it('manages groups, nested groups, aliases and app passwords', async () => {
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', 'awa@sante.gouv.tg', '--password', 'A long enough passphrase');
    await site.run('user', 'add', 'kofi@sante.gouv.tg', '--password', 'Another long passphrase');
    expect((await site.run('group', 'add', 'sante', '--domain', 'sante.gouv.tg', '--address', 'tous@sante.gouv.tg')).out).toContain('reaches every member');
    expect((await site.run('group', 'add', 'sante-drh', '--domain', 'sante.gouv.tg')).code).toBe(0);
    expect((await site.run('group', 'member', 'add', 'sante', '--group', 'sante-drh')).code).toBe(0);
    expect((await site.run('group', 'member', 'add', 'sante-drh', 'awa@sante.gouv.tg')).code).toBe(0);
    expect((await site.run('group', 'member', 'add', 'sante', 'kofi@sante.gouv.tg')).code).toBe(0);
    expect(await site.run('group', 'member', 'add', 'sante-drh', '--group', 'sante')).toMatchObject({ code: 1, err: expect.stringContaining('cannot contain itself') });
    expect((await site.run('group', 'members', 'sante')).out.split('\n')).toEqual(['group sante-drh', 'kofi@sante.gouv.tg']);
    expect((await site.run('group', 'list')).out).toMatch(/sante\s+tous@sante\.gouv\.tg\s+2/);
    expect((await site.run('group', 'member', 'remove', 'sante', 'kofi@sante.gouv.tg')).code).toBe(0);

    expect((await site.run('alias', 'add', 'secretariat@sante.gouv.tg', 'awa@sante.gouv.tg')).out).toBe('mail to secretariat@sante.gouv.tg now reaches awa@sante.gouv.tg');
    expect(await site.run('alias', 'add', 'tous@sante.gouv.tg', 'awa@sante.gouv.tg')).toMatchObject({ code: 1, err: expect.stringContaining('already in use') });
    expect((await site.run('alias', 'list', 'awa@sante.gouv.tg')).out).toBe('secretariat@sante.gouv.tg');
    expect((await site.run('alias', 'remove', 'secretariat@sante.gouv.tg')).code).toBe(0);

    expect(await site.run('app-password', 'add', 'awa@sante.gouv.tg')).toMatchObject({ code: 2 });
    const issued = await site.run('app-password', 'add', 'awa@sante.gouv.tg', '--label', 'iPhone Awa');
    const secret = /^\s+([a-z2-7]{4}(?:-[a-z2-7]{4}){4})$/m.exec(issued.out)?.[1];
    expect(secret).toBeDefined();
    expect((await site.run('app-password', 'list', 'awa@sante.gouv.tg')).out).toMatch(/app-password\s+iPhone Awa\s+\S+ \S+\s+never/);
    const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
    try {
      expect(await ctx.authenticator.verifyPassword('awa@sante.gouv.tg', secret!, { protocol: 'imap', secure: true })).toMatchObject({ ok: true, method: 'app-password' });
    } finally {
      await ctx.close();
    }
    expect((await site.run('app-password', 'revoke', 'awa@sante.gouv.tg', 'iPhone Awa')).code).toBe(0);
    expect((await site.run('app-password', 'list', 'awa@sante.gouv.tg')).out.split('\n')).toHaveLength(1);
    expect((await site.run('group', 'remove', 'sante')).code).toBe(0);
  });

  it('doctor checks the configuration and certificate without DNS', async () => {
    const r = await site.run('doctor', '--no-dns');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok {4}TLS: certificate names localhost/);
    expect(r.out).toMatch(/warn {2}TLS: self-signed certificate/);
    expect(r.out).toMatch(/warn {2}config: hostname is localhost/);
    expect(r.out).toMatch(/\d+ to fix, \d+ to consider, \d+ fine$/);
    expect(await site.run('doctor', '--resolver', 'not-an-ip')).toMatchObject({ code: 2 });
  });

  it('manages group folders of the drive', async () => {
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', 'awa@sante.gouv.tg', '--password', 'A long enough passphrase');
    await site.run('group', 'add', 'sante-drh', '--domain', 'sante.gouv.tg');
    expect(await site.run('drive', 'folder', 'add', 'nobody')).toMatchObject({ code: 1, err: expect.stringContaining('no group nobody') });
    expect((await site.run('drive', 'folder', 'add', 'sante-drh', '--access', 'read', '--quota', '10G')).out).toBe(
      'group folder sante-drh added: members of sante-drh can read /dav/files/sante-drh/',
    );
    expect(await site.run('drive', 'folder', 'add', 'sante-drh')).toMatchObject({ code: 1 });
    expect((await site.run('drive', 'folder', 'grant', 'sante-drh', 'awa@sante.gouv.tg', 'write')).out).toBe('awa@sante.gouv.tg now has write access to sante-drh');
    expect((await site.run('drive', 'folder', 'list')).out).toMatch(/sante-drh\s+0 B of 10 GiB\s+awa@sante\.gouv\.tg:write, group sante-drh:read/);
    expect((await site.run('drive', 'folder', 'grant', 'sante-drh', '--group', 'sante-drh', 'none')).code).toBe(0);
    expect((await site.run('drive', 'folder', 'list')).out).not.toContain('group sante-drh:');
    expect(await site.run('drive', 'folder', 'grant', 'sante-drh', 'awa@sante.gouv.tg', 'admin')).toMatchObject({ code: 2 });
    expect((await site.run('drive', 'folder', 'remove', 'sante-drh')).code).toBe(0);
    expect(await site.run('drive', 'folder', 'remove', 'sante-drh')).toMatchObject({ code: 1, err: expect.stringContaining('no group folder') });
  });

  it('reports the schema state with migrate', async () => {
    const r = await site.run('migrate');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/applied Directory\d+/);
    expect(r.out).toMatch(/schema up to date/);
    expect((await site.run('migrate')).out).not.toContain('applied');
  });
});

describe('palabre usage', () => {
  it('prints help and refuses unknown commands with exit code 2', async () => {
    const site = await makeSite('sqlite');
    try {
      expect(await site.run('help')).toMatchObject({ code: 0, out: expect.stringContaining('palabre serve') });
      expect(await site.run('launch-missiles')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command') });
      expect(await site.run('serve', '--http-port', '99999')).toMatchObject({ code: 2, err: expect.stringContaining('port number') });
    } finally {
      await site.cleanup();
    }
  });
});
