import {
  type AppCredential,
  type Argon2Config,
  type AuditLog,
  type DirectoryStore,
  InvalidInputError,
  NotFoundError,
} from '@palabre/core';
import { DEFAULT_ARGON2, hashPassword } from './password-hash.js';
import { checkPasswordPolicy, DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from './password-policy.js';
import { generateAppPassword, generateToken, secretHash } from './secrets.js';

export interface CredentialServiceOptions {
  directory: DirectoryStore;
  audit: AuditLog;
  argon2?: Argon2Config;
  policy?: PasswordPolicy;
}

export interface IssuedSecret {
  readonly credential: AppCredential;
  /** Shown once to the user; only its hash is stored. */
  readonly secret: string;
}

/** Setting passwords and issuing app passwords and tokens, with policy checks and audit events. */
export class CredentialService {
  private readonly argon2: Argon2Config;
  private readonly policy: PasswordPolicy;

  constructor(private readonly options: CredentialServiceOptions) {
    this.argon2 = options.argon2 ?? DEFAULT_ARGON2;
    this.policy = options.policy ?? DEFAULT_PASSWORD_POLICY;
  }

  /** The hash to store for a new password; InvalidInputError listing what the policy refuses. */
  async hashNewPassword(password: string, address?: string): Promise<string> {
    const problems = checkPasswordPolicy(password, { address, policy: this.policy });
    if (problems.length > 0) throw new InvalidInputError(`password refused: ${problems.join('; ')}`, { detail: { problems } });
    return hashPassword(password, this.argon2);
  }

  async setPassword(accountId: string, password: string, actor = 'cli', protocol = 'cli'): Promise<void> {
    const account = await this.options.directory.getAccount(accountId);
    await this.options.directory.setPasswordHash(account.id, await this.hashNewPassword(password, account.address));
    await this.options.audit.record({ type: 'password.changed', actor, ip: null, protocol, target: account.address, detail: null });
  }

  async issueAppPassword(accountId: string, label: string, actor = 'cli', protocol = 'cli'): Promise<IssuedSecret> {
    return this.issue(accountId, label, 'app-password', generateAppPassword(), null, actor, protocol);
  }

  async issueToken(accountId: string, label: string, expiresAt: Date | null = null, actor = 'cli'): Promise<IssuedSecret> {
    return this.issue(accountId, label, 'token', generateToken(), expiresAt, actor);
  }

  private async issue(
    accountId: string,
    label: string,
    kind: 'app-password' | 'token',
    secret: string,
    expiresAt: Date | null,
    actor: string,
    protocol = 'cli',
  ): Promise<IssuedSecret> {
    const account = await this.options.directory.getAccount(accountId);
    const credential = await this.options.directory.addCredential({ accountId, kind, label, secretHash: secretHash(secret), expiresAt });
    await this.options.audit.record({
      type: 'credential.created',
      actor,
      ip: null,
      protocol,
      target: account.address,
      detail: `${kind} ${credential.id} "${credential.label}"`,
    });
    return { credential, secret };
  }

  async revoke(accountId: string, credentialId: string, actor = 'cli', protocol = 'cli'): Promise<void> {
    const account = await this.options.directory.getAccount(accountId);
    const existing = (await this.options.directory.listCredentials(accountId)).find((c) => c.id === credentialId || c.label === credentialId);
    if (!existing) throw new NotFoundError(`no app password or token "${credentialId}" for ${account.address}`);
    await this.options.directory.removeCredential(accountId, existing.id);
    await this.options.audit.record({
      type: 'credential.revoked',
      actor,
      ip: null,
      protocol,
      target: account.address,
      detail: `${existing.kind} ${existing.id} "${existing.label}"`,
    });
  }
}

export function createCredentialService(options: CredentialServiceOptions): CredentialService {
  return new CredentialService(options);
}
