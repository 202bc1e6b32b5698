import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DirectoryStore } from '../../directory/directory-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA';
const SECRET_A = 'a'.repeat(64);
const SECRET_B = 'b'.repeat(64);

/** The behaviour every DirectoryStore must have (memory, SQLite, PostgreSQL). */
export function directoryStoreContract(name: string, subject: ContractSubject<DirectoryStore>): void {
  describe(`DirectoryStore contract: ${name}`, () => {
    let store: DirectoryStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('domains', () => {
      it('creates, finds in any case or script, lists and removes a domain', async () => {
        const d = await store.createDomain({ name: 'Sante.Gouv.TG', defaultQuotaBytes: 1024 });
        expect(d.name).toBe('sante.gouv.tg');
        expect(d.defaultQuotaBytes).toBe(1024);
        expect((await store.findDomain('SANTE.gouv.tg.'))?.id).toBe(d.id);
        expect(await store.findDomain('other.gouv.tg')).toBeNull();
        expect(await store.findDomain('not a domain')).toBeNull();
        expect((await store.listDomains()).map((x) => x.name)).toEqual(['sante.gouv.tg']);
        expect((await store.getDomainById(d.id)).name).toBe('sante.gouv.tg');
        await store.removeDomain('sante.gouv.tg');
        expect(await store.listDomains()).toEqual([]);
        await expectKind(store.removeDomain('sante.gouv.tg'), 'not-found');
      });

      it('stores internationalised domains as A-labels and finds them by U-label', async () => {
        const d = await store.createDomain({ name: 'ministère.gouv.tg' });
        expect(d.name).toBe('xn--ministre-60a.gouv.tg');
        expect((await store.findDomain('MINISTÈRE.gouv.tg'))?.id).toBe(d.id);
        await expectKind(store.createDomain({ name: 'xn--ministre-60a.gouv.tg' }), 'conflict');
      });

      it('refuses malformed domain names without storing anything', async () => {
        for (const bad of ['', 'localhost', '-bad.gouv.tg', 'bad-.gouv.tg', 'a..b.tg', 'a b.tg', 'x'.repeat(64) + '.tg', 'a.b/c.tg', '1.2.3.4', `${'a.'.repeat(130)}tg`, 'a@b.tg', 'nul\u0000.tg']) {
          await expectKind(store.createDomain({ name: bad }), 'invalid');
        }
        await expectKind(store.createDomain({ name: 'ok.tg', defaultQuotaBytes: -1 }), 'invalid');
        expect(await store.listDomains()).toEqual([]);
      });

      it('refuses a duplicate domain', async () => {
        await store.createDomain({ name: 'gouv.tg' });
        await expectKind(store.createDomain({ name: 'GOUV.TG' }), 'conflict');
        expect(await store.listDomains()).toHaveLength(1);
      });

      it('manages domain aliases that share the namespace of domains', async () => {
        await store.createDomain({ name: 'ms.gouv.tg' });
        await store.createDomain({ name: 'other.gouv.tg' });
        const d = await store.addDomainAlias('ms.gouv.tg', 'sante.gouv.tg');
        expect(d.aliases).toEqual(['sante.gouv.tg']);
        expect((await store.findDomain('sante.gouv.tg'))?.name).toBe('ms.gouv.tg');
        await expectKind(store.addDomainAlias('ms.gouv.tg', 'other.gouv.tg'), 'conflict');
        await expectKind(store.addDomainAlias('missing.gouv.tg', 'x.gouv.tg'), 'not-found');
        await expectKind(store.createDomain({ name: 'sante.gouv.tg' }), 'conflict');
        await expectKind(store.removeDomainAlias('ms.gouv.tg'), 'not-found');
        await store.removeDomainAlias('sante.gouv.tg');
        expect(await store.findDomain('sante.gouv.tg')).toBeNull();
      });

      it('will not remove a domain that still has accounts', async () => {
        await store.createDomain({ name: 'gouv.tg' });
        const a = await store.createAccount({ address: 'awa@gouv.tg' });
        await expectKind(store.removeDomain('gouv.tg'), 'conflict');
        await store.removeAccount(a.id);
        await store.removeDomain('gouv.tg');
      });
    });

    describe('accounts', () => {
      beforeEach(async () => {
        await store.createDomain({ name: 'sante.gouv.tg', defaultQuotaBytes: 5_000_000 });
      });

      it('creates an account with normalised address and the domain default quota', async () => {
        const a = await store.createAccount({ address: ' Awa.Diallo@SANTE.gouv.tg ', displayName: 'Awa Diallo', department: 'DRH' });
        expect(a.address).toBe('awa.diallo@sante.gouv.tg');
        expect(a.displayName).toBe('Awa Diallo');
        expect(a.department).toBe('DRH');
        expect(a.quotaBytes).toBe(5_000_000);
        expect(a.status).toBe('active');
        expect(a.lastLoginAt).toBeNull();
        expect(a.createdAt).toBeInstanceOf(Date);
        expect(a).not.toHaveProperty('passwordHash');
        expect((await store.getAccount(a.id)).address).toBe(a.address);
        expect((await store.findAccount('AWA.DIALLO@sante.gouv.tg'))?.id).toBe(a.id);
        const unlimited = await store.createAccount({ address: 'big@sante.gouv.tg', quotaBytes: null });
        expect(unlimited.quotaBytes).toBeNull();
      });

      it('keeps message and mailbox limits (RFC 9208 MESSAGE, MAILBOX): the domain default, set, changed, upserted', async () => {
        await store.createDomain({ name: 'limits.tg', defaultQuotaMessages: 10_000, defaultQuotaMailboxes: 200 });
        expect(await store.findDomain('limits.tg')).toMatchObject({ defaultQuotaMessages: 10_000, defaultQuotaMailboxes: 200 });
        expect((await store.listDomains()).find((d) => d.name === 'limits.tg')).toMatchObject({ defaultQuotaMessages: 10_000, defaultQuotaMailboxes: 200 });
        const a = await store.createAccount({ address: 'awa@limits.tg' });
        expect(a).toMatchObject({ quotaMessages: 10_000, quotaMailboxes: 200 });
        expect(await store.createAccount({ address: 'free@sante.gouv.tg' })).toMatchObject({ quotaMessages: null, quotaMailboxes: null });
        expect(await store.createAccount({ address: 'own@limits.tg', quotaMessages: 5, quotaMailboxes: null })).toMatchObject({ quotaMessages: 5, quotaMailboxes: null });
        expect(await store.updateAccount(a.id, { quotaMessages: 42 })).toMatchObject({ quotaMessages: 42, quotaMailboxes: 200 });
        expect(await store.getAccount(a.id)).toMatchObject({ quotaMessages: 42, quotaMailboxes: 200 });
        expect(await store.upsertAccounts([{ address: 'awa@limits.tg', quotaMailboxes: 7 }])).toEqual(['updated']);
        expect(await store.findAccount('awa@limits.tg')).toMatchObject({ quotaMessages: 42, quotaMailboxes: 7 });
        for (const bad of [-1, 1.5, 2 ** 31, '10' as never]) {
          await expectKind(store.updateAccount(a.id, { quotaMessages: bad }), 'invalid');
          await expectKind(store.updateAccount(a.id, { quotaMailboxes: bad }), 'invalid');
          await expectKind(store.createDomain({ name: 'bad.tg', defaultQuotaMessages: bad }), 'invalid');
        }
        expect(await store.getAccount(a.id)).toMatchObject({ quotaMessages: 42, quotaMailboxes: 7 });
      });

      it('accepts internationalised local parts and domains', async () => {
        await store.createDomain({ name: 'éducation.gouv.tg' });
        const a = await store.createAccount({ address: 'Élodie@Éducation.gouv.tg' });
        expect(a.address).toBe('élodie@xn--ducation-90a.gouv.tg');
        expect((await store.findAccount('élodie@éducation.gouv.tg'))?.id).toBe(a.id);
      });

      it('refuses malformed addresses and fields, storing nothing', async () => {
        const bad = [
          '',
          'nobody',
          '@sante.gouv.tg',
          'awa@',
          'a b@sante.gouv.tg',
          '"quoted"@sante.gouv.tg',
          'awa..x@sante.gouv.tg',
          '.awa@sante.gouv.tg',
          'awa+tag@sante.gouv.tg',
          'awa\u0000@sante.gouv.tg',
          'awa\r\nRCPT TO:<x@evil.tg>@sante.gouv.tg',
          `${'a'.repeat(65)}@sante.gouv.tg`,
          'awa@sante.gouv.tg@evil.tg',
          'x'.repeat(1_000_000),
        ];
        for (const address of bad) await expectKind(store.createAccount({ address }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', displayName: 'x'.repeat(1_000_000) }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', displayName: 'bad\u0007' }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', quotaBytes: -5 }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', quotaBytes: 1.5 }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', status: 'root' as never }), 'invalid');
        await expectKind(store.createAccount({ address: 'ok@sante.gouv.tg', passwordHash: 'plaintext' }), 'invalid');
        expect(await store.countAccounts()).toBe(0);
      });

      it('refuses an account in a domain that is not hosted', async () => {
        await expectKind(store.createAccount({ address: 'awa@elsewhere.tg' }), 'not-found');
      });

      it('refuses duplicates, whatever the case or domain alias', async () => {
        await store.addDomainAlias('sante.gouv.tg', 'ms.gouv.tg');
        await store.createAccount({ address: 'awa@sante.gouv.tg' });
        await expectKind(store.createAccount({ address: 'AWA@sante.gouv.tg' }), 'conflict');
        await expectKind(store.createAccount({ address: 'awa@ms.gouv.tg' }), 'conflict');
        expect(await store.countAccounts()).toBe(1);
        expect((await store.findAccount('awa@ms.gouv.tg'))?.address).toBe('awa@sante.gouv.tg');
      });

      it('lets exactly one of many concurrent creations of one address win', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.createAccount({ address: 'race@sante.gouv.tg', displayName: `n${i}` })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { kind: string }).kind).toBe('conflict');
        }
        expect(await store.countAccounts()).toBe(1);
      });

      it('updates, suspends and removes accounts', async () => {
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        const b = await store.updateAccount(a.id, { displayName: 'Awa D.', department: 'DSI', quotaBytes: 42, status: 'suspended' });
        expect(b).toMatchObject({ displayName: 'Awa D.', department: 'DSI', quotaBytes: 42, status: 'suspended' });
        await expectKind(store.updateAccount(a.id, { status: 'deleted' as never }), 'invalid');
        await expectKind(store.updateAccount('00000000-0000-0000-0000-000000000000', { displayName: 'x' }), 'not-found');
        await store.recordLogin(a.id, new Date('2026-05-01T10:00:00Z'));
        expect((await store.getAccount(a.id)).lastLoginAt?.toISOString()).toBe('2026-05-01T10:00:00.000Z');
        await store.removeAccount(a.id);
        await expectKind(store.getAccount(a.id), 'not-found');
        expect(await store.findAccount('awa@sante.gouv.tg')).toBeNull();
        // The address is free again.
        await store.createAccount({ address: 'awa@sante.gouv.tg' });
      });

      it('keeps password hashes apart from account data', async () => {
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg', passwordHash: HASH });
        expect(await store.getPasswordHash(a.id)).toBe(HASH);
        await store.setPasswordHash(a.id, null);
        expect(await store.getPasswordHash(a.id)).toBeNull();
        await expectKind(store.setPasswordHash(a.id, 'hunter2'), 'invalid');
        await expectKind(store.getPasswordHash('00000000-0000-0000-0000-000000000000'), 'not-found');
      });

      it('pages through accounts in address order, per domain', async () => {
        await store.createDomain({ name: 'finances.gouv.tg' });
        for (let i = 0; i < 25; i++) await store.createAccount({ address: `u${String(i).padStart(2, '0')}@sante.gouv.tg` });
        await store.createAccount({ address: 'zz@finances.gouv.tg' });
        const seen: string[] = [];
        let after: string | null = null;
        do {
          const page = await store.listAccounts({ domain: 'sante.gouv.tg', after, limit: 10 });
          seen.push(...page.accounts.map((a) => a.address));
          after = page.next;
        } while (after);
        expect(seen).toHaveLength(25);
        expect(seen[0]).toBe('u00@sante.gouv.tg');
        expect([...seen].sort()).toEqual(seen);
        expect(await store.countAccounts('sante.gouv.tg')).toBe(25);
        expect(await store.countAccounts()).toBe(26);
        await expectKind(store.listAccounts({ domain: 'nowhere.tg' }), 'not-found');
      });
    });

    describe('search', () => {
      it('finds active accounts by display-name prefix, case and accents aside, in one domain', async () => {
        const sante = await store.createDomain({ name: 'sante.gouv.tg' });
        const fin = await store.createDomain({ name: 'finances.gouv.tg' });
        const elodie = await store.createAccount({ address: 'ekpatcha@sante.gouv.tg', displayName: 'Élodie Kpatcha' });
        await store.createAccount({ address: 'eric@sante.gouv.tg', displayName: 'Éric Dossou' });
        await store.createAccount({ address: 'elom@finances.gouv.tg', displayName: 'Élom Agbeko' });
        const gone = await store.createAccount({ address: 'eloise@sante.gouv.tg', displayName: 'Eloïse Ama' });
        await store.updateAccount(gone.id, { status: 'suspended' });
        const names = async (domainId: string | null, text: string, limit = 10) => (await store.search(domainId, text, limit)).map((a) => a.address);
        expect(await names(sante.id, 'elo')).toEqual(['ekpatcha@sante.gouv.tg']);
        expect(await names(sante.id, 'ÉLOD')).toEqual(['ekpatcha@sante.gouv.tg']);
        expect(await names(sante.id, '  élodie   kp')).toEqual(['ekpatcha@sante.gouv.tg']);
        expect(await names(sante.id, 'e')).toEqual(['ekpatcha@sante.gouv.tg', 'eric@sante.gouv.tg']);
        expect(await names(sante.id, 'e', 1)).toEqual(['ekpatcha@sante.gouv.tg']);
        expect(await names(fin.id, 'elo')).toEqual(['elom@finances.gouv.tg']);
        expect(await names(null, 'elo')).toEqual(['ekpatcha@sante.gouv.tg', 'elom@finances.gouv.tg']);
        expect(await names(sante.id, 'kpatcha')).toEqual([]);
        expect(await names(sante.id, '   ')).toEqual([]);
        // A rename is searched by its new name.
        await store.updateAccount(elodie.id, { displayName: 'Ablavi Kpatcha' });
        expect(await names(sante.id, 'elod')).toEqual([]);
        expect(await names(sante.id, 'ablavi')).toEqual(['ekpatcha@sante.gouv.tg']);
      });

      it('finds accounts by a prefix of their address or of an alias, and bulk-provisioned ones by name', async () => {
        const sante = await store.createDomain({ name: 'sante.gouv.tg' });
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg', displayName: 'Awa Mensah' });
        await store.addAlias('secretariat.dg@sante.gouv.tg', a.id);
        await store.createGroup({ name: 'sec', domain: 'sante.gouv.tg', address: 'secours@sante.gouv.tg' });
        await store.upsertAccounts([{ address: 'kofi@sante.gouv.tg', displayName: 'Kofi Ànan' }]);
        expect((await store.search(sante.id, 'SECRETARIAT.D', 10)).map((x) => x.address)).toEqual(['awa@sante.gouv.tg']);
        expect((await store.search(sante.id, 'sec', 10)).map((x) => x.address)).toEqual(['awa@sante.gouv.tg']);
        expect((await store.search(sante.id, 'awa@', 10)).map((x) => x.address)).toEqual(['awa@sante.gouv.tg']);
        expect((await store.search(sante.id, 'kofi an', 10)).map((x) => x.address)).toEqual(['kofi@sante.gouv.tg']);
        await store.upsertAccounts([{ address: 'kofi@sante.gouv.tg', displayName: 'Yao Kofi' }]);
        expect((await store.search(sante.id, 'yao', 10)).map((x) => x.address)).toEqual(['kofi@sante.gouv.tg']);
      });

      it('reads %, _ and \\ as plain characters, bounds the text and the count', async () => {
        const sante = await store.createDomain({ name: 'sante.gouv.tg' });
        for (let i = 0; i < 120; i++) await store.createAccount({ address: `agent${i}@sante.gouv.tg`, displayName: `Agent ${i}` });
        await store.createAccount({ address: 'pct@sante.gouv.tg', displayName: '100% Santé_\\x' });
        for (const t of ['%', '_', '\\', 'a%', 'agent_', '%agent', 'ag\\%', "'; DROP TABLE accounts; --", '\uffff', '\u{10ffff}']) {
          expect(await store.search(sante.id, t, 10), t).toEqual([]);
        }
        expect((await store.search(sante.id, '100%', 10)).map((x) => x.address)).toEqual(['pct@sante.gouv.tg']);
        expect((await store.search(sante.id, '100% sante_\\', 10)).map((x) => x.address)).toEqual(['pct@sante.gouv.tg']);
        expect(await store.search(sante.id, 'agent', 1000)).toHaveLength(100);
        await expectKind(store.search(sante.id, 'a'.repeat(10_000), 10), 'invalid');
        await expectKind(store.search(sante.id, 'a\u0000', 10), 'invalid');
        await expectKind(store.search(sante.id, 'a', 0), 'invalid');
        await expectKind(store.search(sante.id, 'a', 1.5), 'invalid');
      });
    });

    describe('aliases and address resolution', () => {
      beforeEach(async () => {
        await store.createDomain({ name: 'sante.gouv.tg' });
        await store.addDomainAlias('sante.gouv.tg', 'ms.gouv.tg');
      });

      it('resolves primary addresses, aliases and groups, through domain aliases', async () => {
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        const alias = await store.addAlias('Secretariat@ms.gouv.tg', a.id);
        expect(alias.address).toBe('secretariat@sante.gouv.tg');
        const g = await store.createGroup({ name: 'sante-staff', domain: 'sante.gouv.tg', address: 'tous@sante.gouv.tg' });
        expect(await store.resolveAddress('awa@ms.gouv.tg')).toMatchObject({ kind: 'account', via: 'primary', account: { id: a.id } });
        expect(await store.resolveAddress('secretariat@sante.gouv.tg')).toMatchObject({ kind: 'account', via: 'alias', account: { id: a.id } });
        expect(await store.resolveAddress('TOUS@ms.gouv.tg')).toMatchObject({ kind: 'group', group: { id: g.id } });
        expect(await store.resolveAddress('nobody@sante.gouv.tg')).toBeNull();
        expect(await store.resolveAddress('awa@elsewhere.tg')).toBeNull();
        expect(await store.resolveAddress('garbage')).toBeNull();
        expect((await store.listAliases(a.id)).map((x) => x.address)).toEqual(['secretariat@sante.gouv.tg']);
        const b = await store.createAccount({ address: 'kofi@sante.gouv.tg' });
        await store.addAlias('z-kofi@ms.gouv.tg', b.id);
        await store.addAlias('a-kofi@sante.gouv.tg', b.id);
        const many = await store.aliasesOf([a.id, b.id, 'no-such-account']);
        expect([...many].map(([id, list]) => [id, list.map((x) => x.address)])).toEqual([
          [a.id, ['secretariat@sante.gouv.tg']],
          [b.id, ['a-kofi@sante.gouv.tg', 'z-kofi@sante.gouv.tg']],
          ['no-such-account', []],
        ]);
        expect((await store.aliasesOf([])).size).toBe(0);
        await expectKind(store.aliasesOf(Array.from({ length: 1001 }, (_, i) => `id-${i}`)), 'invalid');
        await store.removeAlias('secretariat@ms.gouv.tg');
        expect(await store.resolveAddress('secretariat@sante.gouv.tg')).toBeNull();
        await expectKind(store.removeAlias('awa@sante.gouv.tg'), 'not-found');
      });

      it('keeps one namespace for accounts, aliases and group addresses', async () => {
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        await store.addAlias('contact@sante.gouv.tg', a.id);
        await expectKind(store.addAlias('awa@sante.gouv.tg', a.id), 'conflict');
        await expectKind(store.createAccount({ address: 'contact@sante.gouv.tg' }), 'conflict');
        await expectKind(store.createGroup({ name: 'g1', domain: 'sante.gouv.tg', address: 'contact@sante.gouv.tg' }), 'conflict');
        expect(await store.listGroups()).toEqual([]);
        await store.createGroup({ name: 'g2', domain: 'sante.gouv.tg', address: 'liste@sante.gouv.tg' });
        await expectKind(store.addAlias('liste@sante.gouv.tg', a.id), 'conflict');
        await expectKind(store.addAlias('x@elsewhere.tg', a.id), 'not-found');
        await expectKind(store.addAlias('bad address@sante.gouv.tg', a.id), 'invalid');
      });

      it('removing an account frees its aliases', async () => {
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        await store.addAlias('contact@sante.gouv.tg', a.id);
        await store.removeAccount(a.id);
        expect(await store.resolveAddress('contact@sante.gouv.tg')).toBeNull();
        const b = await store.createAccount({ address: 'contact@sante.gouv.tg' });
        expect(b.address).toBe('contact@sante.gouv.tg');
      });
    });

    describe('groups', () => {
      beforeEach(async () => {
        await store.createDomain({ name: 'sante.gouv.tg' });
      });

      it('nests groups, expands them once, skips suspended staff, and knows who belongs where', async () => {
        const awa = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        const kofi = await store.createAccount({ address: 'kofi@sante.gouv.tg' });
        const ama = await store.createAccount({ address: 'ama@sante.gouv.tg', status: 'suspended' });
        const ministry = await store.createGroup({ name: 'sante', domain: 'sante.gouv.tg', description: 'Ministère de la santé' });
        const drh = await store.createGroup({ name: 'sante-drh', domain: 'sante.gouv.tg' });
        await store.addGroupMember(ministry.id, { groupId: drh.id });
        await store.addGroupMember(drh.id, { accountId: awa.id });
        await store.addGroupMember(drh.id, { accountId: awa.id }); // no-op
        await store.addGroupMember(ministry.id, { accountId: awa.id });
        await store.addGroupMember(ministry.id, { accountId: kofi.id });
        await store.addGroupMember(ministry.id, { accountId: ama.id });
        expect((await store.expandGroup(ministry.id)).map((a) => a.address)).toEqual(['awa@sante.gouv.tg', 'kofi@sante.gouv.tg']);
        expect((await store.groupsOfAccount(awa.id)).map((g) => g.name)).toEqual(['sante', 'sante-drh']);
        expect((await store.groupsOfAccount(kofi.id)).map((g) => g.name)).toEqual(['sante']);
        const members = await store.listGroupMembers(ministry.id);
        expect(members.map((m) => (m.kind === 'group' ? `g:${m.name}` : `a:${m.address}`))).toEqual([
          'g:sante-drh',
          'a:ama@sante.gouv.tg',
          'a:awa@sante.gouv.tg',
          'a:kofi@sante.gouv.tg',
        ]);
        await store.removeGroupMember(ministry.id, { accountId: kofi.id });
        await expectKind(store.removeGroupMember(ministry.id, { accountId: kofi.id }), 'not-found');
        expect((await store.expandGroup(ministry.id)).map((a) => a.address)).toEqual(['awa@sante.gouv.tg']);
      });

      it('refuses cycles, bad names and duplicates', async () => {
        const a = await store.createGroup({ name: 'a', domain: 'sante.gouv.tg' });
        const b = await store.createGroup({ name: 'b', domain: 'sante.gouv.tg' });
        const c = await store.createGroup({ name: 'c', domain: 'sante.gouv.tg' });
        await store.addGroupMember(a.id, { groupId: b.id });
        await store.addGroupMember(b.id, { groupId: c.id });
        await expectKind(store.addGroupMember(c.id, { groupId: a.id }), 'conflict');
        await expectKind(store.addGroupMember(a.id, { groupId: a.id }), 'conflict');
        await expectKind(store.createGroup({ name: 'a', domain: 'sante.gouv.tg' }), 'conflict');
        for (const name of ['', 'UPPER', 'with space', '-x', 'x'.repeat(200), '../etc']) {
          await expectKind(store.createGroup({ name, domain: 'sante.gouv.tg' }), 'invalid');
        }
        await expectKind(store.createGroup({ name: 'z', domain: 'nowhere.tg' }), 'not-found');
        await expectKind(store.createGroup({ name: 'z', domain: 'sante.gouv.tg', address: 'z@other.tg' }), 'invalid');
        await expectKind(store.addGroupMember(a.id, { accountId: '00000000-0000-0000-0000-000000000000' }), 'not-found');
        expect((await store.listGroups('sante.gouv.tg')).map((g) => g.name)).toEqual(['a', 'b', 'c']);
      });

      it('removing a group removes its memberships and frees its address', async () => {
        const awa = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        const outer = await store.createGroup({ name: 'outer', domain: 'sante.gouv.tg' });
        const inner = await store.createGroup({ name: 'inner', domain: 'sante.gouv.tg', address: 'liste@sante.gouv.tg' });
        await store.addGroupMember(outer.id, { groupId: inner.id });
        await store.addGroupMember(inner.id, { accountId: awa.id });
        await store.removeGroup(inner.id);
        expect(await store.listGroupMembers(outer.id)).toEqual([]);
        expect(await store.groupsOfAccount(awa.id)).toEqual([]);
        expect(await store.resolveAddress('liste@sante.gouv.tg')).toBeNull();
        expect(await store.findGroup('inner')).toBeNull();
        await expectKind(store.getGroup(inner.id), 'not-found');
      });
    });

    describe('bulk upsert', () => {
      beforeEach(async () => {
        await store.createDomain({ name: 'sante.gouv.tg' });
        await store.createGroup({ name: 'sante', domain: 'sante.gouv.tg' });
      });

      it('creates, then is idempotent, then updates only what changed', async () => {
        const rows = [
          { address: 'a@sante.gouv.tg', displayName: 'A', groups: ['sante'], aliases: ['alpha@sante.gouv.tg'] },
          { address: 'b@sante.gouv.tg', displayName: 'B', passwordHash: HASH },
        ];
        expect(await store.upsertAccounts(rows)).toEqual(['created', 'created']);
        expect(await store.upsertAccounts(rows)).toEqual(['unchanged', 'unchanged']);
        expect(await store.upsertAccounts([{ ...rows[0]!, displayName: 'A2' }, rows[1]!])).toEqual(['updated', 'unchanged']);
        const a = (await store.findAccount('a@sante.gouv.tg'))!;
        expect(a.displayName).toBe('A2');
        expect((await store.resolveAddress('alpha@sante.gouv.tg'))?.kind).toBe('account');
        expect((await store.groupsOfAccount(a.id)).map((g) => g.name)).toEqual(['sante']);
        expect(await store.getPasswordHash((await store.findAccount('b@sante.gouv.tg'))!.id)).toBe(HASH);
      });

      it('applies rows in order when a batch names one address twice', async () => {
        expect(await store.upsertAccounts([{ address: 'a@sante.gouv.tg', displayName: 'First' }, { address: 'A@sante.gouv.tg', displayName: 'Second' }])).toEqual([
          'created',
          'updated',
        ]);
        expect((await store.findAccount('a@sante.gouv.tg'))?.displayName).toBe('Second');
        await expectKind(store.upsertAccounts([{ address: 'b@sante.gouv.tg', aliases: ['c@sante.gouv.tg'] }, { address: 'c@sante.gouv.tg' }]), 'conflict');
        expect(await store.findAccount('b@sante.gouv.tg')).toBeNull();
      });

      it('applies a batch entirely or not at all', async () => {
        await expectKind(
          store.upsertAccounts([{ address: 'ok@sante.gouv.tg' }, { address: 'x@sante.gouv.tg', groups: ['missing'] }]),
          'not-found',
        );
        await expectKind(store.upsertAccounts([{ address: 'ok@sante.gouv.tg' }, { address: 'bad address' }]), 'invalid');
        const taken = await store.createAccount({ address: 'taken@sante.gouv.tg' });
        await store.addAlias('alias@sante.gouv.tg', taken.id);
        await expectKind(store.upsertAccounts([{ address: 'ok@sante.gouv.tg' }, { address: 'alias@sante.gouv.tg' }]), 'conflict');
        await expectKind(store.upsertAccounts([{ address: 'ok@sante.gouv.tg', aliases: ['taken@sante.gouv.tg'] }]), 'conflict');
        expect(await store.findAccount('ok@sante.gouv.tg')).toBeNull();
        expect(await store.countAccounts()).toBe(1);
      });
    });

    describe('credentials', () => {
      it('stores app passwords by hash only, finds, touches and revokes them', async () => {
        await store.createDomain({ name: 'sante.gouv.tg' });
        const a = await store.createAccount({ address: 'awa@sante.gouv.tg' });
        const c = await store.addCredential({ accountId: a.id, kind: 'app-password', label: 'iPhone', secretHash: SECRET_A });
        expect(c).toMatchObject({ accountId: a.id, kind: 'app-password', label: 'iPhone', lastUsedAt: null });
        expect(c).not.toHaveProperty('secretHash');
        await store.addCredential({ accountId: a.id, kind: 'token', label: 'sync', secretHash: SECRET_B });
        await expectKind(store.addCredential({ accountId: a.id, kind: 'token', label: 'dup', secretHash: SECRET_B }), 'conflict');
        await expectKind(store.addCredential({ accountId: a.id, kind: 'token', label: 'bad', secretHash: 'short' }), 'invalid');
        await expectKind(store.addCredential({ accountId: a.id, kind: 'token', label: '', secretHash: 'c'.repeat(64) }), 'invalid');
        expect((await store.listCredentials(a.id)).map((x) => x.label)).toEqual(['iPhone', 'sync']);
        expect((await store.listCredentials(a.id, 'token')).map((x) => x.label)).toEqual(['sync']);
        const found = await store.findCredentialBySecretHash(SECRET_A);
        expect(found?.account.id).toBe(a.id);
        expect(found?.credential.id).toBe(c.id);
        expect(await store.findCredentialBySecretHash('f'.repeat(64))).toBeNull();
        expect(await store.findCredentialBySecretHash("' OR 1=1 --")).toBeNull();
        await store.touchCredential(c.id, new Date('2026-03-03T00:00:00Z'));
        expect((await store.listCredentials(a.id, 'app-password'))[0]!.lastUsedAt?.toISOString()).toBe('2026-03-03T00:00:00.000Z');
        await store.removeCredential(a.id, c.id);
        expect(await store.findCredentialBySecretHash(SECRET_A)).toBeNull();
        await expectKind(store.removeCredential(a.id, c.id), 'not-found');
        await store.removeAccount(a.id);
        expect(await store.findCredentialBySecretHash(SECRET_B)).toBeNull();
      });

      it('will not let one account revoke another account\'s credential', async () => {
        await store.createDomain({ name: 'sante.gouv.tg' });
        const a = await store.createAccount({ address: 'a@sante.gouv.tg' });
        const b = await store.createAccount({ address: 'b@sante.gouv.tg' });
        const c = await store.addCredential({ accountId: a.id, kind: 'app-password', label: 'x', secretHash: SECRET_A });
        await expectKind(store.removeCredential(b.id, c.id), 'not-found');
        expect(await store.findCredentialBySecretHash(SECRET_A)).not.toBeNull();
      });
    });
  });
}
