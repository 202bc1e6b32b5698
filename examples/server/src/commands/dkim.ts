import { createMailTransportStores } from '@palabre/core/storage';
import { dkimDnsRecord, generateDkimKey } from '@palabre/mail';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { DKIM_USAGE } from './usage.js';


function printRecord(io: Output, key: Parameters<typeof dkimDnsRecord>[0]): void {
  const record = dkimDnsRecord(key);
  io.out(`Publish this TXT record in the DNS zone of ${key.domain}:`);
  io.out('');
  io.out(`  name:  ${record.name}`);
  io.out(`  value: ${record.value}`);
  io.out('');
  io.out('In a zone file:');
  io.out(`  ${record.zoneFile}`);
}

export async function dkimCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const keys = createMailTransportStores(ctx.db, { secrets: ctx.secrets }).dkimKeys;
  switch (sub) {
    case 'generate': {
      const { values, positionals } = parse(rest, { selector: { type: 'string' }, algorithm: { type: 'string' } }, DKIM_USAGE);
      const name = requirePositional(positionals, 0, 'domain', DKIM_USAGE);
      noMorePositionals(positionals, 1, DKIM_USAGE);
      const domain = await ctx.stores.directory.findDomain(name);
      if (!domain) throw new UsageError(`${name} is not a hosted domain (palabre domain add ${name})`);
      const algorithm = values.algorithm === 'ed25519' ? 'ed25519-sha256' : values.algorithm === undefined || values.algorithm === 'rsa' ? 'rsa-sha256' : null;
      if (!algorithm) throw new UsageError(`--algorithm is rsa or ed25519\nusage: ${DKIM_USAGE}`);
      const selector = values.selector ?? `${ctx.config.smtp.outbound.dkimSelector}${new Date().toISOString().slice(0, 7).replace('-', '')}`;
      const generated = generateDkimKey(algorithm);
      const key = await keys.add({ domain: domain.name, selector, ...generated });
      io.out(`DKIM key ${key.selector} made for ${key.domain} (${key.algorithm}); mail from ${key.domain} is signed with it from now on.`);
      io.out('');
      printRecord(io, key);
      return 0;
    }
    case 'rotate': {
      // A new key with a selector of its own signs from now on; the old one is kept (retired) so that
      // its DNS record can stay until mail signed with it has been verified.
      const { values, positionals } = parse(rest, { algorithm: { type: 'string' } }, DKIM_USAGE);
      const name = requirePositional(positionals, 0, 'domain', DKIM_USAGE);
      noMorePositionals(positionals, 1, DKIM_USAGE);
      const domain = await ctx.stores.directory.findDomain(name);
      if (!domain) throw new UsageError(`${name} is not a hosted domain (palabre domain add ${name})`);
      const previous = await keys.active(domain.name);
      const algorithm = values.algorithm === 'ed25519' ? 'ed25519-sha256' : values.algorithm === 'rsa' ? 'rsa-sha256' : values.algorithm === undefined ? (previous?.algorithm ?? 'rsa-sha256') : null;
      if (!algorithm) throw new UsageError(`--algorithm is rsa or ed25519\nusage: ${DKIM_USAGE}`);
      const taken = new Set((await keys.list(domain.name)).map((k) => k.selector));
      const base = `${ctx.config.smtp.outbound.dkimSelector}${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
      let selector = base;
      for (let n = 2; taken.has(selector); n++) selector = `${base}-${n}`;
      const key = await keys.add({ domain: domain.name, selector, ...generateDkimKey(algorithm) });
      io.out(`DKIM key ${key.selector} made for ${key.domain} (${key.algorithm}); it signs from now on${ctx.secrets ? ', sealed in the database' : ''}.`);
      if (previous) io.out(`The previous key ${previous.selector} is retired: keep its DNS record a week, then palabre dkim remove ${key.domain} ${previous.selector}`);
      io.out('');
      printRecord(io, key);
      return 0;
    }
    case 'seal': {
      noMorePositionals(parse(rest, {}, DKIM_USAGE).positionals, 0, DKIM_USAGE);
      if (!ctx.secrets) throw new UsageError('no secrets.keyFile in the configuration: nothing to seal with');
      const sealed = await keys.sealAll();
      io.out(`${sealed} DKIM private key${sealed === 1 ? '' : 's'} sealed with key ${ctx.secrets.keyId}`);
      return 0;
    }
    case 'show': {
      const { positionals } = parse(rest, {}, DKIM_USAGE);
      const name = requirePositional(positionals, 0, 'domain', DKIM_USAGE);
      const key = await keys.active(name);
      if (!key) throw new UsageError(`no DKIM key for ${name} (palabre dkim generate ${name})`);
      printRecord(io, key);
      return 0;
    }
    case 'list': {
      const rows = (await keys.list()).map((k) => [k.domain, k.selector, k.algorithm, k.active ? 'signing' : 'retired', k.createdAt.toISOString().slice(0, 10)]);
      for (const line of table(rows, ['DOMAIN', 'SELECTOR', 'ALGORITHM', 'STATE', 'CREATED'])) io.out(line);
      return 0;
    }
    case 'remove': {
      const { positionals } = parse(rest, {}, DKIM_USAGE);
      const domain = requirePositional(positionals, 0, 'domain', DKIM_USAGE);
      const selector = requirePositional(positionals, 1, 'selector', DKIM_USAGE);
      noMorePositionals(positionals, 2, DKIM_USAGE);
      await keys.remove(domain, selector);
      io.out(`DKIM key ${selector} of ${domain} removed; keep its DNS record until mail signed with it has been read (a few days)`);
      return 0;
    }
    default:
      throw new UsageError(`usage: ${DKIM_USAGE}`);
  }
}
