import { readFileSync } from 'node:fs';
import { NotFoundError, type Account, type PalabreConfig } from '@palabre/core';
import { UsageError } from '../args.js';
import type { Context } from '../context.js';

/** `--password PW` or `--password-stdin` (everything on standard input, without the final newline). */
export function readPassword(values: { password?: string; 'password-stdin'?: boolean }): string | undefined {
  if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  if (values['password-stdin']) {
    let text: string;
    try {
      text = readFileSync(0, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read the password from standard input: ${(error as Error).message}`);
    }
    return text.replace(/\r?\n$/, '');
  }
  return values.password;
}

export async function accountByAddress(ctx: Context, address: string): Promise<Account> {
  const account = await ctx.stores.directory.findAccount(address);
  if (!account) throw new NotFoundError(`no account ${address}`);
  return account;
}

/** Domains that check passwords against a directory (LDAP) keep no local password. */
export function usesLdap(config: PalabreConfig, domain: string): boolean {
  return Object.keys(config.auth.ldap).some((d) => d.toLowerCase() === domain.toLowerCase());
}
