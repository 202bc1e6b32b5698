import { DAVClient } from 'tsdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

const PASS = 'A long enough passphrase';
const AWA = 'awa@sante.gouv.test';
const KOFI = 'kofi@sante.gouv.test';
const OTHER = 'ama@finances.gouv.test';

/**
 * The domain's address list (`annuaire`): written by serve from the directory, read over CardDAV by the
 * domain's agents only, never writable by them.
 */
describe.each(siteKinds)('the directory address book under palabre serve (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;

  const client = async (username: string) => {
    const c = new DAVClient({ serverUrl: `${served.origin}/`, credentials: { username, password: PASS }, authMethod: 'Basic', defaultAccountType: 'carddav' });
    await c.login();
    return c;
  };
  const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASS}`).toString('base64')}`;
  /** The cards of the user's annuaire, once serve's first sync has written them. */
  const cards = async (user: string, expected: number) => {
    const c = await client(user);
    for (let i = 0; ; i++) {
      const book = (await c.fetchAddressBooks()).find((b) => b.url.endsWith('/annuaire/'));
      const list = book ? await c.fetchVCards({ addressBook: book }) : [];
      if (list.length >= expected || i > 100) return { book, list };
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    site = await makeSite(kind);
    for (const argv of [
      ['domain', 'add', 'sante.gouv.test'],
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', AWA, '--password', PASS, '--name', 'Awa Kodjo; DRH, Lomé', '--department', 'Ressources humaines'],
      ['user', 'add', KOFI, '--password', PASS, '--name', 'Kofi Mensah'],
      ['user', 'add', 'gone@sante.gouv.test', '--password', PASS, '--name', 'Suspendu'],
      ['user', 'suspend', 'gone@sante.gouv.test'],
      ['alias', 'add', 'direction@sante.gouv.test', AWA],
      ['group', 'add', 'cabinet', '--domain', 'sante.gouv.test', '--address', 'cabinet@sante.gouv.test', '--description', 'Cabinet du ministre'],
      ['user', 'add', OTHER, '--password', PASS, '--name', 'Ama Finances'],
    ])
      expect((await site.run(...argv)).code, argv.join(' ')).toBe(0);
    served = await serveHttp(site);
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it("lists every active agent and distribution list of the user's own domain, with escaped names", async () => {
    const { book, list } = await cards(KOFI, 3);
    expect(book?.displayName).toBe('Annuaire');
    const text = list.map((c) => c.data).join('\n');
    expect(list).toHaveLength(3);
    expect(text).toContain('FN:Awa Kodjo\\; DRH\\, Lomé');
    expect(text).toMatch(/EMAIL;TYPE=work;PREF=1:awa@sante\.gouv\.test/);
    expect(text).toMatch(/EMAIL;TYPE=work:direction@sante\.gouv\.test/);
    expect(text).toContain('ORG:sante.gouv.test;Ressources humaines');
    expect(text).toContain('KIND:group');
    expect(text).toContain('FN:Cabinet du ministre');
    expect(text).not.toContain('Suspendu');
    expect(text).not.toContain('finances');
    // The other domain's agent sees only hers.
    const other = await cards(OTHER, 1);
    expect(other.list.map((c) => c.data).join('\n')).not.toContain('sante.gouv.test');
  });

  it('refuses every write to it, and its content is unchanged afterwards', async () => {
    const { book, list } = await cards(AWA, 3);
    const target = list[0]!.url;
    const vcard = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:evil\r\nFN:Faux directeur\r\nEMAIL:awa@sante.gouv.test\r\nEND:VCARD\r\n';
    for (const [method, url, body] of [
      ['PUT', `${book!.url}evil.vcf`, vcard],
      ['PUT', target, vcard],
      ['DELETE', target, undefined],
      ['PROPPATCH', book!.url, '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>x</d:displayname></d:prop></d:set></d:propertyupdate>'],
      ['DELETE', book!.url, undefined],
      ['MOVE', target, undefined],
    ] as const) {
      const res = await fetch(url, { method, headers: { authorization: basic(AWA), 'content-type': 'text/vcard', destination: `${book!.url}moved.vcf` }, body });
      const status = res.status === 207 ? (/HTTP\/1\.1 (\d+)/.exec(await res.text())?.[1] ?? '207') : String(res.status);
      expect(['403', '405'], `${method} ${url}`).toContain(status);
    }
    const after = await cards(AWA, 3);
    expect(after.list.map((c) => c.etag).sort()).toEqual(list.map((c) => c.etag).sort());
  });

  it('follows the directory: a removed agent leaves, a new one appears, at the next sync', async () => {
    await served.stop();
    for (const argv of [['user', 'remove', KOFI], ['user', 'add', 'yao@sante.gouv.test', '--password', PASS, '--name', 'Yao Nouveau']]) {
      const r = await site.run(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
    }
    served = await serveHttp(site);
    for (let i = 0; i < 100; i++) {
      const text = (await cards(AWA, 3)).list.map((c) => c.data).join('\n');
      if (text.includes('Yao Nouveau') && !text.includes('Kofi')) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the address book did not follow the directory');
  });
});
