import { randomBytes } from 'node:crypto';
import {
  effectiveRights,
  InvalidInputError,
  normalizeRights,
  NotFoundError,
  type Account,
  type AccountUpsert,
  type AclGrantee,
  type AppCredential,
  type AuditLog,
  type CalendarCollection,
  type CalendarStore,
  type DirectoryStore,
  type InviteStatus,
  type ShareAccess,
  type ShareGrantee,
  type Domain,
  type DriveSpace,
  type DriveStore,
  type GrantAccess,
  type GrantPrincipal,
  type Group,
  type MailStore,
  type Mailbox,
  type UpsertOutcome,
} from '@palabre/core';
import type { CredentialService } from '../credentials.js';
import { AdminGate, auditFieldsOf, domainOf, type AdminActor, type DomainAdministratorCheck } from './actor.js';

export interface AdministrationOptions {
  directory: DirectoryStore;
  audit: AuditLog;
  credentials: CredentialService;
  /** Needed by the group folder functions only. */
  drive?: DriveStore;
  /** Needed by the mailbox sharing functions only. */
  mail?: MailStore;
  /** Needed by the calendar sharing and delegation functions only. */
  calendars?: CalendarStore;
  /** Who administers which domain; without it only the CLI actor administers. */
  isDomainAdministrator?: DomainAdministratorCheck;
}

/** A password people can type: 4 groups of 5 letters and digits (~100 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(20);
  return Array.from(bytes, (b, i) => (i > 0 && i % 5 === 0 ? '-' : '') + alphabet[b & 31]).join('');
}

/** `{ address }` for an account (or one of its aliases for groups members), `{ group }` for a group by name. */
export type MemberInput = { readonly address: string } | { readonly group: string };

export interface NewAccountInput {
  address: string;
  displayName?: string;
  department?: string | null;
  quotaBytes?: number | null;
  /** A password to check and hash; `null`: no local password (LDAP, app passwords); undefined: one is generated. */
  password?: string | null;
}

export interface PasswordResult {
  readonly account: Account;
  /** Set when the function made the password up: show it once, it is stored only hashed. */
  readonly generatedPassword: string | null;
}

export interface IssuedAppPassword {
  readonly account: Account;
  readonly credential: AppCredential;
  readonly secret: string;
}

export interface FolderGrantResult {
  readonly space: DriveSpace;
  /** `group NAME` or the account's address. */
  readonly label: string;
  readonly access: GrantAccess | 'none';
}

export interface MailboxShareResult {
  readonly account: Account;
  readonly mailbox: Mailbox;
  /** Normalised RFC 4314 rights given; empty when access was taken away. */
  readonly rights: string;
  /** What the grantee ends up with (an account's own group rights included). */
  readonly effective: string;
}

/** A calendar, its owner and who it is shared with, for `palabre calendar list`. */
export interface CalendarListing {
  readonly collection: CalendarCollection;
  /** `status`: where the sharee stands on the invitation (a group's share is accepted from the start). */
  readonly shares: readonly { readonly label: string; readonly access: ShareAccess; readonly status: InviteStatus }[];
}

const ACCESS: readonly string[] = ['read', 'write'];

function checkAccess(value: unknown, allowNone: boolean): GrantAccess | 'none' {
  if (ACCESS.includes(value as string) || (allowNone && value === 'none')) return value as GrantAccess | 'none';
  throw new InvalidInputError(`access is read${allowNone ? ', write or none' : ' or write'}, not ${JSON.stringify(String(value).slice(0, 40))}`);
}

/**
 * The administration of accounts, domains, groups, aliases, credentials, group folders and shared
 * mailboxes as functions: input checked, the actor authorised, the change made, the audit event recorded,
 * a plain result returned. The CLI, bulk import, migrations and the web portal all call these.
 */
export class Administration {
  private readonly gate: AdminGate;

  constructor(private readonly options: AdministrationOptions) {
    this.gate = new AdminGate(options.audit, options.isDomainAdministrator);
  }

  private get dir(): DirectoryStore {
    return this.options.directory;
  }

  private get drive(): DriveStore {
    if (!this.options.drive) throw new InvalidInputError('group folders are not available here (no drive store)');
    return this.options.drive;
  }

  private get mail(): MailStore {
    if (!this.options.mail) throw new InvalidInputError('mailboxes are not available here (no mail store)');
    return this.options.mail;
  }

  /** Calendar sharing and delegation (needs the `calendars` store). */
  get calendars(): CalendarAdministration {
    if (!this.options.calendars) throw new InvalidInputError('calendars are not available here (no calendar store)');
    return new CalendarAdministration(this, this.gate, this.dir, this.options.calendars);
  }

  /** The account, once the actor may administer its domain (for the feature administrations beside this one). */
  accountFor(actor: AdminActor, address: string, action: string): Promise<Account> {
    return this.account(actor, address, action);
  }

  /** The account, once the actor may administer its domain; a non-administrator learns nothing about it. */
  private async account(actor: AdminActor, address: string, action: string): Promise<Account> {
    const account = await this.dir.findAccount(address);
    if (!account) {
      if (actor?.kind !== 'cli') await this.gate.authorize(actor, domainOf(address), action, address);
      throw new NotFoundError(`no account ${address}`);
    }
    await this.gate.authorize(actor, domainOf(account.address), action, account.address);
    return account;
  }

  private async groupDomain(group: Group): Promise<string> {
    return (await this.dir.getDomainById(group.domainId)).name;
  }

  private async group(actor: AdminActor, name: string, action: string): Promise<Group> {
    const group = typeof name === 'string' && name.length <= 256 ? await this.dir.findGroup(name) : null;
    if (!group) {
      // Groups have no domain in their name: only the CLI learns whether one exists.
      await this.gate.authorize(actor, null, action, String(name).slice(0, 256));
      throw new NotFoundError(`no group ${name}`);
    }
    await this.gate.authorize(actor, await this.groupDomain(group), action, group.name);
    return group;
  }

  // Domains: the installation's own business, so the CLI's only.

  async createDomain(
    actor: AdminActor,
    input: { name: string; defaultQuotaBytes?: number | null; defaultQuotaMessages?: number | null; defaultQuotaMailboxes?: number | null },
  ): Promise<Domain> {
    await this.gate.authorize(actor, null, 'add a domain', String(input.name).slice(0, 256));
    const domain = await this.dir.createDomain({
      name: input.name,
      defaultQuotaBytes: input.defaultQuotaBytes ?? null,
      defaultQuotaMessages: input.defaultQuotaMessages ?? null,
      defaultQuotaMailboxes: input.defaultQuotaMailboxes ?? null,
    });
    await this.gate.record(actor, 'domain.created', domain.name);
    return domain;
  }

  async removeDomain(actor: AdminActor, input: { name: string }): Promise<{ name: string }> {
    await this.gate.authorize(actor, null, 'remove a domain', String(input.name).slice(0, 256));
    await this.dir.removeDomain(input.name);
    await this.gate.record(actor, 'domain.removed', input.name);
    return { name: input.name };
  }

  async addDomainAlias(actor: AdminActor, input: { domain: string; alias: string }): Promise<Domain> {
    await this.gate.authorize(actor, null, 'add a domain alias', String(input.alias).slice(0, 256));
    const domain = await this.dir.addDomainAlias(input.domain, input.alias);
    await this.gate.record(actor, 'alias.changed', input.alias, `domain alias of ${domain.name}`);
    return domain;
  }

  async removeDomainAlias(actor: AdminActor, input: { alias: string }): Promise<{ alias: string }> {
    await this.gate.authorize(actor, null, 'remove a domain alias', String(input.alias).slice(0, 256));
    await this.dir.removeDomainAlias(input.alias);
    await this.gate.record(actor, 'alias.changed', input.alias, 'domain alias removed');
    return { alias: input.alias };
  }

  // Accounts.

  async createAccount(actor: AdminActor, input: NewAccountInput): Promise<PasswordResult> {
    const domain = domainOf(input.address);
    await this.gate.authorize(actor, domain, 'add an account', input.address);
    const generatedPassword = input.password === undefined ? generatePassword() : null;
    const password = input.password === undefined ? generatedPassword : input.password;
    // Check the policy before creating anything: a refused password leaves no account behind.
    const hash = password === null ? null : await this.options.credentials.hashNewPassword(password, input.address);
    const account = await this.dir.createAccount({
      address: input.address,
      displayName: input.displayName,
      department: input.department,
      quotaBytes: input.quotaBytes,
      passwordHash: hash,
    });
    await this.gate.record(actor, 'account.created', account.address);
    return { account, generatedPassword };
  }

  /**
   * Bulk provisioning (CSV import): one transaction per call. Audited per domain and outcome, not per
   * row: an event per account made a 70,000-row import spend as long writing audit rows as accounts.
   */
  async upsertAccounts(actor: AdminActor, rows: readonly AccountUpsert[]): Promise<UpsertOutcome[]> {
    const domains = rows.map((r) => domainOf(r.address));
    for (const domain of new Set(domains)) await this.gate.authorize(actor, domain, 'provision accounts', domain);
    const outcomes = await this.dir.upsertAccounts(rows);
    const tally = new Map<string, { created: string[]; updated: string[] }>();
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome === 'unchanged') continue;
      const entry = tally.get(domains[i]!) ?? { created: [], updated: [] };
      entry[outcome].push(rows[i]!.address);
      tally.set(domains[i]!, entry);
    }
    const said = (addresses: string[], verb: string) =>
      addresses.length === 1 ? `${addresses[0]} ${verb}` : `${addresses.length} accounts ${verb} (${addresses[0]} … ${addresses.at(-1)})`;
    for (const [domain, { created, updated }] of tally) {
      if (created.length > 0) await this.gate.record(actor, 'account.created', domain, said(created, 'created'));
      if (updated.length > 0) await this.gate.record(actor, 'account.updated', domain, said(updated, 'updated'));
    }
    return outcomes;
  }

  async setPassword(actor: AdminActor, input: { address: string; password?: string }): Promise<PasswordResult> {
    const account = await this.account(actor, input.address, 'change a password');
    const generatedPassword = input.password === undefined ? generatePassword() : null;
    await this.options.credentials.setPassword(account.id, input.password ?? generatedPassword!, auditFieldsOf(actor).actor, auditFieldsOf(actor).protocol);
    return { account, generatedPassword };
  }

  async suspendAccount(actor: AdminActor, input: { address: string }): Promise<Account> {
    const account = await this.account(actor, input.address, 'suspend an account');
    const updated = await this.dir.updateAccount(account.id, { status: 'suspended' });
    await this.gate.record(actor, 'account.suspended', account.address);
    return updated;
  }

  async unsuspendAccount(actor: AdminActor, input: { address: string }): Promise<Account> {
    const account = await this.account(actor, input.address, 'unsuspend an account');
    const updated = await this.dir.updateAccount(account.id, { status: 'active' });
    await this.gate.record(actor, 'account.updated', account.address, 'unsuspended');
    return updated;
  }

  /**
   * The account's storage, message and mailbox limits (RFC 9208 STORAGE, MESSAGE, MAILBOX); a limit
   * left undefined is unchanged, null is unlimited. `detail` says the new quota in the caller's words
   * (the CLI writes `quota 2 GiB`).
   */
  async setQuota(
    actor: AdminActor,
    input: { address: string; quotaBytes?: number | null; quotaMessages?: number | null; quotaMailboxes?: number | null; detail?: string },
  ): Promise<Account> {
    const account = await this.account(actor, input.address, 'change a quota');
    const updated = await this.dir.updateAccount(account.id, { quotaBytes: input.quotaBytes, quotaMessages: input.quotaMessages, quotaMailboxes: input.quotaMailboxes });
    const said = [input.quotaBytes === undefined ? null : `quota ${input.quotaBytes ?? 'unlimited'}`, input.quotaMessages === undefined ? null : `messages ${input.quotaMessages ?? 'unlimited'}`, input.quotaMailboxes === undefined ? null : `mailboxes ${input.quotaMailboxes ?? 'unlimited'}`];
    await this.gate.record(actor, 'account.updated', account.address, input.detail ?? said.filter(Boolean).join(', '));
    return updated;
  }

  async removeAccount(actor: AdminActor, input: { address: string }): Promise<{ address: string }> {
    const account = await this.account(actor, input.address, 'remove an account');
    await this.dir.removeAccount(account.id);
    await this.gate.record(actor, 'account.removed', account.address);
    return { address: account.address };
  }

  // Aliases.

  async addAlias(actor: AdminActor, input: { alias: string; address: string }): Promise<{ alias: string; account: Account }> {
    await this.gate.authorize(actor, domainOf(input.alias), 'add an alias', input.alias);
    const account = await this.account(actor, input.address, 'add an alias');
    const created = await this.dir.addAlias(input.alias, account.id);
    await this.gate.record(actor, 'alias.changed', created.address, `-> ${account.address}`);
    return { alias: created.address, account };
  }

  async removeAlias(actor: AdminActor, input: { alias: string }): Promise<{ alias: string }> {
    await this.gate.authorize(actor, domainOf(input.alias), 'remove an alias', input.alias);
    await this.dir.removeAlias(input.alias);
    await this.gate.record(actor, 'alias.changed', input.alias, 'removed');
    return { alias: input.alias };
  }

  // Groups.

  async createGroup(actor: AdminActor, input: { name: string; domain: string; address?: string | null; description?: string | null }): Promise<Group> {
    await this.gate.authorize(actor, input.domain, 'add a group', String(input.name).slice(0, 256));
    if (input.address) await this.gate.authorize(actor, domainOf(input.address), 'add a group', input.address);
    const group = await this.dir.createGroup({ name: input.name, domain: input.domain, address: input.address ?? null, description: input.description ?? null });
    await this.gate.record(actor, 'group.changed', group.name, 'created');
    return group;
  }

  async removeGroup(actor: AdminActor, input: { name: string }): Promise<Group> {
    const group = await this.group(actor, input.name, 'remove a group');
    await this.dir.removeGroup(group.id);
    await this.gate.record(actor, 'group.changed', group.name, 'removed');
    return group;
  }

  private async member(actor: AdminActor, member: MemberInput, action: string): Promise<{ ref: { accountId: string } | { groupId: string }; label: string }> {
    if ('group' in member) {
      const group = await this.group(actor, member.group, action);
      return { ref: { groupId: group.id }, label: `group ${group.name}` };
    }
    const account = await this.account(actor, member.address, action);
    return { ref: { accountId: account.id }, label: account.address };
  }

  async addGroupMember(actor: AdminActor, input: { group: string; member: MemberInput }): Promise<{ group: Group; label: string }> {
    return this.changeMembership(actor, input, 'added');
  }

  async removeGroupMember(actor: AdminActor, input: { group: string; member: MemberInput }): Promise<{ group: Group; label: string }> {
    return this.changeMembership(actor, input, 'removed');
  }

  private async changeMembership(actor: AdminActor, input: { group: string; member: MemberInput }, change: 'added' | 'removed') {
    const group = await this.group(actor, input.group, 'change a group');
    const { ref, label } = await this.member(actor, input.member, 'change a group');
    if (change === 'added') await this.dir.addGroupMember(group.id, ref);
    else await this.dir.removeGroupMember(group.id, ref);
    await this.gate.record(actor, 'group.changed', group.name, `${change} ${label}`);
    return { group, label };
  }

  // App passwords (per-device secrets).

  async issueAppPassword(actor: AdminActor, input: { address: string; label: string }): Promise<IssuedAppPassword> {
    const account = await this.account(actor, input.address, 'issue an app password');
    const { actor: who, protocol } = auditFieldsOf(actor);
    const issued = await this.options.credentials.issueAppPassword(account.id, input.label, who, protocol);
    return { account, credential: issued.credential, secret: issued.secret };
  }

  /** `credential`: its id or its label. */
  async revokeCredential(actor: AdminActor, input: { address: string; credential: string }): Promise<{ account: Account }> {
    const account = await this.account(actor, input.address, 'revoke an app password');
    const { actor: who, protocol } = auditFieldsOf(actor);
    await this.options.credentials.revoke(account.id, input.credential, who, protocol);
    return { account };
  }

  // Group folders (drive spaces owned by a group).

  async createGroupFolder(actor: AdminActor, input: { group: string; access?: GrantAccess; quotaBytes?: number | null }): Promise<{ space: DriveSpace; group: Group; access: GrantAccess }> {
    const level = checkAccess(input.access ?? 'write', false) as GrantAccess;
    const group = await this.group(actor, input.group, 'add a group folder');
    const space = await this.drive.createGroupSpace({ name: group.name, groupId: group.id, quotaBytes: input.quotaBytes ?? null });
    await this.drive.setGrants(space.rootId, [{ principal: { kind: 'group', id: group.id }, access: level }]);
    await this.gate.record(actor, 'group.changed', group.name, `group folder created, ${level} for members`);
    return { space, group, access: level };
  }

  private async folder(actor: AdminActor, name: string, action: string): Promise<DriveSpace> {
    const space = typeof name === 'string' && name.length <= 256 ? await this.drive.findSpace(name) : null;
    if (!space || space.kind !== 'group' || !space.groupId) {
      await this.gate.authorize(actor, null, action, String(name).slice(0, 256));
      throw new NotFoundError(`no group folder ${name}`);
    }
    const owner = await this.dir.getGroup(space.groupId);
    await this.gate.authorize(actor, await this.groupDomain(owner), action, space.name);
    return space;
  }

  /** Give (or with `none`, take away) a person's or a group's access to a group folder. */
  async grantFolder(actor: AdminActor, input: { folder: string; to: MemberInput; access: GrantAccess | 'none' }): Promise<FolderGrantResult> {
    const level = checkAccess(input.access, true);
    const space = await this.folder(actor, input.folder, 'change a group folder');
    let principal: GrantPrincipal;
    let label: string;
    if ('group' in input.to) {
      // Granting to a group of another domain is allowed: ministries share folders with each other.
      const group = await this.dir.findGroup(input.to.group);
      if (!group) throw new NotFoundError(`no group ${input.to.group}`);
      principal = { kind: 'group', id: group.id };
      label = `group ${group.name}`;
    } else {
      const account = await this.dir.findAccount(input.to.address);
      if (!account) throw new NotFoundError(`no account ${input.to.address}`);
      principal = { kind: 'account', id: account.id };
      label = account.address;
    }
    const others = (await this.drive.grantsOn([space.rootId])).filter((g) => !(g.principal.kind === principal.kind && g.principal.id === principal.id));
    const next = [...others.map((g) => ({ principal: g.principal, access: g.access })), ...(level === 'none' ? [] : [{ principal, access: level }])];
    await this.drive.setGrants(space.rootId, next);
    await this.gate.record(actor, 'group.changed', space.name, `${label}: ${level}`);
    return { space, label, access: level };
  }

  async removeGroupFolder(actor: AdminActor, input: { folder: string }): Promise<DriveSpace> {
    const space = await this.folder(actor, input.folder, 'remove a group folder');
    await this.drive.removeSpace(space.id);
    await this.gate.record(actor, 'group.changed', space.name, 'group folder removed');
    return space;
  }

  // Shared mailboxes (RFC 4314 rights, as IMAP SETACL sets them).

  /**
   * `grantee` comes resolved from an RFC 4314 identifier (`@palabre/mail`'s `aclGranteeOf`), `identifier`
   * is how the caller spelled it, for the audit. Rights `''` take access away.
   */
  async shareMailbox(
    actor: AdminActor,
    input: { address: string; mailbox: string; grantee: AclGrantee; identifier: string; rights: string },
  ): Promise<MailboxShareResult> {
    let rights: string;
    try {
      rights = normalizeRights(input.rights);
    } catch {
      throw new InvalidInputError('rights are letters among l r s w i p k x t e a (RFC 4314), e.g. lrswite', { detail: { field: 'rights' } });
    }
    const account = await this.account(actor, input.address, 'share a mailbox');
    await this.mail.ensureMailboxes(account.id);
    const mailbox = typeof input.mailbox === 'string' && input.mailbox.length <= 1024 ? await this.mail.getMailbox(account.id, input.mailbox) : null;
    if (!mailbox) throw new NotFoundError(`${account.address} has no mailbox ${String(input.mailbox).slice(0, 200)}`, { detail: { field: 'mailbox' } });
    if (input.grantee.kind === 'account' && input.grantee.id === account.id) {
      throw new InvalidInputError('the owner always has every right', { detail: { field: 'grantee' } });
    }
    await this.mail.setAcl(mailbox.id, input.grantee, rights);
    await this.gate.record(actor, 'mailbox.shared', `${account.address}/${mailbox.name}`, `${input.identifier} ${rights || 'none'}`.slice(0, 500));
    const effective = input.grantee.kind === 'account' ? effectiveRights(account.id, await this.mail.getAcl(mailbox.id), input.grantee.id, []) : rights;
    return { account, mailbox, rights, effective };
  }
}

export interface CalendarShareInput {
  /** The owner's address. */
  readonly owner: string;
  /** The calendar's URL segment in the owner's home. */
  readonly calendar: string;
  /** An address (an account, an alias, a group's list address) or `group:NAME`. */
  readonly grantee: string;
  readonly access: 'read' | 'write' | 'none';
}

/** Calendar sharing and delegation, on the same terms as over DAV: only people of the owner's own domain. */
export class CalendarAdministration {
  constructor(
    private readonly admin: Administration,
    private readonly gate: AdminGate,
    private readonly dir: DirectoryStore,
    private readonly store: CalendarStore,
  ) {}

  private async calendar(owner: Account, name: string): Promise<CalendarCollection> {
    const found = typeof name === 'string' && name.length <= 256 ? await this.store.findCollection(owner.id, name) : null;
    if (!found || found.kind !== 'calendar') throw new NotFoundError(`${owner.address} has no calendar ${String(name).slice(0, 200)}`, { detail: { field: 'calendar' } });
    return found;
  }

  /**
   * `ADDRESS` or `group:NAME`, in the owner's domain: a calendar of one ministry is not shared into
   * another from the command line either (DAV answers such a sharee as unknown).
   */
  private async grantee(owner: Account, identifier: string): Promise<{ ref: ShareGrantee; label: string }> {
    const text = typeof identifier === 'string' ? identifier.trim() : '';
    if (!text || text.length > 320) throw new InvalidInputError('name the grantee by an address or group:NAME', { detail: { field: 'grantee' } });
    let ref: ShareGrantee | null = null;
    let label = text;
    let domainId: string | null = null;
    if (text.startsWith('group:')) {
      const group = await this.dir.findGroup(text.slice(6));
      if (group) ({ ref, label, domainId } = { ref: { kind: 'group', id: group.id }, label: `group:${group.name}`, domainId: group.domainId });
    } else {
      const target = await this.dir.resolveAddress(text).catch(() => null);
      if (target?.kind === 'account') ({ ref, label, domainId } = { ref: { kind: 'account', id: target.account.id }, label: target.account.address, domainId: target.account.domainId });
      if (target?.kind === 'group') ({ ref, label, domainId } = { ref: { kind: 'group', id: target.group.id }, label: `group:${target.group.name}`, domainId: target.group.domainId });
    }
    if (!ref) throw new NotFoundError(`no account or group ${text.slice(0, 200)}`, { detail: { field: 'grantee' } });
    if (domainId !== owner.domainId) throw new InvalidInputError(`${label} is not in the domain of ${owner.address}`, { detail: { field: 'grantee' } });
    if (ref.kind === 'account' && ref.id === owner.id) throw new InvalidInputError('the owner always has every right', { detail: { field: 'grantee' } });
    return { ref, label };
  }

  private access(value: unknown, allowNone: boolean): ShareAccess | null {
    const a = checkAccess(value, allowNone);
    return a === 'none' ? null : a === 'write' ? 'read-write' : 'read';
  }

  async share(actor: AdminActor, input: CalendarShareInput): Promise<{ owner: Account; calendar: CalendarCollection; label: string; access: ShareAccess | null }> {
    const access = this.access(input.access, true);
    const owner = await this.admin.accountFor(actor, input.owner, access ? 'share a calendar' : 'unshare a calendar');
    const calendar = await this.calendar(owner, input.calendar);
    const { ref, label } = await this.grantee(owner, input.grantee);
    if (access) await this.store.share(calendar.id, ref, access);
    else await this.store.unshare(calendar.id, ref);
    await this.gate.record(actor, 'calendar.shared', `${owner.address}/${calendar.name}`, `${label} ${access ?? 'none'}`.slice(0, 500));
    return { owner, calendar, label, access };
  }

  async delegate(actor: AdminActor, input: { owner: string; grantee: string; access: 'read' | 'write' | 'none' }): Promise<{ owner: Account; label: string; access: ShareAccess | null }> {
    const access = this.access(input.access, true);
    const owner = await this.admin.accountFor(actor, input.owner, 'delegate a calendar home');
    const { ref, label } = await this.grantee(owner, input.grantee);
    await this.store.setDelegate(owner.id, ref, access);
    await this.gate.record(actor, 'calendar.delegated', owner.address, `${label} ${access ?? 'none'}`.slice(0, 500));
    return { owner, label, access };
  }

  async list(actor: AdminActor, address: string): Promise<{ owner: Account; calendars: CalendarListing[]; delegates: { label: string; access: ShareAccess }[] }> {
    const owner = await this.admin.accountFor(actor, address, 'list calendars');
    const labelOf = async (g: ShareGrantee) =>
      g.kind === 'account' ? ((await this.dir.getAccount(g.id).catch(() => null))?.address ?? '?') : `group:${(await this.dir.getGroup(g.id).catch(() => null))?.name ?? '?'}`;
    const calendars: CalendarListing[] = [];
    for (const c of await this.store.listCollections(owner.id)) {
      const shares = [];
      for (const s of await this.store.sharesOf(c.id)) shares.push({ label: await labelOf(s.grantee), access: s.access, status: s.status });
      calendars.push({ collection: c, shares });
    }
    const delegates = [];
    for (const d of await this.store.delegatesOf(owner.id)) delegates.push({ label: await labelOf(d.delegate), access: d.access });
    return { owner, calendars, delegates };
  }
}

export function createAdministration(options: AdministrationOptions): Administration {
  return new Administration(options);
}
