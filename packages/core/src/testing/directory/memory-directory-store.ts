import { randomUUID } from 'node:crypto';
import { normalizeDomain, parseHostedAddress } from '../../address.js';
import type { Account, AddressTarget, Alias, AppCredential, CredentialKind, Domain, Group, GroupMember } from '../../directory/directory.js';
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
  prepareSearch,
  sortSearchHits,
  type DomainLimits,
} from '../../directory/directory-rules.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
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

interface State {
  domains: Map<string, { id: string; name: string; createdAt: Date } & DomainLimits>;
  domainNames: Map<string, { domainId: string; isPrimary: boolean }>;
  accounts: Map<string, Account & { passwordHash: string | null }>;
  addresses: Map<string, { kind: 'account' | 'alias' | 'group'; domainId: string; accountId: string | null; groupId: string | null; createdAt: Date }>;
  groups: Map<string, Group>;
  members: Set<string>; // `${groupId}|${kind}|${memberId}`
  credentials: Map<string, AppCredential & { secretHash: string }>;
}

const clone = <T>(value: T): T => structuredClone(value);

/**
 * DirectoryStore in memory, for tests and embedders that keep their directory elsewhere. Every
 * mutation works on a copy of the state and swaps it in only on success: all or nothing, like the
 * database transactions of SqlDirectoryStore.
 */
export class MemoryDirectoryStore implements DirectoryStore {
  private s: State = {
    domains: new Map(),
    domainNames: new Map(),
    accounts: new Map(),
    addresses: new Map(),
    groups: new Map(),
    members: new Set(),
    credentials: new Map(),
  };

  constructor(private readonly clock: Clock = systemClock) {}

  private async tx<T>(fn: (s: State) => T): Promise<T> {
    const draft = clone(this.s);
    const result = fn(draft);
    this.s = draft;
    return clone(result);
  }

  private async read<T>(fn: (s: State) => T): Promise<T> {
    return clone(fn(this.s));
  }

  private domainOf(s: State, id: string): Domain {
    const d = s.domains.get(id);
    if (!d) throw new NotFoundError('no such domain');
    const aliases = [...s.domainNames.entries()].filter(([, v]) => v.domainId === id && !v.isPrimary).map(([k]) => k).sort();
    return { ...d, aliases };
  }

  private domainIdOf(s: State, name: string): string | null {
    const key = domainKey(name);
    return key ? (s.domainNames.get(key)?.domainId ?? null) : null;
  }

  private canonical(s: State, address: string): { address: string; domainId: string } | null {
    const key = lookupKey(address);
    if (!key) return null;
    const name = s.domainNames.get(key.domain);
    if (!name) return null;
    return { address: `${key.local}@${s.domains.get(name.domainId)!.name}`, domainId: name.domainId };
  }

  private publicAccount(a: Account & { passwordHash: string | null }): Account {
    const { passwordHash: _hidden, ...account } = a;
    return account;
  }

  async createDomain(input: NewDomain): Promise<Domain> {
    const name = normalizeDomain(input.name);
    const limits = prepareDomainLimits(input);
    return this.tx((s) => {
      if (s.domainNames.has(name)) throw new ConflictError(`creating domain ${name}: already exists`);
      const id = randomUUID();
      s.domains.set(id, { id, name, ...limits, createdAt: this.clock.now() });
      s.domainNames.set(name, { domainId: id, isPrimary: true });
      return this.domainOf(s, id);
    });
  }

  async findDomain(name: string): Promise<Domain | null> {
    return this.read((s) => {
      const id = this.domainIdOf(s, name);
      return id ? this.domainOf(s, id) : null;
    });
  }

  async getDomainById(id: string): Promise<Domain> {
    return this.read((s) => this.domainOf(s, id));
  }

  async listDomains(): Promise<Domain[]> {
    return this.read((s) => [...s.domains.keys()].map((id) => this.domainOf(s, id)).sort((a, b) => a.name.localeCompare(b.name)));
  }

  async removeDomain(name: string): Promise<void> {
    const key = normalizeDomain(name);
    await this.tx((s) => {
      const d = [...s.domains.values()].find((x) => x.name === key);
      if (!d) throw new NotFoundError(`no domain ${key}`);
      const used =
        [...s.accounts.values()].some((a) => a.domainId === d.id) ||
        [...s.groups.values()].some((g) => g.domainId === d.id) ||
        [...s.addresses.values()].some((a) => a.domainId === d.id);
      if (used) throw new ConflictError(`domain ${key} still has accounts, groups or aliases`);
      for (const [n, v] of [...s.domainNames]) if (v.domainId === d.id) s.domainNames.delete(n);
      s.domains.delete(d.id);
    });
  }

  async addDomainAlias(domain: string, alias: string): Promise<Domain> {
    const aliasName = normalizeDomain(alias);
    return this.tx((s) => {
      const id = this.domainIdOf(s, domain);
      if (!id) throw new NotFoundError(`no domain ${domain}`);
      if (s.domainNames.has(aliasName)) throw new ConflictError(`adding domain alias ${aliasName}: already exists`);
      s.domainNames.set(aliasName, { domainId: id, isPrimary: false });
      return this.domainOf(s, id);
    });
  }

  async removeDomainAlias(alias: string): Promise<void> {
    const key = normalizeDomain(alias);
    await this.tx((s) => {
      const row = s.domainNames.get(key);
      if (!row || row.isPrimary) throw new NotFoundError(`${key} is not a domain alias`);
      s.domainNames.delete(key);
    });
  }

  private insertAccount(s: State, input: NewAccount): Account & { passwordHash: string | null } {
    const p = prepareAccount(input);
    const target = this.canonical(s, p.address);
    if (!target) throw new NotFoundError(`domain ${p.domain} is not hosted here; add it first`);
    const existing = s.addresses.get(target.address);
    if (existing) throw new ConflictError(`${target.address} is already in use (${existing.kind})`);
    const domain = s.domains.get(target.domainId)!;
    const now = this.clock.now();
    const account = {
      id: randomUUID(),
      address: target.address,
      domainId: target.domainId,
      displayName: p.displayName,
      department: p.department,
      ...accountLimits(p, domain),
      status: p.status,
      createdAt: now,
      lastLoginAt: null,
      passwordHash: p.passwordHash,
    };
    s.accounts.set(account.id, account);
    s.addresses.set(target.address, { kind: 'account', domainId: target.domainId, accountId: account.id, groupId: null, createdAt: now });
    return account;
  }

  async createAccount(input: NewAccount): Promise<Account> {
    return this.tx((s) => this.publicAccount(this.insertAccount(s, input)));
  }

  async getAccount(id: string): Promise<Account> {
    return this.read((s) => {
      const a = s.accounts.get(id);
      if (!a) throw new NotFoundError('no such account');
      return this.publicAccount(a);
    });
  }

  async findAccount(address: string): Promise<Account | null> {
    return this.read((s) => {
      const target = this.canonical(s, address);
      const row = target ? s.addresses.get(target.address) : undefined;
      if (!row || row.kind !== 'account' || !row.accountId) return null;
      return this.publicAccount(s.accounts.get(row.accountId)!);
    });
  }

  async listAccounts(query: ListAccountsQuery = {}): Promise<AccountPage> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 1000));
    return this.read((s) => {
      let domainId: string | null = null;
      if (query.domain !== undefined) {
        domainId = this.domainIdOf(s, query.domain);
        if (!domainId) throw new NotFoundError(`no domain ${query.domain}`);
      }
      const all = [...s.accounts.values()]
        .filter((a) => (domainId === null || a.domainId === domainId) && (!query.after || a.address > query.after))
        .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
      const page = all.slice(0, limit).map((a) => this.publicAccount(a));
      return { accounts: page, next: all.length > limit ? page[page.length - 1]!.address : null };
    });
  }

  async search(domainId: string | null, text: string, limit: number): Promise<Account[]> {
    const q = prepareSearch(text, limit);
    if (!q) return [];
    return this.read((s) => {
      const hits = new Map<string, Account & { passwordHash: string | null }>();
      for (const a of s.accounts.values()) if (q.name && foldName(a.displayName).startsWith(q.name)) hits.set(a.id, a);
      for (const [address, row] of s.addresses) {
        if (row.accountId && row.kind !== 'group' && q.address && address.startsWith(q.address)) hits.set(row.accountId, s.accounts.get(row.accountId)!);
      }
      return sortSearchHits([...hits.values()].filter((a) => a.status === 'active' && (domainId === null || a.domainId === domainId)))
        .slice(0, q.limit)
        .map((a) => this.publicAccount(a));
    });
  }

  async countAccounts(domain?: string): Promise<number> {
    return this.read((s) => {
      if (domain === undefined) return s.accounts.size;
      const domainId = this.domainIdOf(s, domain);
      if (!domainId) throw new NotFoundError(`no domain ${domain}`);
      return [...s.accounts.values()].filter((a) => a.domainId === domainId).length;
    });
  }

  async updateAccount(id: string, patch: AccountPatch): Promise<Account> {
    const clean = prepareAccountPatch(patch);
    return this.tx((s) => {
      const a = s.accounts.get(id);
      if (!a) throw new NotFoundError('no such account');
      const next = { ...a, ...clean };
      s.accounts.set(id, next);
      return this.publicAccount(next);
    });
  }

  async removeAccount(id: string): Promise<void> {
    await this.tx((s) => {
      if (!s.accounts.delete(id)) throw new NotFoundError('no such account');
      for (const [addr, row] of [...s.addresses]) if (row.accountId === id) s.addresses.delete(addr);
      for (const key of [...s.members]) if (key.endsWith(`|account|${id}`)) s.members.delete(key);
      for (const [cid, c] of [...s.credentials]) if (c.accountId === id) s.credentials.delete(cid);
    });
  }

  async getPasswordHash(accountId: string): Promise<string | null> {
    return this.read((s) => {
      const a = s.accounts.get(accountId);
      if (!a) throw new NotFoundError('no such account');
      return a.passwordHash;
    });
  }

  async setPasswordHash(accountId: string, hash: string | null): Promise<void> {
    const clean = checkPasswordHash(hash);
    await this.tx((s) => {
      const a = s.accounts.get(accountId);
      if (!a) throw new NotFoundError('no such account');
      s.accounts.set(accountId, { ...a, passwordHash: clean });
    });
  }

  async recordLogin(accountId: string, at: Date): Promise<void> {
    await this.tx((s) => {
      const a = s.accounts.get(accountId);
      if (a) s.accounts.set(accountId, { ...a, lastLoginAt: at });
    });
  }

  async upsertAccounts(rows: readonly AccountUpsert[]): Promise<UpsertOutcome[]> {
    const prepared = rows.map((row) => ({ row, p: prepareAccount(row) }));
    return this.tx((s) =>
      prepared.map(({ row, p }) => {
        const target = this.canonical(s, p.address);
        if (!target) throw new NotFoundError(`domain ${p.domain} is not hosted here; add it first`);
        const addr = s.addresses.get(target.address);
        let outcome: UpsertOutcome;
        let account: Account & { passwordHash: string | null };
        if (!addr) {
          account = this.insertAccount(s, row);
          outcome = 'created';
        } else {
          if (addr.kind !== 'account' || !addr.accountId) throw new ConflictError(`${target.address} is already in use (${addr.kind})`);
          const existing = s.accounts.get(addr.accountId)!;
          const next = { ...existing };
          if (row.displayName !== undefined) next.displayName = p.displayName;
          if (row.department !== undefined) next.department = p.department;
          if (p.quotaBytes !== undefined) next.quotaBytes = p.quotaBytes;
          if (p.quotaMessages !== undefined) next.quotaMessages = p.quotaMessages;
          if (p.quotaMailboxes !== undefined) next.quotaMailboxes = p.quotaMailboxes;
          if (row.status !== undefined) next.status = p.status;
          if (p.passwordHash !== null) next.passwordHash = p.passwordHash;
          const changed = (Object.keys(next) as (keyof typeof next)[]).some((k) => next[k] !== existing[k]);
          s.accounts.set(existing.id, next);
          account = next;
          outcome = changed ? 'updated' : 'unchanged';
        }
        for (const alias of row.aliases ?? []) {
          const parsed = parseHostedAddress(alias);
          const t = this.canonical(s, parsed.address);
          if (!t) throw new NotFoundError(`domain ${parsed.domain} is not hosted here`);
          const existing = s.addresses.get(t.address);
          if (existing) {
            if (existing.kind === 'alias' && existing.accountId === account.id) continue;
            throw new ConflictError(`${t.address} is already in use (${existing.kind})`);
          }
          s.addresses.set(t.address, { kind: 'alias', domainId: t.domainId, accountId: account.id, groupId: null, createdAt: this.clock.now() });
          if (outcome === 'unchanged') outcome = 'updated';
        }
        for (const name of row.groups ?? []) {
          const group = [...s.groups.values()].find((g) => g.name === name);
          if (!group) throw new NotFoundError(`no group ${name}`);
          const key = `${group.id}|account|${account.id}`;
          if (!s.members.has(key)) {
            s.members.add(key);
            if (outcome === 'unchanged') outcome = 'updated';
          }
        }
        return outcome;
      }),
    );
  }

  async addAlias(address: string, accountId: string): Promise<Alias> {
    return this.tx((s) => {
      if (!s.accounts.has(accountId)) throw new NotFoundError('no such account');
      const parsed = parseHostedAddress(address);
      const target = this.canonical(s, parsed.address);
      if (!target) throw new NotFoundError(`domain ${parsed.domain} is not hosted here`);
      const existing = s.addresses.get(target.address);
      if (existing) throw new ConflictError(`${target.address} is already in use (${existing.kind})`);
      const createdAt = this.clock.now();
      s.addresses.set(target.address, { kind: 'alias', domainId: target.domainId, accountId, groupId: null, createdAt });
      return { address: target.address, accountId, createdAt };
    });
  }

  async removeAlias(address: string): Promise<void> {
    await this.tx((s) => {
      const target = this.canonical(s, address);
      const row = target ? s.addresses.get(target.address) : undefined;
      if (!target || !row || row.kind !== 'alias') throw new NotFoundError(`${address} is not an alias`);
      s.addresses.delete(target.address);
    });
  }

  async listAliases(accountId: string): Promise<Alias[]> {
    return this.read((s) =>
      [...s.addresses.entries()]
        .filter(([, r]) => r.kind === 'alias' && r.accountId === accountId)
        .map(([address, r]) => ({ address, accountId, createdAt: r.createdAt }))
        .sort((a, b) => (a.address < b.address ? -1 : 1)),
    );
  }

  async aliasesOf(accountIds: readonly string[]): Promise<Map<string, Alias[]>> {
    if (accountIds.length > 1000) throw new InvalidInputError('at most 1,000 accounts at once');
    const out = new Map<string, Alias[]>();
    for (const id of accountIds) out.set(id, await this.listAliases(id));
    return out;
  }

  async resolveAddress(address: string): Promise<AddressTarget | null> {
    return this.read((s): AddressTarget | null => {
      const target = this.canonical(s, address);
      const row = target ? s.addresses.get(target.address) : undefined;
      if (!row) return null;
      if (row.kind === 'group' && row.groupId) {
        const group = s.groups.get(row.groupId);
        return group ? { kind: 'group', group } : null;
      }
      const account = row.accountId ? s.accounts.get(row.accountId) : undefined;
      return account ? { kind: 'account', account: this.publicAccount(account), via: row.kind === 'alias' ? 'alias' : 'primary' } : null;
    });
  }

  async createGroup(input: NewGroup): Promise<Group> {
    const p = prepareGroup(input);
    return this.tx((s) => {
      const domainId = this.domainIdOf(s, p.domain);
      if (!domainId) throw new NotFoundError(`no domain ${p.domain}`);
      const domain = s.domains.get(domainId)!;
      const now = this.clock.now();
      const id = randomUUID();
      let address: string | null = null;
      if (p.address) {
        address = `${p.address.slice(0, p.address.lastIndexOf('@'))}@${domain.name}`;
        const existing = s.addresses.get(address);
        if (existing) throw new ConflictError(`${address} is already in use (${existing.kind})`);
        s.addresses.set(address, { kind: 'group', domainId, accountId: null, groupId: id, createdAt: now });
      }
      if ([...s.groups.values()].some((g) => g.name === p.name)) throw new ConflictError(`group ${p.name} already exists`);
      const group: Group = { id, name: p.name, domainId, address, description: p.description, createdAt: now };
      s.groups.set(id, group);
      return group;
    });
  }

  async findGroup(name: string): Promise<Group | null> {
    return this.read((s) => [...s.groups.values()].find((g) => g.name === name) ?? null);
  }

  async getGroup(id: string): Promise<Group> {
    return this.read((s) => {
      const g = s.groups.get(id);
      if (!g) throw new NotFoundError('no such group');
      return g;
    });
  }

  async listGroups(domain?: string): Promise<Group[]> {
    return this.read((s) => {
      let domainId: string | null = null;
      if (domain !== undefined) {
        domainId = this.domainIdOf(s, domain);
        if (!domainId) throw new NotFoundError(`no domain ${domain}`);
      }
      return [...s.groups.values()].filter((g) => domainId === null || g.domainId === domainId).sort((a, b) => (a.name < b.name ? -1 : 1));
    });
  }

  async removeGroup(id: string): Promise<void> {
    await this.tx((s) => {
      if (!s.groups.delete(id)) throw new NotFoundError('no such group');
      for (const key of [...s.members]) if (key.startsWith(`${id}|`) || key.endsWith(`|group|${id}`)) s.members.delete(key);
      for (const [addr, row] of [...s.addresses]) if (row.groupId === id) s.addresses.delete(addr);
    });
  }

  private subgroups(s: State, groupId: string): Set<string> {
    const seen = new Set<string>();
    let frontier = [groupId];
    for (let depth = 0; depth < MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const key of s.members) {
        const [g, kind, member] = key.split('|') as [string, string, string];
        if (kind === 'group' && frontier.includes(g) && !seen.has(member)) {
          seen.add(member);
          next.push(member);
        }
      }
      frontier = next;
    }
    return seen;
  }

  async addGroupMember(groupId: string, member: MemberRef): Promise<void> {
    await this.tx((s) => {
      if (!s.groups.has(groupId)) throw new NotFoundError('no such group');
      let key: string;
      if ('accountId' in member) {
        if (!s.accounts.has(member.accountId)) throw new NotFoundError('no such account');
        key = `${groupId}|account|${member.accountId}`;
      } else {
        if (!s.groups.has(member.groupId)) throw new NotFoundError('no such group');
        if (member.groupId === groupId || this.subgroups(s, member.groupId).has(groupId)) {
          throw new ConflictError('a group cannot contain itself');
        }
        key = `${groupId}|group|${member.groupId}`;
      }
      s.members.add(key);
    });
  }

  async removeGroupMember(groupId: string, member: MemberRef): Promise<void> {
    const key = 'accountId' in member ? `${groupId}|account|${member.accountId}` : `${groupId}|group|${member.groupId}`;
    await this.tx((s) => {
      if (!s.members.delete(key)) throw new NotFoundError('not a member');
    });
  }

  async listGroupMembers(groupId: string): Promise<GroupMember[]> {
    return this.read((s) => {
      if (!s.groups.has(groupId)) throw new NotFoundError('no such group');
      const groups: GroupMember[] = [];
      const accounts: GroupMember[] = [];
      for (const key of s.members) {
        const [g, kind, id] = key.split('|') as [string, string, string];
        if (g !== groupId) continue;
        if (kind === 'group') groups.push({ kind: 'group', groupId: id, name: s.groups.get(id)!.name });
        else accounts.push({ kind: 'account', accountId: id, address: s.accounts.get(id)!.address });
      }
      groups.sort((a, b) => ((a as { name: string }).name < (b as { name: string }).name ? -1 : 1));
      accounts.sort((a, b) => ((a as { address: string }).address < (b as { address: string }).address ? -1 : 1));
      return [...groups, ...accounts];
    });
  }

  async expandGroup(groupId: string): Promise<Account[]> {
    return this.read((s) => {
      if (!s.groups.has(groupId)) throw new NotFoundError('no such group');
      const ids = new Set([groupId, ...this.subgroups(s, groupId)]);
      const accounts = new Map<string, Account>();
      for (const key of s.members) {
        const [g, kind, id] = key.split('|') as [string, string, string];
        const a = kind === 'account' && ids.has(g) ? s.accounts.get(id) : undefined;
        if (a && a.status === 'active') accounts.set(a.id, this.publicAccount(a));
      }
      return [...accounts.values()].sort((a, b) => (a.address < b.address ? -1 : 1));
    });
  }

  async groupsOfAccount(accountId: string): Promise<Group[]> {
    return this.read((s) => {
      const seen = new Set<string>();
      let frontier = [...s.members].filter((k) => k.endsWith(`|account|${accountId}`)).map((k) => k.split('|')[0]!);
      for (let depth = 0; depth <= MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
        for (const id of frontier) seen.add(id);
        frontier = [...s.members]
          .map((k) => k.split('|') as [string, string, string])
          .filter(([, kind, member]) => kind === 'group' && frontier.includes(member))
          .map(([g]) => g)
          .filter((g) => !seen.has(g));
      }
      return [...seen].map((id) => s.groups.get(id)!).sort((a, b) => (a.name < b.name ? -1 : 1));
    });
  }

  async addCredential(input: NewCredential): Promise<AppCredential> {
    const p = prepareCredential(input);
    return this.tx((s) => {
      if (!s.accounts.has(p.accountId)) throw new NotFoundError('no such account');
      if ([...s.credentials.values()].some((c) => c.secretHash === p.secretHash)) throw new ConflictError('adding a credential: already exists');
      const credential = {
        id: randomUUID(),
        accountId: p.accountId,
        kind: p.kind,
        label: p.label,
        createdAt: this.clock.now(),
        lastUsedAt: null,
        expiresAt: p.expiresAt ?? null,
        secretHash: p.secretHash,
      };
      s.credentials.set(credential.id, credential);
      const { secretHash: _hidden, ...visible } = credential;
      return visible;
    });
  }

  async listCredentials(accountId: string, kind?: CredentialKind): Promise<AppCredential[]> {
    return this.read((s) =>
      [...s.credentials.values()]
        .filter((c) => c.accountId === accountId && (!kind || c.kind === kind))
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
        .map(({ secretHash: _hidden, ...c }) => c),
    );
  }

  async removeCredential(accountId: string, id: string): Promise<void> {
    await this.tx((s) => {
      const c = s.credentials.get(id);
      if (!c || c.accountId !== accountId) throw new NotFoundError('no such credential');
      s.credentials.delete(id);
    });
  }

  async findCredentialBySecretHash(secretHash: string): Promise<{ credential: AppCredential; account: Account } | null> {
    return this.read((s) => {
      const c = [...s.credentials.values()].find((x) => x.secretHash === secretHash);
      const a = c ? s.accounts.get(c.accountId) : undefined;
      if (!c || !a) return null;
      const { secretHash: _hidden, ...credential } = c;
      return { credential, account: this.publicAccount(a) };
    });
  }

  async touchCredential(id: string, at: Date): Promise<void> {
    await this.tx((s) => {
      const c = s.credentials.get(id);
      if (c) s.credentials.set(id, { ...c, lastUsedAt: at });
    });
  }
}
