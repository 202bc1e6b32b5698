import { readFile } from 'node:fs/promises';
import { SqlSieveScriptStore } from '@palabre/core/storage';
import { compileSieve, SieveSyntaxError } from '@palabre/mail';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import type { Output } from '../output.js';
import { accountByAddress } from './shared.js';
import { SIEVE_USAGE } from './usage.js';

/** Read and validate a script as ManageSieve does: the same parser, the same line/column errors. */
async function script(file: string, io: Output): Promise<string | null> {
  const text = await readFile(file, 'utf8');
  try {
    compileSieve(text);
    return text;
  } catch (error) {
    if (!(error instanceof SieveSyntaxError)) throw error;
    io.err(`${file}: ${error.message}`);
    return null;
  }
}

/** `palabre sieve …`: users' scripts (as ManageSieve sees them) and the domain script run before them. */
export async function sieveCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const store = new SqlSieveScriptStore(ctx.db);
  const { values, positionals } = parse(rest, { activate: { type: 'boolean' } }, SIEVE_USAGE);
  const arg = (i: number, name: string) => requirePositional(positionals, i, name, SIEVE_USAGE);
  switch (sub) {
    case 'check': {
      noMorePositionals(positionals, 1, SIEVE_USAGE);
      if ((await script(arg(0, 'file'), io)) === null) return 1;
      io.out('script is valid');
      return 0;
    }
    case 'put': {
      noMorePositionals(positionals, 3, SIEVE_USAGE);
      const account = await accountByAddress(ctx, arg(0, 'address'));
      const text = await script(arg(2, 'file'), io);
      if (text === null) return 1;
      await store.put(account.id, arg(1, 'name'), text);
      if (values.activate) await store.setActive(account.id, arg(1, 'name'));
      io.out(`script ${JSON.stringify(arg(1, 'name'))} saved for ${account.address}${values.activate ? ' and active' : ''}`);
      return 0;
    }
    case 'list': {
      noMorePositionals(positionals, 1, SIEVE_USAGE);
      const account = await accountByAddress(ctx, arg(0, 'address'));
      const list = await store.list(account.id);
      if (list.length === 0) io.out(`no Sieve script for ${account.address}`);
      for (const s of list) io.out(`${s.active ? '*' : ' '} ${s.name}  (${s.size} bytes, ${s.updatedAt.toISOString()})`);
      return 0;
    }
    case 'show': {
      noMorePositionals(positionals, 2, SIEVE_USAGE);
      const account = await accountByAddress(ctx, arg(0, 'address'));
      const s = await store.get(account.id, arg(1, 'name'));
      if (!s) throw new UsageError(`no script ${JSON.stringify(arg(1, 'name'))} for ${account.address}`);
      io.out(s.content);
      return 0;
    }
    case 'activate':
    case 'deactivate': {
      noMorePositionals(positionals, sub === 'activate' ? 2 : 1, SIEVE_USAGE);
      const account = await accountByAddress(ctx, arg(0, 'address'));
      await store.setActive(account.id, sub === 'activate' ? arg(1, 'name') : null);
      io.out(sub === 'activate' ? `script ${JSON.stringify(arg(1, 'name'))} active for ${account.address}` : `no active script for ${account.address}`);
      return 0;
    }
    case 'remove': {
      noMorePositionals(positionals, 2, SIEVE_USAGE);
      const account = await accountByAddress(ctx, arg(0, 'address'));
      await store.delete(account.id, arg(1, 'name'));
      io.out(`script ${JSON.stringify(arg(1, 'name'))} removed for ${account.address}`);
      return 0;
    }
    case 'domain': {
      const [action, name, file] = positionals;
      if (!action || !name) throw new UsageError(`usage: ${SIEVE_USAGE}`);
      const domain = await ctx.stores.directory.findDomain(name.toLowerCase());
      if (!domain) throw new UsageError(`no domain ${JSON.stringify(name)}`);
      if (action === 'set') {
        if (!file) throw new UsageError(`usage: ${SIEVE_USAGE}`);
        const text = await script(file, io);
        if (text === null) return 1;
        await store.setDomainScript(domain.id, text);
        io.out(`domain script set for ${domain.name}: it runs before each user's script`);
        return 0;
      }
      if (action === 'show') {
        const text = await store.getDomainScript(domain.id);
        io.out(text ?? `no domain script for ${domain.name}`);
        return 0;
      }
      if (action === 'clear') {
        await store.setDomainScript(domain.id, null);
        io.out(`domain script removed for ${domain.name}`);
        return 0;
      }
      throw new UsageError(`usage: ${SIEVE_USAGE}`);
    }
    default:
      throw new UsageError(`usage: ${SIEVE_USAGE}`);
  }
}
