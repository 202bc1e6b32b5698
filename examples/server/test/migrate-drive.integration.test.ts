import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from '@palabre/core/testing';
import { child, elements, parseXml, textOf } from '@palabre/webdav';
import { siteKinds } from './helpers.js';
import { palabreForBlock, startApacheDav, startFaultProxy, type FaultProxy, type LegacyDav } from './legacy-dav.js';

/**
 * `palabre migrate drive` from Apache mod_dav started by the test: nested folders, a file of several
 * MiB, names with spaces and accents arrive with their bytes (SHA-256) and modification times, listed
 * by PROPFIND and GET on both sides; a re-run copies nothing; a wrong password, a folder the server
 * refuses and a connection cut in the middle of the large file fail that account only, and a re-run
 * finishes it; hrefs leaving a folder are not followed.
 */
const PASS = 'Mot de passe Palabre 2026';
const DOMAIN = 'sante.gouv.tg';
const AGENTS = ['awa', 'kofi', 'yao'].map((n) => ({ address: `${n}@${DOMAIN}`, user: n, password: `legacy-${n}-secret` }));
const BIG = 6 * 1024 * 1024 + 123;
/** An agent whose Palabre quota (2 MiB) cannot hold the legacy tree. */
const TIGHT = { address: `ama@${DOMAIN}`, user: 'ama', password: 'legacy-ama-secret' };

const auth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const enc = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** The tree every agent has on the legacy server (paths relative to their folder; `/` ends a folder). */
function treeOf(user: string): [string, Buffer | null][] {
  const files: [string, Buffer | null][] = [
    ['Dossiers partagés/', null],
    ['Dossiers partagés/Budget 2026/', null],
    ['Dossiers partagés/Budget 2026/Annexes/', null],
    ['Dossiers partagés/Budget 2026/Annexes/Tableau récapitulatif.csv', Buffer.from(`ligne;montant\n${user};42\n`)],
    ['Dossiers partagés/Budget 2026/Note de synthèse é à ç.txt', Buffer.from(`Note de ${user} — état des lieux\n`)],
    ['Permanences/', null],
    ['Permanences/planning été.txt', Buffer.from('lundi, mardi\n')],
    ['Vidéos/', null],
    ['Vidéos/présentation longue.bin', randomBytes(BIG)],
    ['Lisez-moi.txt', Buffer.from('bonjour\n')],
    ['vide/', null],
  ];
  for (let i = 0; i < 20; i++) files.push([`Permanences/semaine ${i}.txt`, Buffer.from(`semaine ${i} de ${user}\n`)]);
  return files;
}

async function seed(legacy: LegacyDav, a: { user: string; password: string }): Promise<number> {
  let n = 0;
  for (const [path, bytes] of treeOf(a.user)) {
    const url = `${legacy.url}${a.user}/${enc(path.replace(/\/$/, ''))}${path.endsWith('/') ? '/' : ''}`;
    const r = await fetch(url, { method: bytes ? 'PUT' : 'MKCOL', headers: { authorization: auth(a.user, a.password) }, body: bytes ?? undefined });
    expect(r.status, `${path}`).toBe(201);
    if (bytes) n++;
  }
  return n;
}

/** Every file by path → SHA-256 and mtime (seconds), and every folder, walked by PROPFIND Depth 1 and GET. */
async function walk(root: string, user: string, password: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const queue = [new URL(root)];
  while (queue.length) {
    const folder = queue.shift()!;
    const r = await fetch(folder, {
      method: 'PROPFIND',
      headers: { depth: '1', authorization: auth(user, password), 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><getlastmodified/></prop></propfind>',
    });
    expect(r.status).toBe(207);
    const doc = parseXml(Buffer.from(await r.arrayBuffer()));
    for (const response of elements(doc).filter((e) => e.name === 'response')) {
      const url = new URL(textOf(child(response, 'DAV:', 'href')!).trim(), folder);
      if (url.pathname.replace(/\/?$/, '/') === folder.pathname) continue;
      const prop = child(child(response, 'DAV:', 'propstat')!, 'DAV:', 'prop')!;
      const rel = decodeURIComponent(url.pathname.slice(new URL(root).pathname.length));
      const modified = child(prop, 'DAV:', 'getlastmodified');
      const mtime = modified ? Math.floor(new Date(textOf(modified)).getTime() / 1000) : 'no mtime';
      if (child(child(prop, 'DAV:', 'resourcetype')!, 'DAV:', 'collection')) {
        out.set(rel.replace(/\/?$/, '/'), `folder ${mtime}`);
        queue.push(new URL(url.pathname.replace(/\/?$/, '/'), url));
        continue;
      }
      const body = Buffer.from(await (await fetch(url, { headers: { authorization: auth(user, password) } })).arrayBuffer());
      out.set(rel, `${createHash('sha256').update(body).digest('hex')} ${body.length} ${mtime}`);
    }
  }
  return out;
}

function differences(legacy: Map<string, string>, ours: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const [path, what] of legacy) if (ours.get(path) !== what) diff.push(`${path}: legacy ${what}, palabre ${ours.get(path) ?? 'missing'}`);
  for (const path of ours.keys()) if (!legacy.has(path)) diff.push(`${path}: extra`);
  return diff;
}

const csvOf = (rows: { address: string; user: string; password: string }[]) => `adresse;identifiant;mot de passe\n${rows.map((a) => `${a.address};${a.user};${a.password}`).join('\n')}\n`;

interface Report {
  accounts: { address: string; status: string; copied: number; skipped: number; errors: string[]; itemErrors: string[] }[];
}

describe.skipIf(skipWithout('apache2'))('palabre migrate drive from Apache mod_dav', () => {
  let legacy: LegacyDav;
  let proxy: FaultProxy;
  let files = 0;
  beforeAll(async () => {
    legacy = await startApacheDav([...AGENTS, TIGHT]);
    for (const a of [...AGENTS, TIGHT]) files = await seed(legacy, a);
    proxy = await startFaultProxy(legacy.url);
  }, 300_000);
  afterAll(async () => {
    await proxy?.close();
    await legacy?.stop();
  });

  describe.each(siteKinds)('into %s', (kind) => {
    const p = palabreForBlock(kind, DOMAIN, AGENTS.map((a) => a.address), PASS);
    const migrate = (csv: string, ...extra: string[]) => p.site.run('migrate', 'drive', '--from', `${proxy.url}{login}/`, '--csv', csv, ...extra);

    it('copies every folder and file with its bytes and mtime; bad input fails one account; re-runs finish it and then copy nothing', async () => {
      const csv = join(p.site.dataDir, 'agents.csv');
      const report = join(p.site.dataDir, 'report.json');
      await writeFile(csv, csvOf(AGENTS.map((a) => (a.user === 'kofi' ? { ...a, password: 'wrong' } : a))));
      proxy.rules = [];
      const refused = proxy.add({ method: 'PROPFIND', path: new RegExp(`^/awa/${enc('Permanences')}/$`), fault: { kind: 'status', status: 403 } });
      const cut = proxy.add({ method: 'GET', path: /^\/yao\/.*pr%C3%A9sentation/i, fault: { kind: 'cut', afterBytes: 2 * 1024 * 1024 } });
      const outside = proxy.add({
        method: 'PROPFIND',
        path: new RegExp(`^/awa/${enc('Vidéos')}/$`, 'i'),
        fault: { kind: 'rewrite', edit: (body) => body.replace(/(<D:href>)([^<]*pr%c3%a9sentation[^<]*)(<\/D:href>)/i, '$1/awa/Vid%c3%a9os/../../kofi/Lisez-moi.txt$3') },
      });
      const first = await migrate(csv, '--report', report);
      expect(first.code).toBe(1);
      expect([refused.hits, cut.hits, outside.hits].every((h) => h > 0)).toBe(true);
      const doc = JSON.parse(await readFile(report, 'utf8')) as Report;
      const by = new Map(doc.accounts.map((a) => [a.address.split('@')[0], a]));
      expect(by.get('kofi')!.errors.join()).toMatch(/refused the login/);
      expect(by.get('awa')!.itemErrors.join(' | ')).toMatch(/\/Permanences\/: .*403/);
      expect(by.get('awa')!.itemErrors.join(' | ')).toMatch(/outside the folder: not followed/);
      expect(by.get('yao')!.errors.join()).toMatch(/lost|terminated/);
      expect([...by.values()].map((a) => a.status)).toEqual(['failed', 'failed', 'failed']);
      // The file cut in the middle is not there, not even in part.
      const yao = await walk(`${p.served.origin}/dav/files/${AGENTS[2]!.address}/`, AGENTS[2]!.address, PASS);
      expect(yao.has('Vidéos/présentation longue.bin')).toBe(false);

      proxy.rules = [];
      await writeFile(csv, csvOf(AGENTS));
      const second = await migrate(csv, '--report', report);
      expect(second.err).toBe('');
      expect(second.code).toBe(0);
      for (const a of AGENTS) {
        const before = await walk(`${legacy.url}${a.user}/`, a.user, a.password);
        expect([...before.values()].filter((v) => !v.startsWith('folder'))).toHaveLength(files);
        const after = await walk(`${p.served.origin}/dav/files/${a.address}/`, a.address, PASS);
        expect(differences(before, after)).toEqual([]);
      }
      const third = await migrate(csv);
      expect(third.code).toBe(0);
      expect(third.out).toContain(`0 file(s) copied, 0 updated, ${files * AGENTS.length} already there`);
    }, 300_000);

    it('a full quota and a hostile listing fail their account only, and store nothing of the hostile answer', async () => {
      expect((await p.site.run('user', 'add', TIGHT.address, '--password', PASS, '--quota', '2M')).code).toBe(0);
      const csv = join(p.site.dataDir, 'tight.csv');
      const report = join(p.site.dataDir, 'tight.json');
      await writeFile(csv, csvOf([TIGHT, AGENTS[0]!]));
      const awaBefore = await walk(`${p.served.origin}/dav/files/${AGENTS[0]!.address}/`, AGENTS[0]!.address, PASS);
      proxy.rules = [];
      // A new folder on the legacy side whose listing is an XML bomb.
      const made = await fetch(`${legacy.url}awa/Nouveau/`, { method: 'MKCOL', headers: { authorization: auth('awa', AGENTS[0]!.password) } });
      expect(made.status).toBe(201);
      const bomb = proxy.add({
        method: 'PROPFIND',
        path: /^\/awa\/Nouveau\/$/,
        fault: {
          kind: 'answer',
          status: 207,
          body: '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><multistatus xmlns="DAV:"><response><href>/awa/Nouveau/&b;</href></response></multistatus>',
        },
      });
      const run = await migrate(csv, '--report', report);
      expect(run.code).toBe(1);
      expect(bomb.hits).toBeGreaterThan(0);
      const doc = JSON.parse(await readFile(report, 'utf8')) as Report;
      const [tight, awa] = doc.accounts;
      expect(tight!.errors.join()).toMatch(/over its Palabre drive quota/);
      expect(awa!.errors.join()).toMatch(/refused: malformed XML/);
      const awaAfter = await walk(`${p.served.origin}/dav/files/${AGENTS[0]!.address}/`, AGENTS[0]!.address, PASS);
      expect(differences(awaBefore, new Map([...awaAfter].filter(([path]) => path !== 'Nouveau/')))).toEqual([]);
      expect([...awaAfter.keys()].filter((k) => k.startsWith('Nouveau/') && k !== 'Nouveau/')).toEqual([]);
      proxy.rules = [];
      await fetch(`${legacy.url}awa/Nouveau/`, { method: 'DELETE', headers: { authorization: auth('awa', AGENTS[0]!.password) } });
    }, 300_000);
  });
});
