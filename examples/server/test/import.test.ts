import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCredentialService } from '@palabre/auth';
import { createCoreStores } from '@palabre/core/storage';
import { testBackends, type TestBackend } from '@palabre/core/testing';
import { importAccountsCsv } from '../src/import/csv-accounts.js';

const weak = { memoryKiB: 19456, iterations: 2, parallelism: 1 };
const backends: TestBackend[] = await testBackends();

describe.each(backends)('CSV import on $name', (backend) => {
  let stores: ReturnType<typeof createCoreStores>;
  let cleanup: () => Promise<void>;
  let deps: Parameters<typeof importAccountsCsv>[0];

  beforeEach(async () => {
    const opened = await backend.open();
    cleanup = opened.cleanup;
    stores = createCoreStores(opened.db);
    await stores.directory.createDomain({ name: 'sante.gouv.tg' });
    await stores.directory.createDomain({ name: 'éducation.gouv.tg' });
    deps = { directory: stores.directory, audit: stores.audit, credentials: createCredentialService({ directory: stores.directory, audit: stores.audit, argon2: weak }) };
  });
  afterEach(async () => cleanup());

  const run = (csv: string | Buffer, options = {}) => importAccountsCsv(deps, Readable.from([Buffer.from(csv)]), { batchSize: 3, ...options });

  it('imports valid rows, reports each bad line by number, and keeps going', async () => {
    const csv = [
      '\ufeffEmail,Name,Department,Quota,Groups,Aliases',
      'awa@sante.gouv.tg,Awa Diallo,DRH,2G,sante-staff;sante-drh,secretariat@sante.gouv.tg',
      'kofi@sante.gouv.tg,"Kofi Mensah, Jr.",DSI,,sante-staff,',
      'not an address,X,,,,',
      'ama@elsewhere.tg,Ama,,,,',
      'esi@sante.gouv.tg,Esi,,lots,,',
      '"broken quote@sante.gouv.tg,Y,,,,',
      'élodie@éducation.gouv.tg,Élodie,,,,',
      'AWA@sante.gouv.tg,Duplicate,,,,',
      'yao@sante.gouv.tg,Yao,,,,secretariat@sante.gouv.tg',
      '',
      'akos@sante.gouv.tg,Akos,,,,',
    ].join('\r\n');
    const report = await run(csv);
    const byLine = Object.fromEntries(report.problems.map((p) => [p.line, p.message]));
    expect(byLine[4]).toMatch(/not a mail address/);
    expect(byLine[5]).toMatch(/not hosted here/);
    expect(byLine[6]).toMatch(/not a size/);
    expect(byLine[9]).toMatch(/already appears on line 2/);
    expect(byLine[10]).toMatch(/already in use/);
    expect(report.problems.some((p) => p.line === 7 || /unreadable CSV/.test(p.message))).toBe(true);
    const awa = (await stores.directory.findAccount('awa@sante.gouv.tg'))!;
    expect(awa).toMatchObject({ displayName: 'Awa Diallo', department: 'DRH', quotaBytes: 2 * 1024 ** 3 });
    expect((await stores.directory.findAccount('kofi@sante.gouv.tg'))?.displayName).toBe('Kofi Mensah, Jr.');
    expect(await stores.directory.findAccount('élodie@éducation.gouv.tg')).not.toBeNull();
    expect(await stores.directory.findAccount('akos@sante.gouv.tg')).not.toBeNull();
    expect(await stores.directory.findAccount('yao@sante.gouv.tg')).toBeNull();
    expect((await stores.directory.groupsOfAccount(awa.id)).map((g) => g.name)).toEqual(['sante-drh', 'sante-staff']);
    expect([...report.groupsCreated].sort()).toEqual(['sante-drh', 'sante-staff']);
    expect(report.created).toBe(4);
  });

  it('is idempotent, applies file passwords to new accounts only, and updates what changed', async () => {
    const csv = 'email,name,password\nawa@sante.gouv.tg,Awa,Un mot de passe solide\nkofi@sante.gouv.tg,Kofi,\n';
    expect(await run(csv)).toMatchObject({ created: 2, updated: 0, unchanged: 0, failed: 0 });
    expect(await run(csv)).toMatchObject({ created: 0, updated: 0, unchanged: 2, failed: 0 });
    const awa = (await stores.directory.findAccount('awa@sante.gouv.tg'))!;
    const hash = await stores.directory.getPasswordHash(awa.id);
    expect(hash).toMatch(/^\$argon2id\$/);
    // Awa changed her password since: a re-import must not undo that.
    await deps.credentials.setPassword(awa.id, 'Mon nouveau mot de passe');
    const changed = await stores.directory.getPasswordHash(awa.id);
    expect(await run('email,name,password\nawa@sante.gouv.tg,Awa D.,Un mot de passe solide\n')).toMatchObject({ updated: 1 });
    expect(await stores.directory.getPasswordHash(awa.id)).toBe(changed);
    expect((await stores.directory.getAccount(awa.id)).displayName).toBe('Awa D.');
    // …unless asked to.
    await run('email,password\nawa@sante.gouv.tg,Un mot de passe solide\n', { updatePasswords: true });
    expect(await stores.directory.getPasswordHash(awa.id)).not.toBe(changed);
  });

  it('refuses weak, empty-but-present and oversized passwords per line', async () => {
    const big = 'x'.repeat(2000);
    const report = await run(`email,password\na@sante.gouv.tg,short\nb@sante.gouv.tg,${big}\nc@sante.gouv.tg,Une phrase de passe correcte\n`);
    expect(report.problems.map((p) => p.line)).toEqual([2, 3]);
    expect(await stores.directory.findAccount('a@sante.gouv.tg')).toBeNull();
    expect(await stores.directory.findAccount('c@sante.gouv.tg')).not.toBeNull();
    const both = await run('email,password,password_hash\nd@sante.gouv.tg,Une phrase de passe correcte,"$argon2id$v=19$m=1,t=1,p=1$abc$def"\n');
    expect(both.problems[0]?.message).toMatch(/not both/);
  });

  it('survives hostile files: huge records, binary junk, no header, no email column', async () => {
    const huge = `email,name\n${'z'.repeat(200_000)}@sante.gouv.tg,x\nok@sante.gouv.tg,ok\n`;
    const report = await run(huge);
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(await stores.directory.findAccount('ok@sante.gouv.tg')).not.toBeNull();
    const junk = Buffer.concat([Buffer.from('email\n'), Buffer.from([0, 1, 2, 0xff, 0xfe, 10]), Buffer.from('fine@sante.gouv.tg\n')]);
    const r2 = await run(junk);
    expect(r2.failed).toBe(1);
    expect(await stores.directory.findAccount('fine@sante.gouv.tg')).not.toBeNull();
    await expect(run('name,department\nAwa,DRH\n')).rejects.toThrow(/email column/);
    await expect(run('')).rejects.toThrow(/empty/);
  });

  it('takes French headers, given name + name, French quotas and statuses, lists with commas', async () => {
    const csv = [
      'Courriel;Prénom;NOM;Département;Quota;Groupes;Statut',
      'awa@sante.gouv.tg;Awa;Diallo;DRH;"2,5 Go";sante-staff, sante-drh;actif',
      'kofi@sante.gouv.tg;;Mensah;DSI;500 Mo;;Suspendu',
      'esi@sante.gouv.tg;Esi;;;;;en congé',
    ].join('\r\n');
    const report = await run(csv);
    expect(report.separator).toBe(';');
    expect(report.problems).toEqual([{ line: 4, message: 'status must be active or suspended, not "en congé"' }]);
    const awa = (await stores.directory.findAccount('awa@sante.gouv.tg'))!;
    expect(awa).toMatchObject({ displayName: 'Awa Diallo', department: 'DRH', quotaBytes: Math.round(2.5 * 1024 ** 3), status: 'active' });
    expect((await stores.directory.groupsOfAccount(awa.id)).map((g) => g.name)).toEqual(['sante-drh', 'sante-staff']);
    expect(await stores.directory.findAccount('kofi@sante.gouv.tg')).toMatchObject({ displayName: 'Mensah', quotaBytes: 500 * 1024 ** 2, status: 'suspended' });
  });

  it('refuses a header that names a field twice, and rows with more fields than the header', async () => {
    await expect(run('email;courriel\na@sante.gouv.tg;b@sante.gouv.tg\n')).rejects.toThrow(/line 1: the header names the email column more than once \(email, courriel\)/);
    // An argon2 hash holds commas: unquoted in a ","-separated file it used to be cut and stored broken.
    const report = await run('email,password_hash,name\na@sante.gouv.tg,$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g,A\nb@sante.gouv.tg,,B,,\n');
    expect(report.problems).toEqual([{ line: 2, message: '5 fields where the header has 3: a separator inside a field that is not quoted?' }]);
    expect(await stores.directory.findAccount('a@sante.gouv.tg')).toBeNull();
    expect(await stores.directory.findAccount('b@sante.gouv.tg')).not.toBeNull();
  });

  it('names the lines of a record that a stray quote glued together', async () => {
    const report = await run('email,name\n"a@sante.gouv.tg,A\nb@sante.gouv.tg",B\nc@sante.gouv.tg,C\n');
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ line: 2, message: expect.stringMatching(/invalid characters.*this record runs from line 2 to 3: check its quotes/) });
    expect(await stores.directory.findAccount('c@sante.gouv.tg')).not.toBeNull();
  });
});

