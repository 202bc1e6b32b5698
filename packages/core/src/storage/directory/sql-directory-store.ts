import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type {
  Account,
  AccountStatus,
  AddressTarget,
  Alias,
  AppCredential,
  CredentialKind,
  Domain,
  Group,
  GroupMember,
} from '../../directory/directory.js';
import {
  MAX_GROUP_DEPTH,
  checkPasswordHash,
  accountLimits,
  prepareDomainLimits,
  domainKey,
  lookupKey,
  prepareAccount,
  prepareAccountPatch,
  prepareCredential,
  prepareGroup,
  foldName,
  prefixEnd,
  prepareSearch,
  sortSearchHits,
  type PreparedAccount,
} from '../../directory/directory-rules.js';
import { normalizeDomain, parseHostedAddress } from '../../address.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../../errors.js';
import type {
  AccountPage,
  AccountPatch,
  AccountUpsert,
  DirectoryStore,
  ListAccountsQuery,
  MemberRef,
  NewAccount,
  NewCredential,
  NewDomain,
  NewGroup,
  UpsertOutcome,
} from '../../directory/directory-store.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Database } from '../database.js';
import {
  AccountEntity,
  AddressEntity,
  CredentialEntity,
  DomainEntity,
  DomainNameEntity,
  GroupEntity,
  GroupMemberEntity,
  type AccountRow,
  type AddressRow,
  type DomainRow,
  type CredentialRow,
  type GroupMemberRow,
  type GroupRow,
} from './entities.js';

type AccountFields = Pick<AccountRow, 'id' | 'address' | 'domainId' | 'displayName' | 'department' | 'quotaBytes' | 'quotaMessages' | 'quotaMailboxes' | 'status' | 'createdAt' | 'lastLoginAt'>;
/**
 * toAccount's columns as a prepared read (db.select): every DAV request looks an account up two or three
 * times (authentication, the home in its path), and TypeORM's findOneBy costs ~0.2 ms each.
 */
const ACCOUNT_SELECT =
  'SELECT id, address, domain_id AS "domainId", display_name AS "displayName", department, quota_bytes AS "quotaBytes", quota_messages AS "quotaMessages", quota_mailboxes AS "quotaMailboxes", status, created_at AS "createdAt", last_login_at AS "lastLoginAt" FROM accounts';

/** BIGINT columns come back as strings from PostgreSQL. */
const nullableNumber = (v: number | string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

const toDomain = (row: DomainRow, aliases: string[]): Domain => ({
  id: row.id,
  name: row.name,
  aliases,
  defaultQuotaBytes: nullableNumber(row.defaultQuotaBytes),
  defaultQuotaMessages: nullableNumber(row.defaultQuotaMessages),
  defaultQuotaMailboxes: nullableNumber(row.defaultQuotaMailboxes),
  createdAt: new Date(Number(row.createdAt)),
});

const toAccount = (r: AccountFields): Account => ({
  id: r.id,
  address: r.address,
  domainId: r.domainId,
  displayName: r.displayName,
  department: r.department,
  quotaBytes: nullableNumber(r.quotaBytes),
  quotaMessages: nullableNumber(r.quotaMessages),
  quotaMailboxes: nullableNumber(r.quotaMailboxes),
  status: r.status as AccountStatus,
  createdAt: new Date(Number(r.createdAt)),
  lastLoginAt: r.lastLoginAt === null ? null : new Date(Number(r.lastLoginAt)),
});

const toGroup = (r: GroupRow): Group => ({
  id: r.id,
  name: r.name,
  domainId: r.domainId,
  address: r.address,
  description: r.description,
  createdAt: new Date(Number(r.createdAt)),
});

const toCredential = (r: CredentialRow): AppCredential => ({
  id: r.id,
  accountId: r.accountId,
  kind: r.kind as CredentialKind,
  label: r.label,
  createdAt: new Date(Number(r.createdAt)),
  lastUsedAt: r.lastUsedAt === null ? null : new Date(Number(r.lastUsedAt)),
  expiresAt: r.expiresAt === null ? null : new Date(Number(r.expiresAt)),
});

const MAX_PAGE = 1000;

/** The account row for a new account (quota defaults to the domain's). */
function newAccountRow(p: PreparedAccount, address: string, domain: DomainRow, now: number): AccountRow {
  return {
    id: randomUUID(),
    address,
    domainId: domain.id,
    displayName: p.displayName,
    searchName: foldName(p.displayName),
    department: p.department,
    ...accountLimits(p, domain),
    status: p.status,
    passwordHash: p.passwordHash,
    createdAt: now,
    lastLoginAt: null,
  };
}

/** What an upsert row changes on an existing account: only the fields it sets, a hash only when given. */
function accountPatch(row: AccountUpsert, p: PreparedAccount, existing: AccountRow): Partial<AccountRow> {
  const patch: Partial<AccountRow> = {};
  if (row.displayName !== undefined && p.displayName !== existing.displayName) {
    patch.displayName = p.displayName;
    patch.searchName = foldName(p.displayName);
  }
  if (row.department !== undefined && p.department !== existing.department) patch.department = p.department;
  for (const key of ['quotaBytes', 'quotaMessages', 'quotaMailboxes'] as const) {
    if (p[key] !== undefined && p[key] !== nullableNumber(existing[key])) patch[key] = p[key];
  }
  if (row.status !== undefined && p.status !== existing.status) patch.status = p.status;
  if (p.passwordHash !== null && p.passwordHash !== existing.passwordHash) patch.passwordHash = p.passwordHash;
  return patch;
}

/** DirectoryStore on SQLite or PostgreSQL. */
export class SqlDirectoryStore implements DirectoryStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  // ---------------------------------------------------------------- domains

  async createDomain(input: NewDomain): Promise<Domain> {
    const name = normalizeDomain(input.name);
    const limits = prepareDomainLimits(input);
    const id = randomUUID();
    const createdAt = this.clock.now().getTime();
    return this.db.transaction(
      async (m) => {
        await m.insert(DomainEntity, { id, name, ...limits, createdAt });
        await m.insert(DomainNameEntity, { name, domainId: id, isPrimary: true });
        return this.domainById(m, id);
      },
      { what: `creating domain ${name}` },
    );
  }

  private async domainById(m: EntityManager, id: string): Promise<Domain> {
    const row = await m.findOneBy(DomainEntity, { id });
    if (!row) throw new NotFoundError('no such domain');
    const names = await m.find(DomainNameEntity, { where: { domainId: id }, order: { name: 'ASC' } });
    return toDomain(row, names.filter((n) => !n.isPrimary).map((n) => n.name));
  }

  private async domainIdOf(m: EntityManager, name: string): Promise<string | null> {
    const key = domainKey(name);
    if (!key) return null;
    const row = await m.findOneBy(DomainNameEntity, { name: key });
    return row?.domainId ?? null;
  }

  async findDomain(name: string): Promise<Domain | null> {
    return this.db.run(async (m) => {
      const id = await this.domainIdOf(m, name);
      return id ? this.domainById(m, id) : null;
    }, 'finding a domain');
  }

  async getDomainById(id: string): Promise<Domain> {
    return this.db.run((m) => this.domainById(m, id), 'reading a domain');
  }

  async listDomains(): Promise<Domain[]> {
    return this.db.run(async (m) => {
      const rows = await m.find(DomainEntity, { order: { name: 'ASC' } });
      const names = await m.find(DomainNameEntity, { where: { isPrimary: false }, order: { name: 'ASC' } });
      return rows.map((row) => toDomain(row, names.filter((n) => n.domainId === row.id).map((n) => n.name)));
    }, 'listing domains');
  }

  async removeDomain(name: string): Promise<void> {
    const key = normalizeDomain(name);
    await this.db.transaction(
      async (m) => {
        const row = await m.findOneBy(DomainEntity, { name: key });
        if (!row) throw new NotFoundError(`no domain ${key}`);
        const used =
          (await m.countBy(AccountEntity, { domainId: row.id })) +
          (await m.countBy(GroupEntity, { domainId: row.id })) +
          (await m.countBy(AddressEntity, { domainId: row.id }));
        if (used > 0) throw new ConflictError(`domain ${key} still has accounts, groups or aliases`);
        await m.delete(DomainNameEntity, { domainId: row.id });
        await m.delete(DomainEntity, { id: row.id });
      },
      { what: `removing domain ${key}` },
    );
  }

  async addDomainAlias(domain: string, alias: string): Promise<Domain> {
    const aliasName = normalizeDomain(alias);
    return this.db.transaction(
      async (m) => {
        const id = await this.domainIdOf(m, domain);
        if (!id) throw new NotFoundError(`no domain ${domain}`);
        await m.insert(DomainNameEntity, { name: aliasName, domainId: id, isPrimary: false });
        return this.domainById(m, id);
      },
      { what: `adding domain alias ${aliasName}` },
    );
  }

  async removeDomainAlias(alias: string): Promise<void> {
    const key = normalizeDomain(alias);
    await this.db.transaction(
      async (m) => {
        const row = await m.findOneBy(DomainNameEntity, { name: key });
        if (!row || row.isPrimary) throw new NotFoundError(`${key} is not a domain alias`);
        await m.delete(DomainNameEntity, { name: key });
      },
      { what: `removing domain alias ${key}` },
    );
  }

  // ---------------------------------------------------------------- accounts

  /** Resolve `local@anyNameOfTheDomain` to the canonical `local@primaryDomain`. */
  /**
   * An address as stored: its domain name resolved to the domain it names, a secondary name rewritten to
   * the primary one. Read inside the caller's transaction (`m`) or, without one, as a prepared read.
   */
  private async canonical(m: EntityManager | null, address: string): Promise<{ address: string; domainId: string } | null> {
    const key = lookupKey(address);
    if (!key) return null;
    const sql = 'SELECT n.is_primary AS "isPrimary", n.domain_id AS "domainId", d.name AS "domain" FROM domain_names n JOIN domains d ON d.id = n.domain_id WHERE n.name = ?';
    const [name]: { isPrimary: boolean | number | string; domainId: string; domain: string }[] = m
      ? await m.query(this.db.sql(sql), [key.domain])
      : await this.db.select(sql, [key.domain], 'finding an account');
    if (!name) return null;
    const primary = name.isPrimary === true || Number(name.isPrimary) === 1;
    return { address: primary ? key.address : `${key.local}@${name.domain}`, domainId: name.domainId };
  }

  private async insertAccount(m: EntityManager, input: NewAccount): Promise<AccountRow> {
    const p = prepareAccount(input);
    const target = await this.canonical(m, p.address);
    if (!target) throw new NotFoundError(`domain ${p.domain} is not hosted here; add it first`);
    const domain = await m.findOneByOrFail(DomainEntity, { id: target.domainId });
    const now = this.clock.now().getTime();
    const row = newAccountRow(p, target.address, domain, now);
    // The address row first: its primary key is what makes addresses unique across accounts, aliases
    // and groups, including when two processes race.
    await this.takeAddress(m, target.address, 'account', target.domainId, null, null, now);
    await m.insert(AccountEntity, row);
    await m.update(AddressEntity, { address: target.address }, { accountId: row.id });
    return row;
  }

  private async takeAddress(
    m: EntityManager,
    address: string,
    kind: 'account' | 'alias' | 'group',
    domainId: string,
    accountId: string | null,
    groupId: string | null,
    now: number,
  ): Promise<void> {
    const existing = await m.findOneBy(AddressEntity, { address });
    if (existing) throw new ConflictError(`${address} is already in use (${existing.kind})`);
    await m.insert(AddressEntity, { address, kind, domainId, accountId, groupId, createdAt: now });
  }

  async createAccount(input: NewAccount): Promise<Account> {
    return this.db.transaction(async (m) => toAccount(await this.insertAccount(m, input)), {
      what: `creating ${String(input?.address).slice(0, 254)}`,
    });
  }

  async getAccount(id: string): Promise<Account> {
    const [row] = typeof id === 'string' ? await this.db.select<AccountFields>(`${ACCOUNT_SELECT} WHERE id = ?`, [id], 'reading an account') : [];
    if (!row) throw new NotFoundError('no such account');
    return toAccount(row);
  }

  /** Two prepared reads: the address made canonical, then the account. */
  async findAccount(address: string): Promise<Account | null> {
    const target = await this.canonical(null, address);
    if (!target) return null;
    const [row] = await this.db.select<AccountFields>(`${ACCOUNT_SELECT} WHERE address = ?`, [target.address], 'finding an account');
    return row ? toAccount(row) : null;
  }

  async listAccounts(query: ListAccountsQuery = {}): Promise<AccountPage> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, MAX_PAGE));
    return this.db.run(async (m) => {
      const qb = m
        .createQueryBuilder(AccountEntity, 'a')
        .orderBy('a.address', 'ASC')
        .take(limit + 1);
      if (query.domain !== undefined) {
        const domainId = await this.domainIdOf(m, query.domain);
        if (!domainId) throw new NotFoundError(`no domain ${query.domain}`);
        qb.andWhere('a.domainId = :domainId', { domainId });
      }
      if (query.after) qb.andWhere('a.address > :after', { after: query.after });
      const rows = await qb.getMany();
      const more = rows.length > limit;
      const page = rows.slice(0, limit).map(toAccount);
      return { accounts: page, next: more ? page[page.length - 1]!.address : null };
    }, 'listing accounts');
  }

  async search(domainId: string | null, text: string, limit: number): Promise<Account[]> {
    const q = prepareSearch(text, limit);
    if (!q) return [];
    return this.db.run(async (m) => {
      const hits = new Map<string, AccountRow>();
      if (q.name) {
        // The range uses idx_accounts_search; startsWith again below, whatever the column's collation.
        const qb = m
          .createQueryBuilder(AccountEntity, 'a')
          .where('a.status = :active', { active: 'active' })
          .andWhere('a.searchName >= :lo AND a.searchName < :hi', { lo: q.name, hi: prefixEnd(q.name) })
          .orderBy('a.searchName', 'ASC')
          .addOrderBy('a.address', 'ASC')
          .take(q.limit);
        if (domainId !== null) qb.andWhere('a.domainId = :domainId', { domainId });
        for (const r of await qb.getMany()) if ((r.searchName ?? '').startsWith(q.name)) hits.set(r.id, r);
      }
      if (q.address) {
        const qb = m
          .createQueryBuilder(AddressEntity, 'x')
          .select('x.accountId', 'accountId')
          .addSelect('x.address', 'address')
          .where('x.address >= :lo AND x.address < :hi', { lo: q.address, hi: prefixEnd(q.address) })
          .andWhere('x.accountId IS NOT NULL')
          .orderBy('x.address', 'ASC')
          .limit(q.limit * 2);
        if (domainId !== null) qb.andWhere('x.domainId = :domainId', { domainId });
        const rows: { accountId: string; address: string }[] = await qb.getRawMany();
        const ids = [...new Set(rows.filter((r) => r.address.startsWith(q.address)).map((r) => r.accountId))].filter((id) => !hits.has(id));
        if (ids.length) for (const r of await m.findBy(AccountEntity, { id: In(ids), status: 'active' })) hits.set(r.id, r);
      }
      return sortSearchHits([...hits.values()]).slice(0, q.limit).map(toAccount);
    }, 'searching the directory');
  }

  async countAccounts(domain?: string): Promise<number> {
    return this.db.run(async (m) => {
      if (domain === undefined) return m.count(AccountEntity);
      const domainId = await this.domainIdOf(m, domain);
      if (!domainId) throw new NotFoundError(`no domain ${domain}`);
      return m.countBy(AccountEntity, { domainId });
    }, 'counting accounts');
  }

  async updateAccount(id: string, patch: AccountPatch): Promise<Account> {
    const clean = prepareAccountPatch(patch);
    return this.db.transaction(
      async (m) => {
        const row = await m.findOneBy(AccountEntity, { id });
        if (!row) throw new NotFoundError('no such account');
        if (Object.keys(clean).length > 0) await m.update(AccountEntity, { id }, clean.displayName === undefined ? clean : { ...clean, searchName: foldName(clean.displayName) });
        return toAccount((await m.findOneBy(AccountEntity, { id }))!);
      },
      { what: 'updating an account' },
    );
  }

  async removeAccount(id: string): Promise<void> {
    await this.db.transaction(
      async (m) => {
        const row = await m.findOneBy(AccountEntity, { id });
        if (!row) throw new NotFoundError('no such account');
        await m.delete(GroupMemberEntity, { memberKind: 'account', memberId: id });
        await m.delete(CredentialEntity, { accountId: id });
        await m.delete(AddressEntity, { accountId: id });
        await m.delete(AccountEntity, { id });
      },
      { what: 'removing an account' },
    );
  }

  async getPasswordHash(accountId: string): Promise<string | null> {
    return this.db.run(async (m) => {
      const row = await m.findOne(AccountEntity, { where: { id: accountId }, select: { id: true, passwordHash: true } });
      if (!row) throw new NotFoundError('no such account');
      return row.passwordHash;
    }, 'reading credentials');
  }

  async setPasswordHash(accountId: string, hash: string | null): Promise<void> {
    const clean = checkPasswordHash(hash);
    await this.db.run(async (m) => {
      const result = await m.update(AccountEntity, { id: accountId }, { passwordHash: clean });
      if (result.affected === 0) throw new NotFoundError('no such account');
    }, 'setting a password');
  }

  async recordLogin(accountId: string, at: Date): Promise<void> {
    await this.db.run((m) => m.update(AccountEntity, { id: accountId }, { lastLoginAt: at.getTime() }), 'recording a login');
  }

  async upsertAccounts(rows: readonly AccountUpsert[]): Promise<UpsertOutcome[]> {
    // Validate everything before touching the database: a bad row fails the batch up front.
    const prepared = rows.map((row) => ({ row, p: prepareAccount(row) }));
    if (prepared.length === 0) return [];
    return this.db.transaction((m) => this.upsertBatch(m, prepared), { what: 'importing accounts' });
  }

  /**
   * A provisioning batch in a handful of set-based statements (lookups with IN, multi-row inserts)
   * instead of a dozen per row: 70,000 staff import in about a minute. Falls back to the row-by-row
   * path when the batch names an address twice.
   */
  private async upsertBatch(m: EntityManager, prepared: { row: AccountUpsert; p: PreparedAccount }[]): Promise<UpsertOutcome[]> {
    const aliasInputs = prepared.map(({ row }) => (row.aliases ?? []).map((a) => parseHostedAddress(a)));
    const domainNames = [...new Set([...prepared.map(({ p }) => p.domain), ...aliasInputs.flat().map((a) => a.domain)])];
    const nameRows = await m.findBy(DomainNameEntity, { name: In(domainNames) });
    const domainRows = await m.findBy(DomainEntity, { id: In([...new Set(nameRows.map((n) => n.domainId))]) });
    const domainById = new Map(domainRows.map((d) => [d.id, d]));
    const domainOfName = new Map(nameRows.map((n) => [n.name, domainById.get(n.domainId)!]));
    const canon = (local: string, domain: string) => {
      const d = domainOfName.get(domain);
      if (!d) throw new NotFoundError(`domain ${domain} is not hosted here; add it first`);
      return { address: `${local}@${d.name}`, domain: d };
    };
    const targets = prepared.map(({ p }) => canon(p.local, p.domain));
    const aliasTargets = aliasInputs.map((list) => list.map((a) => canon(a.local, a.domain)));
    const every = [...targets.map((t) => t.address), ...aliasTargets.flat().map((t) => t.address)];
    if (new Set(every).size !== every.length) return this.upsertSequential(m, prepared);

    const chunks = <T>(items: T[], size = 500): T[][] =>
      Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));
    const existingAddresses = new Map<string, AddressRow>();
    for (const part of chunks(every))
      for (const r of await m.findBy(AddressEntity, { address: In(part) })) existingAddresses.set(r.address, r);
    const existingAccounts = new Map<string, AccountRow>();
    for (const part of chunks(targets.map((t) => t.address)))
      for (const r of await m.findBy(AccountEntity, { address: In(part) })) existingAccounts.set(r.address, r);
    const groupNames = [...new Set(prepared.flatMap(({ row }) => row.groups ?? []))];
    const groups = new Map((groupNames.length ? await m.findBy(GroupEntity, { name: In(groupNames) }) : []).map((g) => [g.name, g]));
    for (const name of groupNames) if (!groups.has(name)) throw new NotFoundError(`no group ${name}`);

    const now = this.clock.now().getTime();
    const outcomes: UpsertOutcome[] = [];
    const newAccounts: AccountRow[] = [];
    const newAddresses: AddressRow[] = [];
    const accountIds: string[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const { row, p } = prepared[i]!;
      const target = targets[i]!;
      const taken = existingAddresses.get(target.address);
      const existing = existingAccounts.get(target.address);
      if (taken && (taken.kind !== 'account' || !existing)) throw new ConflictError(`${target.address} is already in use (${taken.kind})`);
      let outcome: UpsertOutcome;
      let accountId: string;
      if (!existing) {
        const account = newAccountRow(p, target.address, target.domain, now);
        accountId = account.id;
        newAccounts.push(account);
        newAddresses.push({
          address: target.address,
          kind: 'account',
          domainId: target.domain.id,
          accountId,
          groupId: null,
          createdAt: now,
        });
        outcome = 'created';
      } else {
        accountId = existing.id;
        const patch = accountPatch(row, p, existing);
        if (Object.keys(patch).length > 0) await m.update(AccountEntity, { id: existing.id }, patch);
        outcome = Object.keys(patch).length > 0 ? 'updated' : 'unchanged';
      }
      for (const alias of aliasTargets[i]!) {
        const owner = existingAddresses.get(alias.address);
        if (owner) {
          if (owner.kind === 'alias' && owner.accountId === accountId) continue;
          throw new ConflictError(`${alias.address} is already in use (${owner.kind})`);
        }
        newAddresses.push({ address: alias.address, kind: 'alias', domainId: alias.domain.id, accountId, groupId: null, createdAt: now });
        if (outcome === 'unchanged') outcome = 'updated';
      }
      accountIds.push(accountId);
      outcomes.push(outcome);
    }

    const memberships = new Set<string>();
    const created = new Set(newAccounts.map((a) => a.id));
    const knownIds = accountIds.filter((id) => !created.has(id));
    if (groupNames.length && knownIds.length) {
      for (const part of chunks(knownIds)) {
        const rows = await m.findBy(GroupMemberEntity, {
          memberKind: 'account',
          memberId: In(part),
          groupId: In([...groups.values()].map((g) => g.id)),
        });
        for (const r of rows) memberships.add(`${r.groupId}|${r.memberId}`);
      }
    }
    const newMembers: GroupMemberRow[] = [];
    prepared.forEach(({ row }, i) => {
      for (const name of row.groups ?? []) {
        const key = `${groups.get(name)!.id}|${accountIds[i]}`;
        if (memberships.has(key)) continue;
        memberships.add(key);
        newMembers.push({ groupId: groups.get(name)!.id, memberKind: 'account', memberId: accountIds[i]! });
        if (outcomes[i] === 'unchanged') outcomes[i] = 'updated';
      }
    });

    // Accounts before their address rows (the foreign key); a racing writer that took one of these
    // addresses meanwhile makes an insert fail, and the whole batch rolls back as a conflict.
    for (const part of chunks(newAccounts, 200)) await m.insert(AccountEntity, part);
    for (const part of chunks(newAddresses, 300)) await m.insert(AddressEntity, part);
    for (const part of chunks(newMembers, 500)) await m.insert(GroupMemberEntity, part);
    return outcomes;
  }

  /** Row after row: the general case (a batch that names one address twice). */
  private async upsertSequential(m: EntityManager, prepared: { row: AccountUpsert; p: PreparedAccount }[]): Promise<UpsertOutcome[]> {
    const outcomes: UpsertOutcome[] = [];
    for (const { row, p } of prepared) {
      const target = await this.canonical(m, p.address);
      if (!target) throw new NotFoundError(`domain ${p.domain} is not hosted here; add it first`);
      const existing = await m.findOneBy(AccountEntity, { address: target.address });
      let account: AccountRow;
      let outcome: UpsertOutcome;
      if (!existing) {
        account = await this.insertAccount(m, row);
        outcome = 'created';
      } else {
        account = existing;
        const patch = accountPatch(row, p, existing);
        if (Object.keys(patch).length > 0) {
          await m.update(AccountEntity, { id: existing.id }, patch);
          outcome = 'updated';
        } else {
          outcome = 'unchanged';
        }
      }
      for (const alias of row.aliases ?? []) {
        if (await this.claimAlias(m, alias, account.id, true)) outcome = outcome === 'unchanged' ? 'updated' : outcome;
      }
      for (const groupName of row.groups ?? []) {
        const group = await m.findOneBy(GroupEntity, { name: groupName });
        if (!group) throw new NotFoundError(`no group ${groupName}`);
        const has = await m.findOneBy(GroupMemberEntity, { groupId: group.id, memberKind: 'account', memberId: account.id });
        if (!has) {
          await m.insert(GroupMemberEntity, { groupId: group.id, memberKind: 'account', memberId: account.id });
          outcome = outcome === 'unchanged' ? 'updated' : outcome;
        }
      }
      outcomes.push(outcome);
    }
    return outcomes;
  }

  // ---------------------------------------------------------------- aliases

  /**
   * Point an alias at an account. With `idempotent`, an alias that already points there is fine (bulk
   * upserts); otherwise any existing use of the address is a conflict. Returns the alias, or null when
   * nothing was created.
   */
  private async claimAlias(m: EntityManager, address: string, accountId: string, idempotent: boolean): Promise<Alias | null> {
    const parsed = parseHostedAddress(address);
    const target = await this.canonical(m, parsed.address);
    if (!target) throw new NotFoundError(`domain ${parsed.domain} is not hosted here`);
    const existing = await m.findOneBy(AddressEntity, { address: target.address });
    if (existing) {
      if (idempotent && existing.kind === 'alias' && existing.accountId === accountId) return null;
      throw new ConflictError(`${target.address} is already in use (${existing.kind})`);
    }
    const createdAt = this.clock.now().getTime();
    await m.insert(AddressEntity, {
      address: target.address,
      kind: 'alias',
      domainId: target.domainId,
      accountId,
      groupId: null,
      createdAt,
    });
    return { address: target.address, accountId, createdAt: new Date(createdAt) };
  }

  async addAlias(address: string, accountId: string): Promise<Alias> {
    return this.db.transaction(
      async (m) => {
        if (!(await m.findOneBy(AccountEntity, { id: accountId }))) throw new NotFoundError('no such account');
        return (await this.claimAlias(m, address, accountId, false))!;
      },
      { what: `adding alias ${String(address).slice(0, 254)}` },
    );
  }

  async removeAlias(address: string): Promise<void> {
    await this.db.transaction(
      async (m) => {
        const target = await this.canonical(m, address);
        const row = target ? await m.findOneBy(AddressEntity, { address: target.address }) : null;
        if (!row || row.kind !== 'alias') throw new NotFoundError(`${address} is not an alias`);
        await m.delete(AddressEntity, { address: row.address });
      },
      { what: 'removing an alias' },
    );
  }

  async listAliases(accountId: string): Promise<Alias[]> {
    return this.db.run(async (m) => {
      const rows = await m.find(AddressEntity, { where: { accountId, kind: 'alias' }, order: { address: 'ASC' } });
      return rows.map((r) => ({ address: r.address, accountId, createdAt: new Date(Number(r.createdAt)) }));
    }, 'listing aliases');
  }

  async aliasesOf(accountIds: readonly string[]): Promise<Map<string, Alias[]>> {
    if (accountIds.length > 1000) throw new InvalidInputError('at most 1,000 accounts at once');
    const out = new Map<string, Alias[]>(accountIds.map((id) => [id, []]));
    if (accountIds.length === 0) return out;
    return this.db.run(async (m) => {
      const rows = await m.find(AddressEntity, { where: { accountId: In([...accountIds]), kind: 'alias' }, order: { address: 'ASC' } });
      for (const r of rows) out.get(r.accountId!)?.push({ address: r.address, accountId: r.accountId!, createdAt: new Date(Number(r.createdAt)) });
      return out;
    }, 'listing aliases');
  }

  async resolveAddress(address: string): Promise<AddressTarget | null> {
    return this.db.run(async (m) => {
      const target = await this.canonical(m, address);
      if (!target) return null;
      const row = await m.findOneBy(AddressEntity, { address: target.address });
      if (!row) return null;
      if (row.kind === 'group' && row.groupId) {
        const group = await m.findOneBy(GroupEntity, { id: row.groupId });
        return group ? { kind: 'group', group: toGroup(group) } : null;
      }
      if (!row.accountId) return null;
      const account = await m.findOneBy(AccountEntity, { id: row.accountId });
      return account ? { kind: 'account', account: toAccount(account), via: row.kind === 'alias' ? 'alias' : 'primary' } : null;
    }, 'resolving an address');
  }

  // ---------------------------------------------------------------- groups

  async createGroup(input: NewGroup): Promise<Group> {
    const p = prepareGroup(input);
    return this.db.transaction(
      async (m) => {
        const domainId = await this.domainIdOf(m, p.domain);
        if (!domainId) throw new NotFoundError(`no domain ${p.domain}`);
        const domain = await m.findOneByOrFail(DomainEntity, { id: domainId });
        const now = this.clock.now().getTime();
        const id = randomUUID();
        let address: string | null = null;
        if (p.address) {
          address = `${p.address.slice(0, p.address.lastIndexOf('@'))}@${domain.name}`;
          await this.takeAddress(m, address, 'group', domainId, null, null, now);
        }
        if (await m.findOneBy(GroupEntity, { name: p.name })) throw new ConflictError(`group ${p.name} already exists`);
        const row: GroupRow = { id, name: p.name, domainId, address, description: p.description, createdAt: now };
        await m.insert(GroupEntity, row);
        if (address) await m.update(AddressEntity, { address }, { groupId: id });
        return toGroup(row);
      },
      { what: `creating group ${p.name}` },
    );
  }

  async findGroup(name: string): Promise<Group | null> {
    return this.db.run(async (m) => {
      const row = typeof name === 'string' ? await m.findOneBy(GroupEntity, { name }) : null;
      return row ? toGroup(row) : null;
    }, 'finding a group');
  }

  async getGroup(id: string): Promise<Group> {
    return this.db.run(async (m) => {
      const row = await m.findOneBy(GroupEntity, { id });
      if (!row) throw new NotFoundError('no such group');
      return toGroup(row);
    }, 'reading a group');
  }

  async listGroups(domain?: string): Promise<Group[]> {
    return this.db.run(async (m) => {
      if (domain === undefined) return (await m.find(GroupEntity, { order: { name: 'ASC' } })).map(toGroup);
      const domainId = await this.domainIdOf(m, domain);
      if (!domainId) throw new NotFoundError(`no domain ${domain}`);
      return (await m.find(GroupEntity, { where: { domainId }, order: { name: 'ASC' } })).map(toGroup);
    }, 'listing groups');
  }

  async removeGroup(id: string): Promise<void> {
    await this.db.transaction(
      async (m) => {
        if (!(await m.findOneBy(GroupEntity, { id }))) throw new NotFoundError('no such group');
        await m.delete(GroupMemberEntity, { memberKind: 'group', memberId: id });
        await m.delete(GroupMemberEntity, { groupId: id });
        await m.delete(AddressEntity, { groupId: id });
        await m.delete(GroupEntity, { id });
      },
      { what: 'removing a group' },
    );
  }

  async addGroupMember(groupId: string, member: MemberRef): Promise<void> {
    await this.db.transaction(
      async (m) => {
        if (!(await m.findOneBy(GroupEntity, { id: groupId }))) throw new NotFoundError('no such group');
        let memberKind: 'account' | 'group';
        let memberId: string;
        if ('accountId' in member) {
          if (!(await m.findOneBy(AccountEntity, { id: member.accountId }))) throw new NotFoundError('no such account');
          memberKind = 'account';
          memberId = member.accountId;
        } else {
          if (!(await m.findOneBy(GroupEntity, { id: member.groupId }))) throw new NotFoundError('no such group');
          memberKind = 'group';
          memberId = member.groupId;
          // Refuse cycles: groupId may not be reachable from the new member.
          if (memberId === groupId || (await this.subgroupIds(m, memberId)).has(groupId)) {
            throw new ConflictError('a group cannot contain itself');
          }
        }
        if (await m.findOneBy(GroupMemberEntity, { groupId, memberKind, memberId })) return;
        await m.insert(GroupMemberEntity, { groupId, memberKind, memberId });
      },
      { what: 'adding a group member' },
    );
  }

  async removeGroupMember(groupId: string, member: MemberRef): Promise<void> {
    const [memberKind, memberId] = 'accountId' in member ? ['account', member.accountId] : ['group', member.groupId];
    await this.db.run(async (m) => {
      const result = await m.delete(GroupMemberEntity, { groupId, memberKind, memberId });
      if (result.affected === 0) throw new NotFoundError('not a member');
    }, 'removing a group member');
  }

  async listGroupMembers(groupId: string): Promise<GroupMember[]> {
    return this.db.run(async (m) => {
      if (!(await m.findOneBy(GroupEntity, { id: groupId }))) throw new NotFoundError('no such group');
      const accounts: { id: string; address: string }[] = await m.query(
        this.db.sql(
          `SELECT a.id, a.address FROM group_members gm JOIN accounts a ON a.id = gm.member_id
           WHERE gm.group_id = ? AND gm.member_kind = 'account' ORDER BY a.address`,
        ),
        [groupId],
      );
      const groups: { id: string; name: string }[] = await m.query(
        this.db.sql(
          `SELECT g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.member_id
           WHERE gm.group_id = ? AND gm.member_kind = 'group' ORDER BY g.name`,
        ),
        [groupId],
      );
      return [
        ...groups.map((g): GroupMember => ({ kind: 'group', groupId: g.id, name: g.name })),
        ...accounts.map((a): GroupMember => ({ kind: 'account', accountId: a.id, address: a.address })),
      ];
    }, 'listing group members');
  }

  /** Ids of every group nested inside groupId (not including it), breadth-first, bounded. */
  private async subgroupIds(m: EntityManager, groupId: string): Promise<Set<string>> {
    const seen = new Set<string>();
    let frontier = [groupId];
    for (let depth = 0; depth < MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
      const rows = await m
        .createQueryBuilder(GroupMemberEntity, 'gm')
        .select('gm.memberId', 'id')
        .where("gm.memberKind = 'group' AND gm.groupId IN (:...ids)", { ids: frontier })
        .getRawMany<{ id: string }>();
      frontier = rows.map((r) => r.id).filter((id) => !seen.has(id));
      for (const id of frontier) seen.add(id);
    }
    return seen;
  }

  async expandGroup(groupId: string): Promise<Account[]> {
    return this.db.run(async (m) => {
      if (!(await m.findOneBy(GroupEntity, { id: groupId }))) throw new NotFoundError('no such group');
      const ids = [groupId, ...(await this.subgroupIds(m, groupId))];
      const rows = await m
        .createQueryBuilder(AccountEntity, 'a')
        .where(`a.id IN (SELECT gm.member_id FROM group_members gm WHERE gm.member_kind = 'account' AND gm.group_id IN (:...ids))`, { ids })
        .andWhere("a.status = 'active'")
        .orderBy('a.address', 'ASC')
        .getMany();
      return rows.map(toAccount);
    }, 'expanding a group');
  }

  async groupsOfAccount(accountId: string): Promise<Group[]> {
    return this.db.run(async (m) => {
      const seen = new Set<string>();
      let frontier = (await m.findBy(GroupMemberEntity, { memberKind: 'account', memberId: accountId })).map((r) => r.groupId);
      for (let depth = 0; depth <= MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
        for (const id of frontier) seen.add(id);
        const parents = await m
          .createQueryBuilder(GroupMemberEntity, 'gm')
          .select('gm.groupId', 'id')
          .where("gm.memberKind = 'group' AND gm.memberId IN (:...ids)", { ids: frontier })
          .getRawMany<{ id: string }>();
        frontier = parents.map((p) => p.id).filter((id) => !seen.has(id));
      }
      if (seen.size === 0) return [];
      const rows = await m
        .createQueryBuilder(GroupEntity, 'g')
        .where('g.id IN (:...ids)', { ids: [...seen] })
        .orderBy('g.name', 'ASC')
        .getMany();
      return rows.map(toGroup);
    }, 'listing groups of an account');
  }

  // ---------------------------------------------------------------- credentials

  async addCredential(input: NewCredential): Promise<AppCredential> {
    const p = prepareCredential(input);
    return this.db.transaction(
      async (m) => {
        if (!(await m.findOneBy(AccountEntity, { id: p.accountId }))) throw new NotFoundError('no such account');
        const row: CredentialRow = {
          id: randomUUID(),
          accountId: p.accountId,
          kind: p.kind,
          label: p.label,
          secretHash: p.secretHash,
          createdAt: this.clock.now().getTime(),
          lastUsedAt: null,
          expiresAt: p.expiresAt ? p.expiresAt.getTime() : null,
        };
        await m.insert(CredentialEntity, row);
        return toCredential(row);
      },
      { what: 'adding a credential' },
    );
  }

  async listCredentials(accountId: string, kind?: CredentialKind): Promise<AppCredential[]> {
    return this.db.run(async (m) => {
      const rows = await m.find(CredentialEntity, {
        where: kind ? { accountId, kind } : { accountId },
        order: { createdAt: 'ASC' },
      });
      return rows.map(toCredential);
    }, 'listing credentials');
  }

  async removeCredential(accountId: string, id: string): Promise<void> {
    await this.db.run(async (m) => {
      const result = await m.delete(CredentialEntity, { id, accountId });
      if (result.affected === 0) throw new NotFoundError('no such credential');
    }, 'revoking a credential');
  }

  async findCredentialBySecretHash(secretHash: string): Promise<{ credential: AppCredential; account: Account } | null> {
    if (typeof secretHash !== 'string' || !/^[0-9a-f]{64}$/.test(secretHash)) return null;
    return this.db.run(async (m) => {
      const row = await m.findOneBy(CredentialEntity, { secretHash });
      if (!row) return null;
      const account = await m.findOneBy(AccountEntity, { id: row.accountId });
      return account ? { credential: toCredential(row), account: toAccount(account) } : null;
    }, 'finding a credential');
  }

  async touchCredential(id: string, at: Date): Promise<void> {
    await this.db.run((m) => m.update(CredentialEntity, { id }, { lastUsedAt: at.getTime() }), 'touching a credential');
  }
}
