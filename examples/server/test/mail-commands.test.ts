import { createPublicKey, verify, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '@palabre/core';
import { createMailTransportStores } from '@palabre/core/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { dkimCommand } from '../src/commands/dkim.js';
import { activatePublishedKeys } from '../src/dkim-publication.js';
import { capture, makeSite, siteKinds, type Site } from './helpers.js';

describe.each(siteKinds)('palabre dkim and vacation on %s', (kind) => {
  let site: Site;
  beforeEach(async () => {
    site = await makeSite(kind);
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('user', 'add', 'awa@sante.gouv.tg', '--password', 'Le soleil de Lomé 2026');
  });
  afterEach(async () => site.cleanup());

  it('seals DKIM keys with the configured key file, rotates to a fresh selector, and refuses a loose key file', async () => {
    expect((await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 'clear')).code).toBe(0);
    const keyFile = join(site.dataDir, '..', `secret-${process.pid}-${Date.now()}.key`);
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ secrets: { keyFile } }));
    try {
      const sealed = await site.run('dkim', 'seal');
      expect(sealed).toMatchObject({ code: 0, out: expect.stringMatching(/^1 DKIM private key sealed with key [0-9a-f]{12}/) });
      const rotated = await site.run('dkim', 'rotate', 'sante.gouv.tg');
      expect(rotated.code, rotated.err).toBe(0);
      expect(rotated.out).toMatch(/DKIM key palabre\d{8} made for sante\.gouv\.tg \(rsa-sha256\), pending, sealed in the database: it does not sign until its DNS record is published/);
      expect(rotated.out).toContain('The current key clear signs until then.');
      const again = await site.run('dkim', 'rotate', 'sante.gouv.tg', '--algorithm', 'ed25519');
      expect(again.out).toMatch(/DKIM key palabre\d{8}-2 made/);
      // --force activates without the DNS check; the pending key opens (it is sealed like the others).
      const forced = await site.run('dkim', 'activate', 'sante.gouv.tg', '--force');
      expect(forced.out).toMatch(/DKIM key palabre\d{8}-2 of sante\.gouv\.tg signs from now on \(its DNS record was not checked\)/);
      const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
      try {
        const key = await createMailTransportStores(ctx.db, { secrets: ctx.secrets }).dkimKeys.active('sante.gouv.tg');
        expect(key?.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
        const rows = (await ctx.db.run((m) => m.query('SELECT private_key FROM dkim_keys'), 'test')) as { private_key: string }[];
        expect(rows).toHaveLength(3);
        expect(rows.every((r) => r.private_key.startsWith('sealed:v1:'))).toBe(true);
      } finally {
        await ctx.close();
      }
      // Without the key file the sealed keys are not usable, and the CLI says so.
      await writeFile(join(site.dataDir, 'palabre.json'), '{}');
      expect(await site.run('dkim', 'show', 'sante.gouv.tg')).toMatchObject({ code: 1, err: expect.stringContaining('sealed: configure secrets.keyFile') });
      // A key file others can read is refused before anything is opened.
      await chmod(keyFile, 0o644);
      await writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ secrets: { keyFile } }));
      expect(await site.run('dkim', 'list')).toMatchObject({ code: 1, err: expect.stringContaining('readable by other users') });
    } finally {
      await rm(keyFile, { force: true });
    }
  });

  it('replaces the secret key file: the old one only opens, dkim seal moves every key under the new one, doctor says when the old one can go', async () => {
    const oldKey = join(site.dataDir, '..', `old-${process.pid}-${Date.now()}.key`);
    const newKey = join(site.dataDir, '..', `new-${process.pid}-${Date.now()}.key`);
    await writeFile(oldKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await writeFile(newKey, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const config = (secrets: object) => writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ secrets }));
    const stored = async () => {
      const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
      try {
        return ((await ctx.db.run((m) => m.query('SELECT private_key FROM dkim_keys ORDER BY selector'), 'test')) as { private_key: string }[]).map((r) => r.private_key);
      } finally {
        await ctx.close();
      }
    };
    try {
      await config({ keyFile: oldKey });
      expect((await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 'a')).code).toBe(0);
      expect((await site.run('dkim', 'rotate', 'sante.gouv.tg')).code).toBe(0);
      const before = await stored();
      const oldId = before[0]!.split(':')[2];
      // The new key alone cannot open what the old one sealed: nothing is guessed.
      await config({ keyFile: newKey });
      expect(await site.run('dkim', 'show', 'sante.gouv.tg')).toMatchObject({ code: 1, err: expect.stringContaining(`sealed under key ${oldId}`) });
      // A previous key file others can read is refused like the current one.
      await chmod(oldKey, 0o640);
      await config({ keyFile: newKey, previousKeyFiles: [oldKey] });
      expect(await site.run('dkim', 'list')).toMatchObject({ code: 1, err: expect.stringContaining('secrets.previousKeyFiles: ') });
      await chmod(oldKey, 0o600);
      // During the rotation both open; doctor points at what is still under the old key.
      expect((await site.run('dkim', 'show', 'sante.gouv.tg')).code).toBe(0);
      const during = await site.run('doctor', '--no-dns');
      expect(during.out).toContain('2 DKIM private keys are sealed under a previous secret key, not secrets.keyFile');
      const sealed = await site.run('dkim', 'seal');
      expect(sealed).toMatchObject({ code: 0, out: expect.stringMatching(/^2 DKIM private keys sealed with key [0-9a-f]{12}/) });
      const newId = sealed.out.match(/with key ([0-9a-f]{12})/)![1]!;
      expect(newId).not.toBe(oldId);
      const after = await stored();
      expect(after.every((v) => v.startsWith(`sealed:v1:${newId}:`))).toBe(true);
      expect(await site.run('dkim', 'seal')).toMatchObject({ code: 0, out: expect.stringMatching(/^0 DKIM private keys sealed/) });
      expect((await site.run('doctor', '--no-dns')).out).toContain('secrets.previousKeyFiles is no longer needed');
      // The old key file can go: the new one alone opens everything, the old one alone nothing.
      await config({ keyFile: newKey });
      expect((await site.run('dkim', 'show', 'sante.gouv.tg')).code).toBe(0);
      await config({ keyFile: oldKey });
      expect(await site.run('dkim', 'show', 'sante.gouv.tg')).toMatchObject({ code: 1, err: expect.stringContaining(`not the configured ${oldId}`) });
    } finally {
      await rm(oldKey, { force: true });
      await rm(newKey, { force: true });
    }
  });

  it('rotates by publish then activate: the new key is pending, signs only once its TXT record resolves and matches', async () => {
    expect((await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 'old')).code).toBe(0);
    const rotated = await site.run('dkim', 'rotate', 'sante.gouv.tg', '--algorithm', 'ed25519');
    expect(rotated.code, rotated.err).toBe(0);
    const selector = /DKIM key (palabre\d{8}) made/.exec(rotated.out)![1]!;
    const record = /value: (v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+)/.exec(rotated.out)![1]!;
    expect(rotated.out).toContain(`palabre dkim activate sante.gouv.tg ${selector}`);
    const states = async () => (await site.run('dkim', 'list')).out;
    expect(await states()).toMatch(new RegExp(`${selector}\\s+ed25519-sha256\\s+pending`));
    expect(await states()).toMatch(/old\s+rsa-sha256\s+signing/);
    expect((await site.run('dkim', 'show', 'sante.gouv.tg')).out).toContain(`Pending key ${selector}`);

    // The DNS as the test says it is: the name answers what `zone` holds, or NXDOMAIN.
    const zone = new Map<string, string[][]>();
    const asked: string[] = [];
    const resolver = {
      async resolveTxt(name: string) {
        asked.push(name);
        const got = zone.get(name);
        if (!got) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
        return got;
      },
    };
    const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
    const keys = createMailTransportStores(ctx.db, { secrets: ctx.secrets }).dkimKeys;
    const activate = async (...argv: string[]) => {
      const io = capture();
      const code = await dkimCommand(ctx, ['activate', 'sante.gouv.tg', ...argv], io, resolver);
      return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
    };
    try {
      const name = `${selector}._domainkey.sante.gouv.tg`;
      const missing = await activate();
      expect(missing.code).toBe(1);
      expect(missing.err).toContain(`no TXT record at ${name} yet`);
      expect(asked).toEqual([name]);
      expect((await keys.active('sante.gouv.tg'))!.selector).toBe('old');
      // A record with another key (a typo, the old key copied) is not this one.
      zone.set(name, [[record.replace(/p=.{8}/, 'p=AAAAAAAA')]]);
      expect((await activate(selector)).err).toContain('holds another key');
      zone.set(name, [[record.replace('k=ed25519', 'k=rsa')]]);
      expect((await activate(selector)).code).toBe(1);
      expect(await states()).toMatch(new RegExp(`${selector}\\s+ed25519-sha256\\s+pending`));
      // Published (split in 255-byte strings as a zone may hold it, with spaces): activated, the old key retired.
      zone.set(name, [['v=DKIM1; k=ed25519; ', `p=${record.split('p=')[1]!.slice(0, 10)} ${record.split('p=')[1]!.slice(10)}`]]);
      const ok = await activate();
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out).toContain(`DKIM key ${selector} of sante.gouv.tg signs from now on, its DNS record checked`);
      expect(ok.out).toContain('The previous key old is retired');
      expect((await keys.active('sante.gouv.tg'))!.selector).toBe(selector);
      expect(await states()).toMatch(/old\s+rsa-sha256\s+retired/);
      await expect(activate()).rejects.toThrow('no pending DKIM key for sante.gouv.tg');

      // The background job activates a pending key once its record resolves, not before.
      const next = await site.run('dkim', 'rotate', 'sante.gouv.tg', '--algorithm', 'rsa');
      const nextSelector = /DKIM key (palabre\d{8}-2) made/.exec(next.out)![1]!;
      const nextRecord = /value: (v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+)/.exec(next.out)![1]!;
      expect(await activatePublishedKeys(keys, resolver, silentLogger)).toBe(0);
      expect((await keys.active('sante.gouv.tg'))!.selector).toBe(selector);
      zone.set(`${nextSelector}._domainkey.sante.gouv.tg`, [[nextRecord]]);
      expect(await activatePublishedKeys(keys, resolver, silentLogger)).toBe(1);
      expect((await keys.active('sante.gouv.tg'))!.selector).toBe(nextSelector);
      expect(await activatePublishedKeys(keys, resolver, silentLogger)).toBe(0);
    } finally {
      await ctx.close();
    }
    expect(await site.run('dkim', 'activate', 'sante.gouv.tg', 'nosuch')).toMatchObject({ code: 2, err: expect.stringContaining('no DKIM key nosuch') });
  });

  it('makes a DKIM key, prints the DNS record that matches it, and rotates', async () => {
    const made = await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 's2026');
    expect(made.code).toBe(0);
    expect(made.out).toContain('name:  s2026._domainkey.sante.gouv.tg');
    const p = /value: v=DKIM1; k=rsa; p=([A-Za-z0-9+/=]+)/.exec(made.out)?.[1];
    expect(p).toBeTruthy();
    const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
    try {
      const key = await createMailTransportStores(ctx.db).dkimKeys.active('sante.gouv.tg');
      // The published key verifies what the stored private key signs.
      const signature = sign('sha256', Buffer.from('hello'), createPrivateKey(key!.privateKeyPem));
      expect(verify('sha256', Buffer.from('hello'), createPublicKey({ key: Buffer.from(p!, 'base64'), format: 'der', type: 'spki' }), signature)).toBe(true);
    } finally {
      await ctx.close();
    }
    expect((await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 's2027', '--algorithm', 'ed25519')).out).toMatch(/k=ed25519; p=/);
    const list = await site.run('dkim', 'list');
    expect(list.out).toMatch(/s2027\s+ed25519-sha256\s+signing/);
    expect(list.out).toMatch(/s2026\s+rsa-sha256\s+retired/);
    expect(await site.run('dkim', 'generate', 'elsewhere.example')).toMatchObject({ code: 2, err: expect.stringContaining('not a hosted domain') });
    expect(await site.run('dkim', 'generate', 'sante.gouv.tg', '--selector', 'bad selector')).toMatchObject({ code: 1 });
    expect(await site.run('dkim', 'remove', 'sante.gouv.tg', 's2026')).toMatchObject({ code: 0 });
  });

  it('sets, shows and turns off an out-of-office reply', async () => {
    const set = await site.run('vacation', 'set', 'awa@sante.gouv.tg', '--subject', 'Absente', '--message', 'De retour le 12.\\nMerci.', '--until', '2030-03-12', '--days', '3');
    expect(set.code).toBe(0);
    expect(set.out).toMatch(/on for awa@sante\.gouv\.tg until 2030-03-1[12]/);
    expect(set.out).toContain('every 3 day(s)');
    const shown = await site.run('vacation', 'show', 'awa@sante.gouv.tg');
    expect(shown.out).toMatch(/state:\s+on/);
    expect(shown.out).toContain('De retour le 12.\nMerci.');
    expect((await site.run('vacation', 'off', 'awa@sante.gouv.tg')).code).toBe(0);
    expect((await site.run('vacation', 'show', 'awa@sante.gouv.tg')).out).toMatch(/state:\s+off/);
    expect(await site.run('vacation', 'set', 'awa@sante.gouv.tg', '--subject', 'x')).toMatchObject({ code: 2 });
    expect(await site.run('vacation', 'set', 'awa@sante.gouv.tg', '--subject', 'x', '--message', 'y', '--until', 'someday')).toMatchObject({ code: 2 });
    expect(await site.run('vacation', 'set', 'nobody@sante.gouv.tg', '--subject', 'x', '--message', 'y')).toMatchObject({ code: 1 });
  });

  it('lists the outbound queue and flushes deferred jobs', async () => {
    expect((await site.run('queue', 'list')).out).toBe('0 message(s), 0 delivery job(s), 0 due now');
    const ctx = await openContext(loadConfig({ data: site.dataDir, env: site.env }), silentLogger);
    try {
      const queue = createMailTransportStores(ctx.db).queue;
      const blob = await ctx.blobs.mail.put('From: awa@sante.gouv.tg\r\n\r\nx\r\n');
      await queue.enqueue({
        blobId: blob.id, size: blob.size, sender: 'awa@sante.gouv.tg', ownsBlob: true, transport: 'smtp',
        accountId: (await ctx.stores.directory.findAccount('awa@sante.gouv.tg'))!.id,
        recipients: [{ address: 'ami@example.org' }], expiresAt: new Date(Date.now() + 86400_000), notBefore: new Date(Date.now() + 3600_000),
      });
    } finally {
      await ctx.close();
    }
    const list = await site.run('queue', 'list', '--user', 'awa@sante.gouv.tg');
    expect(list.out).toMatch(/^1 message\(s\), 1 delivery job\(s\), 0 due now/);
    expect(list.out).toMatch(/awa@sante\.gouv\.tg\s+example\.org\s+ami@example\.org\s+0/);
    expect((await site.run('queue', 'flush')).out).toMatch(/^1 deferred/);
    expect((await site.run('queue', 'list')).out).toMatch(/1 due now/);
    expect(await site.run('queue', 'list', '--limit', 'x')).toMatchObject({ code: 2 });
  });
});
