import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePassword, type AdminActor } from '@palabre/auth';
import type { Context } from '../context.js';

export interface DemoAccount {
  readonly address: string;
  readonly password: string;
}

const DEMO_FILE = 'demo-account.txt';
/** `palabre serve` makes the demo account on a first start; audited as the CLI `by demo`. */
const DEMO_ACTOR: AdminActor = { kind: 'cli', via: 'demo' };

function demoDomain(hostname: string): string {
  return hostname.includes('.') && !/^[\d.]+$/.test(hostname) ? hostname : 'palabre.test';
}

/**
 * On the first start with an empty directory, make one domain and one user so that someone who just
 * ran `npm start` can sign in from a mail, calendar or file app straight away. The password is kept in
 * the data folder (mode 600) and printed at each start until that file is deleted.
 */
export async function ensureDemoAccount(ctx: Context): Promise<DemoAccount | null> {
  const file = join(ctx.config.dataDir, DEMO_FILE);
  if ((await ctx.stores.directory.listDomains()).length === 0) {
    const domain = await ctx.admin.createDomain(DEMO_ACTOR, { name: demoDomain(ctx.config.hostname) });
    const address = `demo@${domain.name}`;
    const password = generatePassword();
    await ctx.admin.createAccount(DEMO_ACTOR, { address, displayName: 'Demo User', password });
    await writeFile(file, `${address}\n${password}\n`, { mode: 0o600 });
    return { address, password };
  }
  if (!existsSync(file)) return null;
  const [address, password] = (await readFile(file, 'utf8')).split('\n');
  if (!address || !password || !(await ctx.stores.directory.findAccount(address))) return null;
  return { address, password };
}
