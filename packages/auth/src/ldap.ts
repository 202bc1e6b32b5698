import { Client, InvalidCredentialsError } from 'ldapts';
import type { LdapConfig } from '@palabre/core';

export type LdapVerdict = 'ok' | 'invalid' | 'unavailable';

/** RFC 4515 §3: escape a value placed inside a search filter. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** RFC 4514 §2.4: escape a value placed inside a distinguished name. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=\u0000]/g, (c) => (c === '\u0000' ? '\\00' : `\\${c}`));
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/**
 * Checks a password against a ministry's existing directory by binding as the user: either straight to
 * a DN built from a template, or after finding the user's DN with a search (as a service account or
 * anonymously). An empty password is refused up front: to most LDAP servers a bind with a DN and an
 * empty password is an "unauthenticated bind" that succeeds (RFC 4513 §5.1.2).
 */
export class LdapPasswordSource {
  constructor(private readonly config: LdapConfig) {}

  private client(): Client {
    // ldapts switches to TLS whenever tlsOptions is present, so give it only for ldaps:// URLs.
    const tls = this.config.url.startsWith('ldaps:') ? { tlsOptions: this.config.tlsInsecure ? { rejectUnauthorized: false } : {} } : {};
    return new Client({ url: this.config.url, timeout: this.config.timeoutMs, connectTimeout: this.config.timeoutMs, ...tls });
  }

  private async connect(client: Client): Promise<void> {
    if (this.config.startTls) await client.startTLS(this.config.tlsInsecure ? { rejectUnauthorized: false } : {});
  }

  private async findDn(address: string): Promise<string | null> {
    const local = address.split('@')[0]!;
    if (this.config.userDnTemplate) {
      return this.config.userDnTemplate.replaceAll('{local}', escapeDnValue(local)).replaceAll('{address}', escapeDnValue(address));
    }
    const client = this.client();
    try {
      await this.connect(client);
      if (this.config.bindDn) await client.bind(this.config.bindDn, this.config.bindPassword ?? '');
      const filter = this.config.searchFilter
        .replaceAll('{address}', escapeFilterValue(address))
        .replaceAll('{local}', escapeFilterValue(local));
      const { searchEntries } = await client.search(this.config.searchBase, { scope: 'sub', filter, attributes: ['dn'], sizeLimit: 2 });
      // Ambiguity is a refusal, never a guess.
      return searchEntries.length === 1 ? searchEntries[0]!.dn : null;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async verify(address: string, password: string): Promise<LdapVerdict> {
    if (password.length === 0) return 'invalid';
    let dn: string | null;
    try {
      dn = await this.findDn(address);
    } catch {
      return 'unavailable';
    }
    if (!dn) return 'invalid';
    const client = this.client();
    try {
      await this.connect(client);
      await client.bind(dn, password);
      return 'ok';
    } catch (error) {
      return error instanceof InvalidCredentialsError ? 'invalid' : 'unavailable';
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}
