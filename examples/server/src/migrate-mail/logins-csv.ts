import { csvRecords } from '../import/csv.js';
import type { LegacyLogin } from './copy-account.js';

export interface LoginsCsv {
  readonly logins: LegacyLogin[];
  /** Rows that name no account or no way to sign in, with their line. */
  readonly problems: { line: number; message: string }[];
}

/**
 * The migration file: `address;login;password` a row (`,` `;` or tab, as the account import reads it).
 * A first row whose first cell is not an address is a header. With a master login the password column
 * may be empty; the login defaults to the address.
 */
export async function readLoginsCsv(input: AsyncIterable<Uint8Array | string>, options: { master: boolean }): Promise<LoginsCsv> {
  const logins: LegacyLogin[] = [];
  const problems: LoginsCsv['problems'] = [];
  const seen = new Set<string>();
  let first = true;
  for await (const item of csvRecords(input, { maxLineBytes: 8 * 1024 })) {
    if ('warning' in item) continue;
    if ('error' in item) {
      problems.push({ line: item.line, message: `unreadable CSV: ${item.error}` });
      continue;
    }
    const [address = '', login = '', password = ''] = item.fields.map((f) => f.trim());
    const header = first && !address.includes('@');
    first = false;
    if (header) continue;
    if (!/^[^@\s]+@[^@\s]+$/.test(address)) {
      problems.push({ line: item.line, message: `not an address: ${JSON.stringify(address.slice(0, 80))}` });
      continue;
    }
    const key = address.toLowerCase();
    if (seen.has(key)) {
      problems.push({ line: item.line, message: `${address} is already on an earlier line` });
      continue;
    }
    if (!options.master && password === '') {
      problems.push({ line: item.line, message: `${address}: no legacy password (or use --master-user)` });
      continue;
    }
    seen.add(key);
    // Passwords are taken as they are: leading or trailing spaces can be part of one.
    const rawPassword = item.fields[2] ?? '';
    logins.push({ address, login: login || address, password: rawPassword, line: item.line });
  }
  return { logins, problems };
}
