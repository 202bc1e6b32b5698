import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DAVClient, type DAVCalendar } from 'tsdav';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from '@palabre/core/testing';
import { PARIS_VTIMEZONE as PARIS, siteKinds } from './helpers.js';
import { noRadicale, palabreForBlock, startFaultProxy, startRadicale, startXandikos, type FaultProxy, type LegacyDav } from './legacy-dav.js';

/**
 * `palabre migrate dav` from real legacy servers started by the test (Radicale, Xandikos), seeded
 * through tsdav: every calendar and address book with its properties, every object by UID with its
 * bytes, listed through tsdav on both sides afterwards; a re-run copies nothing; bad input (a wrong
 * password, a 403 collection, a connection cut mid-answer, an object Palabre refuses) fails that
 * account only and a re-run finishes it; a hostile server's answers are refused without following.
 */
const PASS = 'Mot de passe Palabre 2026';
const DOMAIN = 'sante.gouv.tg';
const AGENTS = ['awa', 'kofi', 'yao', 'ama'].map((n) => ({ address: `${n}@${DOMAIN}`, user: n, password: `legacy-${n}-secret` }));
const EVENTS_PER_CALENDAR = Number(process.env.PALABRE_MIGRATION_EVENTS ?? 60);

const event = (uid: string, i: number): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//legacy seed//EN',
    ...PARIS,
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261201T090000Z',
    `DTSTART;TZID=Europe/Paris:202612${String(1 + (i % 28)).padStart(2, '0')}T${String(8 + (i % 9)).padStart(2, '0')}0000`,
    'DURATION:PT1H',
    `SUMMARY:Réunion n°${i} — équipe santé`,
    ...(i % 5 === 0 ? ['RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20'] : []),
    ...(i % 7 === 0 ? ['RRULE:FREQ=DAILY', 'EXDATE;TZID=Europe/Paris:20261210T080000'] : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
const todo = (uid: string) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//legacy seed//EN', 'BEGIN:VTODO', `UID:${uid}`, 'DTSTAMP:20261201T090000Z', 'SUMMARY:Relire le rapport', 'DUE;VALUE=DATE:20261215', 'END:VTODO', 'END:VCALENDAR', ''].join('\r\n');
const card = (uid: string, i: number) =>
  ['BEGIN:VCARD', 'VERSION:3.0', `UID:${uid}`, `FN:Agent ${i} Kodjo`, `N:Kodjo;Agent ${i};;;`, `EMAIL;TYPE=WORK:agent${i}@${DOMAIN}`, `TEL;TYPE=CELL:+228 90 00 ${String(i).padStart(2, '0')} 00`, 'END:VCARD', ''].join('\r\n');

const client = async (serverUrl: string, username: string, password: string, type: 'caldav' | 'carddav') => {
  const c = new DAVClient({ serverUrl, credentials: { username, password }, authMethod: 'Basic', defaultAccountType: type });
  await c.login();
  return c;
};

/** Two calendars (one with todos too, colour, zone, description) and an address book, through tsdav. */
async function seed(url: string, user: string, password: string, bookPath: string): Promise<number> {
  const cal = await client(url, user, password, 'caldav');
  const home = cal.account!.homeUrl!;
  await cal.makeCalendar({
    url: `${home}reunions/`,
    props: {
      'd:displayname': 'Réunions de direction',
      'c:calendar-description': 'Agenda partagé du cabinet',
      'ca:calendar-color': '#1E88E5FF',
      'c:calendar-timezone': ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//seed//EN', ...PARIS, 'END:VCALENDAR', ''].join('\r\n'),
      'c:supported-calendar-component-set': { 'c:comp': [{ _attributes: { name: 'VEVENT' } }, { _attributes: { name: 'VTODO' } }] },
    },
  });
  await cal.makeCalendar({ url: `${home}permanences/`, props: { 'd:displayname': 'Permanences été', 'ca:calendar-color': '#43A047FF' } });
  let n = 0;
  for (const [name, count] of [['reunions', EVENTS_PER_CALENDAR], ['permanences', Math.ceil(EVENTS_PER_CALENDAR / 2)]] as const) {
    for (let i = 0; i < count; i++) {
      const uid = `${user}-${name}-${i}@legacy.${DOMAIN}`;
      await cal.createCalendarObject({ calendar: { url: `${home}${name}/` }, filename: `${user}-${name}-${i}.ics`, iCalString: event(uid, i) });
      n++;
    }
  }
  await cal.createCalendarObject({ calendar: { url: `${home}reunions/` }, filename: 'todo-1.ics', iCalString: todo(`${user}-todo-1@legacy`) });
  n++;
  const bookUrl = new URL(bookPath, url).href;
  const made = await fetch(bookUrl, {
    method: 'MKCOL',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'application/xml' },
    body: `<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Contacts du service</D:displayname><C:addressbook-description>Annuaire interne</C:addressbook-description></D:prop></D:set></D:mkcol>`,
  });
  expect(made.status).toBe(201);
  const book = await client(url, user, password, 'carddav');
  for (let i = 0; i < 20; i++) await book.createVCard({ addressBook: { url: bookUrl }, filename: `contact-${i}.vcf`, vCardString: card(`${user}-card-${i}@legacy`, i) });
  return n + 20;
}

/** An account's collections and objects as tsdav lists them: `collection/kind` → UID → normalised text. */
async function listing(url: string, user: string, password: string): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  const norm = (s: string) => s.replace(/\r\n/g, '\n').replace(/\n[ \t]/g, '').trim();
  const uidOf = (s: string) => /^UID:(.*)$/m.exec(norm(s))?.[1] ?? '?';
  const cal = await client(url, user, password, 'caldav');
  for (const c of await cal.fetchCalendars()) {
    const zone = c.timezone ? (/^TZID:(.*)$/m.exec(c.timezone.replace(/\r\n/g, '\n'))?.[1] ?? 'unnamed zone') : 'no zone';
    const key = `${c.url.replace(/\/$/, '').split('/').pop()}/calendar ${String(c.displayName)} ${c.calendarColor ?? ''} ${[...(c.components ?? [])].sort().join(',')} ${c.description || 'no description'} ${zone}`;
    const objects = await cal.fetchCalendarObjects({ calendar: c, filters: [{ 'comp-filter': { _attributes: { name: 'VCALENDAR' } } }], urlFilter: () => true });
    out.set(key, new Map(objects.map((o) => [uidOf(o.data), norm(o.data)])));
  }
  const book = await client(url, user, password, 'carddav');
  for (const b of await book.fetchAddressBooks()) {
    // Palabre's own address list of the domain (written from the directory, not migrated) is not compared.
    if (/\/dav\/addressbooks\/[^/]+\/annuaire\/$/.test(b.url)) continue;
    const key = `${b.url.replace(/\/$/, '').split('/').pop()}/addressbook ${String(b.displayName)}`;
    // By PROPFIND and multiget: Xandikos 0.2.8 answers 500 to tsdav's addressbook-query.
    const members = await book.propfind({ url: b.url, props: { 'd:getetag': {} }, depth: '1' });
    const objectUrls = members.map((m) => m.href ?? '').filter((h) => h && !b.url.endsWith(h));
    const objects = objectUrls.length ? await book.fetchVCards({ addressBook: b, objectUrls, urlFilter: () => true }) : [];
    out.set(key, new Map(objects.map((o) => [uidOf(o.data), norm(o.data)])));
  }
  return out;
}

/** Lines naming what differs (none expected); Palabre's own empty default collections are not differences. */
function differences(legacy: Map<string, Map<string, string>>, ours: Map<string, Map<string, string>>): string[] {
  const diff: string[] = [];
  const renamed = (key: string) => (key.startsWith('annuaire/') ? `legacy-${key}` : key);
  for (const [key, objects] of legacy) {
    const mine = ours.get(renamed(key));
    if (!mine) {
      diff.push(`${key}: missing (palabre has ${[...ours.keys()].join(' | ')})`);
      continue;
    }
    for (const [uid, text] of objects) if (mine.get(uid) !== text) diff.push(`${key} ${uid}: ${mine.has(uid) ? 'differs' : 'missing'}`);
    for (const uid of mine.keys()) if (!objects.has(uid)) diff.push(`${key} ${uid}: extra`);
  }
  const expected = new Set([...legacy.keys()].map(renamed));
  for (const [key, objects] of ours) if (!expected.has(key) && objects.size) diff.push(`${key}: extra collection`);
  return diff;
}

const csvOf = (rows: { address: string; user: string; password: string }[]) => `adresse;identifiant;mot de passe\n${rows.map((a) => `${a.address};${a.user};${a.password}`).join('\n')}\n`;

interface Report {
  accounts: { address: string; status: string; copied: number; updated: number; skipped: number; errors: string[]; objectErrors: string[]; collections: { target: string; error?: string }[] }[];
}

describe.skipIf(noRadicale)('palabre migrate dav from a real Radicale', () => {
  let legacy: LegacyDav;
  let proxy: FaultProxy;
  let seeded = 0;
  beforeAll(async () => {
    legacy = await startRadicale(AGENTS);
    // kofi's book has the name Palabre keeps for the directory's: it arrives as `legacy-annuaire`.
    for (const a of AGENTS) seeded = await seed(legacy.url, a.user, a.password, `/${a.user}/${a.user === 'kofi' ? 'annuaire' : 'contacts'}/`);
    proxy = await startFaultProxy(legacy.url);
  }, 600_000);
  afterAll(async () => {
    await proxy?.close();
    await legacy?.stop();
  });

  describe.each(siteKinds)('into %s', (kind) => {
    const p = palabreForBlock(kind, DOMAIN, AGENTS.map((a) => a.address), PASS);
    const migrate = (csv: string, ...extra: string[]) => p.site.run('migrate', 'dav', '--from', proxy.url, '--csv', csv, ...extra);

    it('copies every collection and object; a second run copies nothing; bad input fails one account and a re-run finishes it', async () => {
      const csv = join(p.site.dataDir, 'agents.csv');
      const report = join(p.site.dataDir, 'report.json');
      // kofi: wrong legacy password; yao: a calendar the server refuses; ama: the connection cut mid-answer;
      // awa: one object Palabre refuses (its calendar data broken on the way).
      await writeFile(csv, csvOf(AGENTS.map((a) => (a.user === 'kofi' ? { ...a, password: 'not-the-password' } : a))));
      proxy.rules = [];
      const refused = proxy.add({ path: /^\/yao\/permanences\//, fault: { kind: 'status', status: 403 } });
      const cut = proxy.add({ method: 'REPORT', path: /^\/ama\/reunions\//, fault: { kind: 'cut', afterBytes: 20_000 } });
      const broken = proxy.add({
        method: 'REPORT',
        path: /^\/awa\/reunions\//,
        fault: { kind: 'rewrite', edit: (body) => body.replace('SUMMARY:Réunion n°3 ', 'SUMMARY;BROKEN=:Réunion n°3 ').replace(/(UID:awa-reunions-3@[^\r\n]*\r?\n)/, '$1DTSTART:not-a-date\r\n') },
      });
      const first = await migrate(csv, '--jobs', '3', '--report', report);
      expect(first.code).toBe(1);
      expect(refused.hits + cut.hits + broken.hits).toBeGreaterThanOrEqual(3);
      const doc = JSON.parse(await readFile(report, 'utf8')) as Report;
      const by = new Map(doc.accounts.map((a) => [a.address.split('@')[0], a]));
      expect(by.get('kofi')!.errors.join()).toMatch(/refused the login/);
      expect(by.get('yao')!.collections.find((c) => c.target === 'permanences')!.error).toMatch(/403/);
      expect(by.get('ama')!.errors.join()).toMatch(/connection .*lost|closed|terminated|socket/i);
      expect(by.get('awa')!.objectErrors).toHaveLength(1);
      expect(by.get('awa')!.objectErrors[0]).toMatch(/awa-reunions-3\.ics: refused by Palabre/);
      expect([...by.values()].map((a) => a.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
      // yao's other calendar and book arrived all the same.
      expect(by.get('yao')!.copied).toBe(seeded - Math.ceil(EVENTS_PER_CALENDAR / 2));

      // The cause gone (password fixed, server healthy), the same command finishes every account.
      proxy.rules = [];
      await writeFile(csv, csvOf(AGENTS));
      const second = await migrate(csv, '--report', report);
      expect(second.err).toBe('');
      expect(second.code).toBe(0);
      const done = JSON.parse(await readFile(report, 'utf8')) as Report;
      expect(done.accounts.map((a) => [a.address, a.status, a.errors, a.objectErrors])).toEqual(AGENTS.map((a) => [a.address, 'ok', [], []]));
      expect(done.accounts.find((a) => a.address.startsWith('kofi'))!.copied).toBe(seeded);
      expect(done.accounts.find((a) => a.address.startsWith('awa'))!.copied).toBe(1);

      for (const a of AGENTS) {
        const before = await listing(legacy.url, a.user, a.password);
        const after = await listing(`${p.served.origin}/`, a.address, PASS);
        expect(differences(before, after)).toEqual([]);
        expect([...before.values()].reduce((n, m) => n + m.size, 0)).toBe(seeded);
        // The comparison covers the properties: these are the seeded ones, not two empty sides.
        expect([...after.keys()].join(' | ')).toContain('reunions/calendar Réunions de direction #1E88E5FF VEVENT,VTODO Agenda partagé du cabinet Europe/Paris');
        if (a.user === 'kofi') expect([...after.keys()].join(' | ')).toContain('legacy-annuaire/addressbook Contacts du service');
      }

      const third = await migrate(csv);
      expect(third.code).toBe(0);
      expect(third.out).toContain(`0 object(s) copied, 0 updated, ${seeded * AGENTS.length} already there`);

      // Agents keep working on the legacy server until the cutover: a changed event is brought over, once.
      const cal = await client(legacy.url, 'yao', AGENTS[2]!.password, 'caldav');
      const home = cal.account!.homeUrl!;
      const changed = event('yao-reunions-1@legacy.sante.gouv.tg', 1).replace('SUMMARY:Réunion n°1 ', `SUMMARY:Réunion déplacée (${kind}) n°1 `);
      await cal.updateCalendarObject({ calendarObject: { url: `${home}reunions/yao-reunions-1.ics`, data: changed } });
      const fourth = await migrate(csv);
      expect(fourth.out).toContain(`0 object(s) copied, 1 updated, ${seeded * AGENTS.length - 1} already there`);
      expect(differences(await listing(legacy.url, 'yao', AGENTS[2]!.password), await listing(`${p.served.origin}/`, AGENTS[2]!.address, PASS))).toEqual([]);
    }, 600_000);

    it('a hostile legacy server: XML bomb, huge answer, hrefs elsewhere and ../ are refused without following', async () => {
      const csv = join(p.site.dataDir, 'one.csv');
      await writeFile(csv, csvOf([AGENTS[0]!]));
      const report = join(p.site.dataDir, 'hostile.json');
      const elsewhere = await startFaultProxy(legacy.url);
      elsewhere.add({ path: /.*/, fault: { kind: 'status', status: 500 } });
      const first = elsewhere.rules[0]!;
      // In step with the legacy server first: then an attack that stored anything would show.
      proxy.rules = [];
      expect((await migrate(csv)).code).toBe(0);
      const calendarsBefore = await listing(`${p.served.origin}/`, AGENTS[0]!.address, PASS);
      const multistatus = (responses: string) =>
        `<?xml version="1.0" encoding="utf-8"?><multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">${responses}</multistatus>`;
      const calendarResponse = (href: string) =>
        `<response><href>${href}</href><propstat><prop><resourcetype><collection/><C:calendar/></resourcetype><displayname>x</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response>`;
      /** Billion laughs: entities that expand tenfold at each level, wherever `&d;` is used. */
      const bomb = (inner: string) =>
        `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><multistatus xmlns="DAV:">${inner}</multistatus>`;
      const answer = (method: string, path: RegExp, body: string) => () =>
        proxy.add({ method, ...(method === 'PROPFIND' ? { depth: '1' } : {}), path, fault: { kind: 'answer', status: 207, body } });
      const attacks: [string, () => void, RegExp][] = [
        ['XML bomb', answer('PROPFIND', /^\/awa\/$/, bomb('<response><href>/awa/&d;&d;&d;/</href></response>')), /refused: malformed XML/],
        [
          'XML bomb in a multiget answer (read by tsdav)',
          answer('REPORT', /^\/awa\/reunions\/$/, bomb('<response><href>/awa/reunions/x.ics</href><propstat><prop><getetag>&d;</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>')),
          /reunions\/: the legacy server's answer for \/awa\/reunions\/ was refused: malformed XML/,
        ],
        [
          'huge answer',
          () =>
            proxy.add({
              method: 'PROPFIND',
              depth: '1',
              path: /^\/awa\/$/,
              fault: {
                kind: 'answer',
                status: 207,
                body: async function* () {
                  yield '<?xml version="1.0"?><multistatus xmlns="DAV:">';
                  const filler = `<response><href>/awa/${'x'.repeat(900)}/</href></response>`;
                  for (let i = 0; i < 8000; i++) yield filler;
                  yield '</multistatus>';
                },
              },
            }),
          /larger than 1048576 bytes/,
        ],
        [
          'a calendar on another host',
          answer('PROPFIND', /^\/awa\/$/, multistatus(calendarResponse(`${elsewhere.origin}/awa/reunions/`))),
          /outside the home/,
        ],
        [
          'a calendar up the tree',
          answer('PROPFIND', /^\/awa\/$/, multistatus(calendarResponse('/awa/../kofi/reunions/'))),
          /outside the home/,
        ],
        [
          'objects elsewhere',
          () =>
            proxy.add({
              method: 'REPORT',
              path: /^\/awa\/permanences\/$/,
              fault: {
                kind: 'rewrite',
                edit: (body) => {
                  let k = 0;
                  return body.replace(/<href>([^<]*)<\/href>/g, (m, href: string) =>
                    ++k === 1 ? `<href>${elsewhere.origin}${href}</href>` : k === 2 ? `<href>/awa/permanences/../../kofi/permanences/kofi-permanences-1.ics</href>` : m,
                  );
                },
              },
            }),
          /outside the collection/,
        ],
      ];
      for (const [what, arm, expected] of attacks) {
        proxy.rules = [];
        arm();
        const run = await migrate(csv, '--report', report, '--max-response-size', '1M');
        expect(run.code, what).toBe(1);
        const doc = JSON.parse(await readFile(report, 'utf8')) as Report;
        const text = [...doc.accounts[0]!.errors, ...doc.accounts[0]!.objectErrors, ...doc.accounts[0]!.collections.map((c) => c.error ?? '')].join(' | ');
        expect(text, what).toMatch(expected);
        expect(proxy.rules[0]!.hits, what).toBeGreaterThan(0);
      }
      proxy.rules = [];
      expect(first.hits).toBe(0);
      await elsewhere.close();
      // Nothing of the attacks was stored: the account is as the first test left it.
      expect(differences(calendarsBefore, await listing(`${p.served.origin}/`, AGENTS[0]!.address, PASS))).toEqual([]);
    }, 300_000);
  });
});

describe.skipIf(skipWithout('xandikos'))('palabre migrate dav from a real Xandikos', () => {
  let legacy: LegacyDav;
  let seeded = 0;
  const agent = AGENTS[3]!;
  beforeAll(async () => {
    legacy = await startXandikos();
    seeded = await seed(legacy.url, 'user', 'any', '/user/contacts/addressbook/');
  }, 600_000);
  afterAll(async () => legacy?.stop());

  describe.each(siteKinds)('into %s', (kind) => {
    const p = palabreForBlock(kind, DOMAIN, AGENTS.map((a) => a.address), PASS);

    it('copies every calendar, address book and object; a second run copies nothing', async () => {
      const csv = join(p.site.dataDir, 'agents.csv');
      await writeFile(csv, csvOf([{ ...agent, user: 'user', password: 'any' }]));
      const first = await p.site.run('migrate', 'dav', '--from', legacy.url, '--csv', csv);
      if (process.env.DEBUG_MIGRATE) console.log(first.out);
      expect(first.err).toBe('');
      expect(first.code).toBe(0);
      expect(first.out).toContain(`${seeded} object(s) copied`);
      const before = await listing(legacy.url, 'user', 'any');
      const after = await listing(`${p.served.origin}/`, agent.address, PASS);
      expect(differences(before, after)).toEqual([]);
      // Xandikos 0.2.8 keeps only the display name of an MKCALENDAR body: the rest is compared empty on both sides.
      expect([...after.keys()].join(' | ')).toContain('reunions/calendar Réunions de direction ');
      const second = await p.site.run('migrate', 'dav', '--from', legacy.url, '--csv', csv);
      expect(second.code).toBe(0);
      expect(second.out).toContain(`0 object(s) copied, 0 updated, ${seeded} already there`);
    }, 300_000);
  });
});
