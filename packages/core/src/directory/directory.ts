/** The directory of an administration: its domains, staff accounts, groups and addresses. */

export interface Domain {
  readonly id: string;
  /** Lower-case ASCII (IDNs as A-labels). */
  readonly name: string;
  /** Other names that deliver to and authenticate as this domain (e.g. `sante.gouv.tg` for `ms.gouv.tg`). */
  readonly aliases: readonly string[];
  /** Quota given to new accounts of this domain when none is set; null = unlimited. */
  readonly defaultQuotaBytes: number | null;
  /** Messages and mailboxes given to new accounts of this domain when none is set (RFC 9208 MESSAGE, MAILBOX); null = unlimited. */
  readonly defaultQuotaMessages: number | null;
  readonly defaultQuotaMailboxes: number | null;
  readonly createdAt: Date;
}

export type AccountStatus = 'active' | 'suspended';

export interface Account {
  readonly id: string;
  /** Primary address, normalised (`local@domain`). Also the login name. */
  readonly address: string;
  readonly domainId: string;
  readonly displayName: string;
  /** Ministry, directorate or department, free text as the administration names it. */
  readonly department: string | null;
  /** Storage allowed across drive and mail; null = unlimited. */
  readonly quotaBytes: number | null;
  /** Messages across the account's mailboxes (RFC 9208 MESSAGE); null = unlimited. */
  readonly quotaMessages: number | null;
  /** Mailboxes of the account (RFC 9208 MAILBOX); null = unlimited. */
  readonly quotaMailboxes: number | null;
  readonly status: AccountStatus;
  readonly createdAt: Date;
  readonly lastLoginAt: Date | null;
}

/** What a protocol package knows of the authenticated user. */
export interface Principal {
  readonly accountId: string;
  readonly address: string;
  readonly displayName: string;
  readonly domainId: string;
}

export interface Group {
  readonly id: string;
  /** Unique slug used by the CLI and ACLs, e.g. `sante-staff`. */
  readonly name: string;
  readonly domainId: string;
  /** Distribution-list address, if the group receives mail. */
  readonly address: string | null;
  readonly description: string | null;
  readonly createdAt: Date;
}

export type GroupMember =
  | { readonly kind: 'account'; readonly accountId: string; readonly address: string }
  | { readonly kind: 'group'; readonly groupId: string; readonly name: string };

export interface Alias {
  readonly address: string;
  readonly accountId: string;
  readonly createdAt: Date;
}

export type CredentialKind = 'app-password' | 'token';

/** A per-device app password or a bearer token. The secret itself is shown once and never stored. */
export interface AppCredential {
  readonly id: string;
  readonly accountId: string;
  readonly kind: CredentialKind;
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly expiresAt: Date | null;
}

/** What an address means to the mail system. */
export type AddressTarget =
  | { readonly kind: 'account'; readonly account: Account; readonly via: 'primary' | 'alias' }
  | { readonly kind: 'group'; readonly group: Group };

export function toPrincipal(account: Account): Principal {
  return {
    accountId: account.id,
    address: account.address,
    displayName: account.displayName,
    domainId: account.domainId,
  };
}
