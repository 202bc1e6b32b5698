import { isPalabreError, parseAddress, type Account, type DirectoryStore } from '@palabre/core';
import { TtlCache } from './ttl-cache.js';

export type ResolvedRecipient =
  /** A hosted address: the active accounts it reaches (one, or a group's members). */
  | { readonly kind: 'local'; readonly address: string; readonly accounts: readonly Account[]; readonly via: 'primary' | 'alias' | 'group' }
  /** A hosted address whose account is suspended. */
  | { readonly kind: 'disabled'; readonly address: string }
  /** A hosted domain, but no such address. */
  | { readonly kind: 'unknown'; readonly address: string }
  /** Not one of our domains. */
  | { readonly kind: 'remote'; readonly address: string; readonly domain: string };

/**
 * What a recipient address means: resolved through the directory (primary addresses, aliases, domain
 * aliases, groups as distribution lists with nested members) and sub-addresses (`user+tag@`).
 */
export class RecipientResolver {
  private readonly domains = new TtlCache<boolean>();
  private readonly answers = new TtlCache<ResolvedRecipient>();

  /**
   * `cacheMs`: how long an answer is reused (default 5 s). Every message of a burst to one address
   * would otherwise ask the directory again; a suspension or a removed alias takes effect within it.
   */
  constructor(
    private readonly directory: DirectoryStore,
    private readonly cacheMs = 5_000,
  ) {}

  /** Throws InvalidInputError on a malformed address. */
  async resolve(input: string): Promise<ResolvedRecipient> {
    const parsed = parseAddress(input);
    return this.answers.get(parsed.address, this.cacheMs, () => this.lookup(parsed));
  }

  private async lookup(parsed: ReturnType<typeof parseAddress>): Promise<ResolvedRecipient> {
    const domain = await this.directory.findDomain(parsed.domain);
    if (!domain) return { kind: 'remote', address: parsed.address, domain: parsed.domain };
    let target = await this.directory.resolveAddress(parsed.address);
    if (!target) {
      const plus = parsed.local.indexOf('+');
      if (plus > 0) target = await this.directory.resolveAddress(`${parsed.local.slice(0, plus)}@${parsed.domain}`);
    }
    if (!target) return { kind: 'unknown', address: parsed.address };
    if (target.kind === 'account') {
      if (target.account.status !== 'active') return { kind: 'disabled', address: parsed.address };
      return { kind: 'local', address: parsed.address, accounts: [target.account], via: target.via };
    }
    const members = await this.directory.expandGroup(target.group.id);
    if (members.length === 0) return { kind: 'unknown', address: parsed.address };
    return { kind: 'local', address: parsed.address, accounts: members, via: 'group' };
  }

  async isHostedDomain(name: string): Promise<boolean> {
    try {
      return await this.domains.get(name.toLowerCase(), this.cacheMs, async () => (await this.directory.findDomain(name)) !== null);
    } catch (error) {
      if (isPalabreError(error, 'invalid')) return false;
      throw error;
    }
  }

  /** May `accountId` send as `address`? Its primary address or one of its aliases (domain aliases honoured). */
  async maySendAs(accountId: string, address: string): Promise<boolean> {
    let parsed;
    try {
      parsed = parseAddress(address);
    } catch {
      return false;
    }
    const target = await this.directory.resolveAddress(parsed.address);
    return target?.kind === 'account' && target.account.id === accountId;
  }
}

