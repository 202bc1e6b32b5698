import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDataSource, sqliteFileIn } from '@palabre/core/storage';
import { makeSite, runBin, siteKinds, type Site } from './helpers.js';

/**
 * A staff list as a French administration has it: exported by a spreadsheet as "CSV (point-virgule)",
 * `;` separators, CRLF, fields quoted only where they hold `;`, quotes or line breaks (which are bare
 * LF inside a cell, as Excel and LibreOffice write them), blank rows left at `;;;;;`, French headers.
 * Saved once as UTF-8 with a byte order mark and once as Windows-1252 (é = 0xE9, ’ = 0x92, Œ = 0x8C).
 */
function frenchStaffList(rows: number) {
  const lines: string[] = [];
  const bad = new Map<number, RegExp>();
  let line = 0;
  const add = (text: string, problem?: RegExp) => {
    lines.push(text);
    line += 1 + (text.match(/\n/g)?.length ?? 0);
    if (problem) bad.set(line - (text.match(/\n/g)?.length ?? 0), problem);
  };
  add('Courriel;Prenom;Nom;Service;Quota;Observations');
  add('awa@sante.gouv.tg;Awa;Diallo;DRH;2G;');
  // An unbalanced quote at line 3, with quoted fields on the lines after it.
  add('"broken@sante.gouv.tg;Broken;Quote;DRH;;', /unbalanced quote/);
  add('kofi@sante.gouv.tg;Kofi;"Mensah; Jr.";DSI;;');
  add('elodie@éducation.gouv.tg;Élodie;Kpodar;Direction de l’administration générale;"2,5 Go";"Bureau 12\nBâtiment B"');
  add('pas une adresse;X;Y;;;', /not a mail address/);
  add(';;;;;');
  add('ama@ailleurs.tg;Ama;;;;', /not hosted here/);
  const given = ['Élodie', 'Kofi', 'Ésaïe', 'Zoé', 'Noël', 'Françoise', 'Œdipe', 'Akossiwa'];
  const family = ['Kpodar', 'Mensah', 'Agbéko', 'Lawson', "d'Almeida"];
  const services = [
    'Direction de l’administration générale',
    'Ministère de l’Économie',
    'Œuvres sociales',
    '"Budget; Trésor"',
    'DSI "numérique"',
  ];
  for (let i = 0; i < rows - 8; i++) {
    const domain = i % 3 === 0 ? 'éducation.gouv.tg' : 'sante.gouv.tg';
    const service = services[i % services.length]!;
    const quoted = service.includes('numérique') ? '"DSI ""numérique"""' : service;
    const note = i % 1000 === 0 ? '"Bureau 3\nAile nord"' : '';
    add(`agent${i}@${domain};${given[i % given.length]};${family[i % family.length]};${quoted};${i % 5 === 0 ? '1,5 Go' : ''};${note}`);
  }
  add('AWA@sante.gouv.tg;Awa;Doublon;;;', /awa@sante\.gouv\.tg already appears on line 2/);
  add('x"y@sante.gouv.tg;Stray;Quote;;;', /stray quote inside a field/);
  const text = `${lines.join('\r\n')}\r\n`;
  return { text, bad, records: lines.length - 1, blank: 1 };
}

describe.each(siteKinds)('user import of a French spreadsheet export on %s', (kind) => {
  let site: Site;
  beforeEach(async () => {
    site = await makeSite(kind);
    await site.run('domain', 'add', 'sante.gouv.tg');
    await site.run('domain', 'add', 'éducation.gouv.tg');
  });
  afterEach(async () => site.cleanup());

  const bin = (argv: string[]) => runBin(['--data', site.dataDir, ...argv], { env: site.env, timeoutMs: 240_000 });
  const problemLines = (err: string) =>
    new Map(
      err
        .split('\n')
        .map((l) => /^line (\d+): (?!warning)(.*)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => [Number(m[1]), m[2]!]),
    );

  it('imports every valid row of 70,000, saved as UTF-8 with BOM and as Windows-1252, and reports the bad ones by line', async () => {
    const { text, bad, records, blank } = frenchStaffList(70_000);
    const valid = records - blank - bad.size;
    const utf8 = join(site.dataDir, 'agents-utf8.csv');
    const cp1252 = join(site.dataDir, 'agents.csv');
    await writeFile(utf8, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const bytes = iconv.encode(text, 'windows-1252');
    expect(bytes.includes(0xe9) && bytes.includes(0x92) && bytes.includes(0x8c)).toBe(true);
    await writeFile(cp1252, bytes);

    const first = await bin(['user', 'import', utf8, '--batch', '1000']);
    expect(first.code).toBe(1);
    expect(first.out).toContain(
      `(separator ";"): ${valid} created, 0 updated, 0 unchanged, ${bad.size} refused (of ${records - blank} rows)`,
    );
    expect(first.err).not.toMatch(/warning/);
    const reported = problemLines(first.err);
    expect([...reported.keys()].sort((a, b) => a - b)).toEqual([...bad.keys()].sort((a, b) => a - b));
    for (const [n, pattern] of bad) expect(reported.get(n), `line ${n}`).toMatch(pattern);

    // The same list from Windows-1252 bytes: the same accounts, to the character.
    const again = await bin(['user', 'import', cp1252, '--batch', '1000']);
    expect(again.out).toContain(
      `(separator ";", Windows-1252 where not UTF-8): 0 created, 0 updated, ${valid} unchanged, ${bad.size} refused`,
    );
    expect(again.err).toMatch(/^line 5: warning: not UTF-8: read as Windows-1252/m);
    expect([...problemLines(again.err).keys()].sort((a, b) => a - b)).toEqual([...bad.keys()].sort((a, b) => a - b));

    const elodie = await site.run('user', 'show', 'elodie@éducation.gouv.tg');
    expect(elodie.out).toMatch(/name: +Élodie Kpodar/);
    expect(elodie.out).toMatch(/department: +Direction de l’administration générale/);
    expect(elodie.out).toMatch(/quota: +2\.5 GiB/);
    expect((await site.run('user', 'show', 'agent6@éducation.gouv.tg')).out).toMatch(
      /name: +Œdipe Mensah\ndepartment: +Ministère de l’Économie/,
    );
    expect((await site.run('user', 'show', 'agent2@sante.gouv.tg')).out).toMatch(/name: +Ésaïe Agbéko\ndepartment: +Œuvres sociales/);
    expect((await site.run('user', 'show', 'agent4@sante.gouv.tg')).out).toMatch(/department: +DSI "numérique"/);
    expect((await site.run('user', 'show', 'kofi@sante.gouv.tg')).out).toMatch(/name: +Kofi Mensah; Jr\./);

    const db = await createDataSource(
      site.env.DATABASE_URL ? { postgres: { url: site.env.DATABASE_URL } } : { sqlite: { file: sqliteFileIn(site.dataDir) } },
    );
    try {
      expect(Number((await db.dataSource.query('SELECT COUNT(*) AS n FROM accounts'))[0].n)).toBe(valid);
    } finally {
      await db.close();
    }
  }, 300_000);

  it('takes --separator and --encoding, and says when the separator cannot be told', async () => {
    const ambiguous = join(site.dataDir, 'ambigu.csv');
    await writeFile(ambiguous, 'email,nom;service\r\nawa@sante.gouv.tg,Awa;DRH\r\n');
    // (Read with ",", the second column is called "nom;service", which the import does not know.)
    const refused = await site.run('user', 'import', ambiguous);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/line 1: cannot tell the separator from the header, which has 1 "," and 1 ";": give it with --separator/);
    expect((await site.run('user', 'import', ambiguous, '--separator', ',')).out).toContain('(separator ","): 1 created');
    expect((await site.run('user', 'show', 'awa@sante.gouv.tg')).code).toBe(0);

    const tabs = join(site.dataDir, 'tabs.txt');
    await writeFile(tabs, iconv.encode('courriel\tnom\r\nkofi@sante.gouv.tg\tKofi Agbéko\r\n', 'windows-1252'));
    const forced = await site.run('user', 'import', tabs, '--separator', 'tab', '--encoding', 'windows-1252');
    expect(forced.out).toContain('(separator tab, Windows-1252): 1 created');
    expect(forced.err).toBe('');
    expect((await site.run('user', 'show', 'kofi@sante.gouv.tg')).out).toMatch(/name: +Kofi Agbéko/);
    const strict = await site.run('user', 'import', tabs, '--encoding', 'utf-8');
    expect(strict.err).toMatch(/^line 2: unreadable CSV: not valid UTF-8$/m);

    expect((await site.run('user', 'import', tabs, '--separator', '|')).code).toBe(2);
    expect((await site.run('user', 'import', tabs, '--encoding', 'latin9')).err).toMatch(/--encoding takes utf-8 or windows-1252/);
  });
});
