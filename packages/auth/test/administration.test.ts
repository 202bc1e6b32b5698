import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPalabreError, type AuditEvent, type AuditLog, type DirectoryStore, type DriveStore, type MailStore } from '@palabre/core';
import { createCoreStores, createFsBlobStore, SqlMailStore, type FsBlobStore } from '@palabre/core/storage';
import { testBackends } from '@palabre/core/testing';
import { CLI_ACTOR, createAdministration, createCredentialService, verifyPasswordHash, type AdminActor, type Administration } from '../src/index.js';

/**
 * The administration functions on SQLite and PostgreSQL: what each change stores and audits, and the
 * attacker's side — someone signed in who is no administrator, another ministry's administrator, forged
 * actors, and names that are malformed, oversized or carry control characters — refused with nothing stored.
 */
const weak = { memoryKiB: 19456, iterations: 2, parallelism: 1 };
const SANTE = 'sante.gouv.tg';
const FINANCES = 'finances.gouv.tg';
const santeAdmin: AdminActor = { kind: 'principal', address: `chef@${SANTE}`, ip: '127.0.0.9', protocol: 'web' };
const financesAdmin: AdminActor = { kind: 'principal', address: `chef@${FINANCES}`, ip: '127.0.0.8', protocol: 'web' };
const staff: AdminActor = { kind: 'principal', address: `awa@${SANTE}`, ip: '127.0.0.7', protocol: 'web' };

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isPalabreError(error)) throw new Error(`expected a typed refusal, got ${String(error)}`);
  return error.kind;
}

describe.each(await testBackends())('administration functions on $name', (backend) => {
  let directory: DirectoryStore;
  let audit: AuditLog;
  let drive: DriveStore;
  let mail: MailStore;
  let blobs: FsBlobStore;
  let admin: Administration;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const opened = await backend.open();
    const stores = createCoreStores(opened.db);
    const blobDir = await mkdtemp(join(tmpdir(), 'palabre-admin-'));
    blobs = createFsBlobStore(blobDir);
    ({ directory, audit, drive } = stores);
    mail = new SqlMailStore(opened.db, { blobs, usage: stores.usage });
    const credentials = createCredentialService({ directory, audit, argon2: weak });
    // The hook a portal would give: one administrator per ministry, by address.
    const isDomainAdministrator = async (address: string, domain: string) => address === `chef@${domain}`;
    admin = createAdministration({ directory, audit, credentials, drive, mail, isDomainAdministrator });
    await admin.createDomain(CLI_ACTOR, { name: SANTE });
    await admin.createDomain(CLI_ACTOR, { name: FINANCES });
    cleanup = async () => {
      await blobs.close();
      await opened.cleanup();
      await rm(blobDir, { recursive: true, force: true });
    };
  });
  afterEach(async () => cleanup());

  const events = async (type?: AuditEvent['type']) => (await audit.list({ limit: 1000, ...(type ? { type } : {}) })).reverse();
  const snapshot = async () => ({
    accounts: (await directory.listAccounts({ limit: 1000 })).accounts.map((a) => `${a.address}:${a.status}:${a.quotaBytes}`),
    groups: (await directory.listGroups()).map((g) => g.name),
    domains: (await directory.listDomains()).map((d) => `${d.name}:${d.aliases.join(',')}`),
    spaces: (await drive.listSpaces({ groupIds: (await directory.listGroups()).map((g) => g.id) })).map((s) => s.name),
  });

  it('the CLI provisions a ministry: every change stored and audited with its usual event type', async () => {
    const created = await admin.createAccount(CLI_ACTOR, { address: `Awa@${SANTE}`, displayName: 'Awa Mensah', quotaBytes: 1024 });
    expect(created.account.address).toBe(`awa@${SANTE}`);
    expect(created.generatedPassword).toMatch(/^([a-z2-9]{5}-){3}[a-z2-9]{5}$/);
    const hash = await directory.getPasswordHash(created.account.id);
    expect(await verifyPasswordHash(hash!, created.generatedPassword!)).toBe(true);
    const ldap = await admin.createAccount(CLI_ACTOR, { address: `kofi@${SANTE}`, password: null });
    expect(ldap.generatedPassword).toBeNull();
    expect(await directory.getPasswordHash(ldap.account.id)).toBeNull();

    expect((await admin.suspendAccount(CLI_ACTOR, { address: `awa@${SANTE}` })).status).toBe('suspended');
    expect((await admin.unsuspendAccount(CLI_ACTOR, { address: `awa@${SANTE}` })).status).toBe('active');
    expect((await admin.setQuota(CLI_ACTOR, { address: `awa@${SANTE}`, quotaBytes: 2048 })).quotaBytes).toBe(2048);
    const changed = await admin.setPassword(CLI_ACTOR, { address: `awa@${SANTE}`, password: 'Une phrase de passe assez longue' });
    expect(changed.generatedPassword).toBeNull();
    await admin.addAlias(CLI_ACTOR, { alias: `a.mensah@${SANTE}`, address: `awa@${SANTE}` });
    const group = await admin.createGroup(CLI_ACTOR, { name: 'sante-drh', domain: SANTE, address: `drh@${SANTE}` });
    await admin.addGroupMember(CLI_ACTOR, { group: 'sante-drh', member: { address: `awa@${SANTE}` } });
    expect((await directory.listGroupMembers(group.id)).map((m) => (m.kind === 'account' ? m.address : m.name))).toEqual([`awa@${SANTE}`]);
    const issued = await admin.issueAppPassword(CLI_ACTOR, { address: `awa@${SANTE}`, label: 'iPhone' });
    expect(issued.secret.length).toBeGreaterThan(15);
    await admin.revokeCredential(CLI_ACTOR, { address: `awa@${SANTE}`, credential: 'iPhone' });
    const folder = await admin.createGroupFolder(CLI_ACTOR, { group: 'sante-drh', access: 'read' });
    expect(folder.space.name).toBe('sante-drh');
    const grant = await admin.grantFolder(CLI_ACTOR, { folder: 'sante-drh', to: { address: `kofi@${SANTE}` }, access: 'write' });
    expect(grant).toMatchObject({ label: `kofi@${SANTE}`, access: 'write' });
    expect((await drive.grantsOn([folder.space.rootId])).map((g) => g.access).sort()).toEqual(['read', 'write']);
    const shared = await admin.shareMailbox(CLI_ACTOR, {
      address: `awa@${SANTE}`,
      mailbox: 'INBOX',
      grantee: { kind: 'account', id: ldap.account.id },
      identifier: `kofi@${SANTE}`,
      rights: 'rl',
    });
    expect(shared).toMatchObject({ rights: 'lr', effective: 'lr' });
    await admin.removeGroupMember(CLI_ACTOR, { group: 'sante-drh', member: { address: `awa@${SANTE}` } });
    await admin.removeGroupFolder(CLI_ACTOR, { folder: 'sante-drh' });
    await admin.removeGroup(CLI_ACTOR, { name: 'sante-drh' });
    await admin.removeAlias(CLI_ACTOR, { alias: `a.mensah@${SANTE}` });
    await admin.removeAccount(CLI_ACTOR, { address: `awa@${SANTE}` });
    await admin.removeAccount(CLI_ACTOR, { address: `kofi@${SANTE}` });
    await admin.addDomainAlias(CLI_ACTOR, { domain: SANTE, alias: 'ms.gouv.tg' });
    await admin.removeDomainAlias(CLI_ACTOR, { alias: 'ms.gouv.tg' });
    await admin.removeDomain(CLI_ACTOR, { name: FINANCES });

    const log = await events();
    expect(log.every((e) => e.actor === 'cli' && e.protocol === 'cli')).toBe(true);
    expect(log.map((e) => `${e.type} ${e.target} ${e.detail ?? ''}`.trim())).toEqual([
      `domain.created ${SANTE}`,
      `domain.created ${FINANCES}`,
      `account.created awa@${SANTE}`,
      `account.created kofi@${SANTE}`,
      `account.suspended awa@${SANTE}`,
      `account.updated awa@${SANTE} unsuspended`,
      `account.updated awa@${SANTE} quota 2048`,
      `password.changed awa@${SANTE}`,
      `alias.changed a.mensah@${SANTE} -> awa@${SANTE}`,
      'group.changed sante-drh created',
      `group.changed sante-drh added awa@${SANTE}`,
      `credential.created awa@${SANTE} app-password ${issued.credential.id} "iPhone"`,
      `credential.revoked awa@${SANTE} app-password ${issued.credential.id} "iPhone"`,
      'group.changed sante-drh group folder created, read for members',
      `group.changed sante-drh kofi@${SANTE}: write`,
      `mailbox.shared awa@${SANTE}/INBOX kofi@${SANTE} lr`,
      `group.changed sante-drh removed awa@${SANTE}`,
      'group.changed sante-drh group folder removed',
      'group.changed sante-drh removed',
      `alias.changed a.mensah@${SANTE} removed`,
      `account.removed awa@${SANTE}`,
      `account.removed kofi@${SANTE}`,
      'alias.changed ms.gouv.tg domain alias of sante.gouv.tg',
      'alias.changed ms.gouv.tg domain alias removed',
      `domain.removed ${FINANCES}`,
    ]);
  });

  it("a ministry's administrator administers that ministry, audited under their own name", async () => {
    const { account } = await admin.createAccount(santeAdmin, { address: `awa@${SANTE}`, password: 'Une phrase de passe assez longue' });
    await admin.createGroup(santeAdmin, { name: 'sante-drh', domain: SANTE });
    await admin.addGroupMember(santeAdmin, { group: 'sante-drh', member: { address: `awa@${SANTE}` } });
    await admin.suspendAccount(santeAdmin, { address: `awa@${SANTE}` });
    expect((await directory.getAccount(account.id)).status).toBe('suspended');
    const log = (await events()).filter((e) => e.actor === santeAdmin.address);
    expect(log.map((e) => e.type)).toEqual(['account.created', 'group.changed', 'group.changed', 'account.suspended']);
    expect(log.every((e) => e.ip === '127.0.0.9' && e.protocol === 'web')).toBe(true);
  });

  it('someone signed in who administers nothing is refused everything, each attempt audited, nothing changed', async () => {
    await admin.createAccount(CLI_ACTOR, { address: `awa@${SANTE}`, password: null });
    await admin.createAccount(CLI_ACTOR, { address: `kofi@${SANTE}`, password: null });
    await admin.createGroup(CLI_ACTOR, { name: 'sante-drh', domain: SANTE });
    await admin.createGroupFolder(CLI_ACTOR, { group: 'sante-drh' });
    const before = await snapshot();
    const auditBefore = (await events()).length;
    const kofi = (await directory.findAccount(`kofi@${SANTE}`))!;
    const attempts: (() => Promise<unknown>)[] = [
      () => admin.createDomain(staff, { name: 'pirate.gouv.tg' }),
      () => admin.removeDomain(staff, { name: FINANCES }),
      () => admin.addDomainAlias(staff, { domain: SANTE, alias: 'pirate.gouv.tg' }),
      () => admin.createAccount(staff, { address: `faux@${SANTE}`, password: null }),
      () => admin.upsertAccounts(staff, [{ address: `faux@${SANTE}` }]),
      () => admin.suspendAccount(staff, { address: `kofi@${SANTE}` }),
      () => admin.setQuota(staff, { address: `awa@${SANTE}`, quotaBytes: null }),
      () => admin.setPassword(staff, { address: `kofi@${SANTE}`, password: 'Une phrase de passe assez longue' }),
      () => admin.removeAccount(staff, { address: `kofi@${SANTE}` }),
      () => admin.addAlias(staff, { alias: `chef@${SANTE}`, address: `awa@${SANTE}` }),
      () => admin.createGroup(staff, { name: 'pirates', domain: SANTE }),
      () => admin.addGroupMember(staff, { group: 'sante-drh', member: { address: `awa@${SANTE}` } }),
      () => admin.removeGroup(staff, { name: 'sante-drh' }),
      () => admin.issueAppPassword(staff, { address: `kofi@${SANTE}`, label: 'stolen' }),
      () => admin.grantFolder(staff, { folder: 'sante-drh', to: { address: `awa@${SANTE}` }, access: 'write' }),
      () => admin.removeGroupFolder(staff, { folder: 'sante-drh' }),
      () => admin.shareMailbox(staff, { address: `kofi@${SANTE}`, mailbox: 'INBOX', grantee: { kind: 'anyone' }, identifier: 'anyone', rights: 'lr' }),
      // Whether an account or a group exists is no business of a non-administrator: forbidden, not "not found".
      () => admin.suspendAccount(staff, { address: `nobody@${SANTE}` }),
      () => admin.removeGroup(staff, { name: 'no-such-group' }),
    ];
    for (const attempt of attempts) expect(await refusal(attempt())).toBe('forbidden');
    expect(await snapshot()).toEqual(before);
    expect(await directory.listCredentials(kofi.id)).toEqual([]);
    const denied = (await events()).slice(auditBefore);
    expect(denied).toHaveLength(attempts.length);
    expect(denied.every((e) => e.type === 'access.denied' && e.actor === staff.address && e.ip === '127.0.0.7')).toBe(true);
  });

  it("another ministry's administrator is refused in sante.gouv.tg, including through a group, alias or folder of theirs", async () => {
    await admin.createAccount(CLI_ACTOR, { address: `awa@${SANTE}`, password: null });
    await admin.createAccount(CLI_ACTOR, { address: `ama@${FINANCES}`, password: null });
    await admin.createGroup(CLI_ACTOR, { name: 'sante-drh', domain: SANTE });
    await admin.createGroup(CLI_ACTOR, { name: 'finances-drh', domain: FINANCES });
    await admin.createGroupFolder(CLI_ACTOR, { group: 'sante-drh' });
    const before = await snapshot();
    const attempts: (() => Promise<unknown>)[] = [
      () => admin.createAccount(financesAdmin, { address: `faux@${SANTE}`, password: null }),
      () => admin.suspendAccount(financesAdmin, { address: `awa@${SANTE}` }),
      // Their own alias pointing at someone else's account, or someone else's alias at theirs.
      () => admin.addAlias(financesAdmin, { alias: `awa@${FINANCES}`, address: `awa@${SANTE}` }),
      () => admin.addAlias(financesAdmin, { alias: `ama@${SANTE}`, address: `ama@${FINANCES}` }),
      // A group of theirs that would receive mail at a sante address.
      () => admin.createGroup(financesAdmin, { name: 'pirates', domain: FINANCES, address: `tous@${SANTE}` }),
      () => admin.createGroup(financesAdmin, { name: 'pirates', domain: SANTE }),
      () => admin.addGroupMember(financesAdmin, { group: 'finances-drh', member: { address: `awa@${SANTE}` } }),
      () => admin.addGroupMember(financesAdmin, { group: 'sante-drh', member: { address: `ama@${FINANCES}` } }),
      () => admin.grantFolder(financesAdmin, { folder: 'sante-drh', to: { group: 'finances-drh' }, access: 'write' }),
      () => admin.upsertAccounts(financesAdmin, [{ address: `new@${FINANCES}` }, { address: `faux@${SANTE}` }]),
    ];
    for (const attempt of attempts) expect(await refusal(attempt())).toBe('forbidden');
    expect(await snapshot()).toEqual(before);
    expect((await events('access.denied')).filter((e) => e.actor === financesAdmin.address)).toHaveLength(attempts.length);
    // Their own ministry is theirs.
    await admin.addGroupMember(financesAdmin, { group: 'finances-drh', member: { address: `ama@${FINANCES}` } });
  });

  it('forged actors are refused before anything is looked at', async () => {
    for (const actor of [{ kind: 'root' }, { kind: 'principal', address: '' }, { kind: 'principal', address: 'x'.repeat(400) }, null]) {
      expect(await refusal(admin.createAccount(actor as unknown as AdminActor, { address: `faux@${SANTE}`, password: null }))).toBe('invalid');
    }
    expect(await directory.countAccounts()).toBe(0);
  });

  it('malformed, oversized and control-character names and addresses are refused with nothing stored', async () => {
    await admin.createAccount(CLI_ACTOR, { address: `awa@${SANTE}`, password: null });
    const before = await snapshot();
    const auditBefore = (await events()).length;
    const badAddresses = [
      'no-at-sign',
      `@${SANTE}`,
      'awa@',
      `a\u0000wa@${SANTE}`,
      `awa\r\nBcc: x@evil.tg@${SANTE}`,
      `awa@sante\u0000.gouv.tg`,
      `${'a'.repeat(300)}@${SANTE}`,
      `awa@${'x'.repeat(250)}.tg`,
      'a'.repeat(5000),
    ];
    for (const address of badAddresses) {
      expect(await refusal(admin.createAccount(CLI_ACTOR, { address, password: null }))).toBe('invalid');
      expect(await refusal(admin.createAccount(santeAdmin, { address, password: null }))).toBe('invalid');
      expect(await refusal(admin.addAlias(CLI_ACTOR, { alias: address, address: `awa@${SANTE}` }))).toBe('invalid');
      expect(await refusal(admin.createGroup(CLI_ACTOR, { name: 'ok-group', domain: SANTE, address }))).toBe('invalid');
    }
    const badText = [
      { displayName: 'Awa\u0000Mensah' },
      { displayName: 'x'.repeat(10_000) },
      { department: 'DRH\u001b[31m' },
      { department: 'd'.repeat(10_000) },
      { quotaBytes: -1 },
      { quotaBytes: 2 ** 60 },
      { quotaBytes: 1.5 },
    ];
    for (const extra of badText) {
      expect(await refusal(admin.createAccount(CLI_ACTOR, { address: `kofi@${SANTE}`, password: null, ...extra }))).toBe('invalid');
    }
    // A password the policy refuses leaves no account behind.
    expect(await refusal(admin.createAccount(CLI_ACTOR, { address: `kofi@${SANTE}`, password: 'short' }))).toBe('invalid');
    for (const name of ['', 'UPPER case', 'drh\u0000', 'drh\n', '-drh', 'g'.repeat(300), '../drh']) {
      expect(await refusal(admin.createGroup(CLI_ACTOR, { name, domain: SANTE }))).toBe('invalid');
    }
    for (const name of ['', 'pirate\u0000.tg', 'a..b', `${'x'.repeat(64)}.tg`, 'x'.repeat(300)]) {
      expect(await refusal(admin.createDomain(CLI_ACTOR, { name }))).toBe('invalid');
    }
    expect(await refusal(admin.setQuota(CLI_ACTOR, { address: `awa@${SANTE}`, quotaBytes: -5 }))).toBe('invalid');
    expect(await refusal(admin.issueAppPassword(CLI_ACTOR, { address: `awa@${SANTE}`, label: 'phone\u0000' }))).toBe('invalid');
    expect(await refusal(admin.issueAppPassword(CLI_ACTOR, { address: `awa@${SANTE}`, label: 'p'.repeat(5000) }))).toBe('invalid');
    const shareOf = (rights: string, mailbox = 'INBOX') =>
      admin.shareMailbox(CLI_ACTOR, { address: `awa@${SANTE}`, mailbox, grantee: { kind: 'anyone' }, identifier: 'anyone', rights });
    expect(await refusal(shareOf('lrz'))).toBe('invalid');
    expect(await refusal(shareOf('l'.repeat(100)))).toBe('invalid');
    expect(await refusal(shareOf('lr', 'INBOX\u0000'))).toBe('not-found');
    expect(await refusal(shareOf('lr', 'x'.repeat(5000)))).toBe('not-found');

    expect(await snapshot()).toEqual(before);
    const awa = (await directory.findAccount(`awa@${SANTE}`))!;
    expect(await directory.listCredentials(awa.id)).toEqual([]);
    expect(await directory.listAliases(awa.id)).toEqual([]);
    expect(await mail.getAcl((await mail.getMailbox(awa.id, 'INBOX'))!.id)).toEqual([]);
    // Input mistakes change nothing, so they leave no event: there is no audit type for "typo".
    expect((await events()).slice(auditBefore)).toEqual([]);
  });

  it('bulk provisioning audits what it created and changed per domain, and nothing it left alone', async () => {
    const rows = [{ address: `awa@${SANTE}`, displayName: 'Awa' }, { address: `ama@${FINANCES}` }];
    expect(await admin.upsertAccounts({ kind: 'cli', via: 'import' }, rows)).toEqual(['created', 'created']);
    expect(await admin.upsertAccounts({ kind: 'cli', via: 'import' }, [{ address: `awa@${SANTE}`, displayName: 'Awa Mensah' }, rows[1]!])).toEqual([
      'updated',
      'unchanged',
    ]);
    const log = (await events()).filter((e) => e.type.startsWith('account.'));
    expect(log.map((e) => `${e.type} ${e.target} ${e.detail}`)).toEqual([
      `account.created ${SANTE} awa@${SANTE} created by import`,
      `account.created ${FINANCES} ama@${FINANCES} created by import`,
      `account.updated ${SANTE} awa@${SANTE} updated by import`,
    ]);
    const many = Array.from({ length: 30 }, (_, i) => ({ address: `agent${String(i).padStart(2, '0')}@${SANTE}` }));
    await admin.upsertAccounts({ kind: 'cli', via: 'import' }, many);
    expect((await events('account.created')).at(-1)).toMatchObject({
      target: SANTE,
      detail: `30 accounts created (agent00@${SANTE} … agent29@${SANTE}) by import`,
    });
  });
});
