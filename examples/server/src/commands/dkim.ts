import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { dkimKeyState } from '@palabre/core';
import { createMailTransportStores } from '@palabre/core/storage';
import { dkimDnsRecord, generateDkimKey } from '@palabre/mail';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { table, type Output } from '../output.js';
import { DKIM_USAGE } from './usage.js';
import { checkDkimPublication, type TxtResolver } from '../dkim-publication.js';
/** How often palabre serve looks for the records of pending keys (serve/services.ts). */
export const DKIM_ACTIVATION_MINUTES = 10;

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

/** The system's resolver, or the one `--resolver IP` names. */
function txtResolver(ip: string | undefined): TxtResolver {
  const r = new Resolver({ timeout: 5_000, tries: 2 });
  if (ip !== undefined) {
    if (!isIP(ip)) throw new UsageError('--resolver takes an IP address');
    r.setServers([ip]);
  }
  return r;
}

/** `resolver`: where `activate` looks the record up (tests inject one; default: the system's or --resolver). */
export async function dkimCommand(ctx: Context, argv: string[], io: Output, resolver?: TxtResolver): Promise<number> {
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
      // Publish then activate: the new key, with a selector of its own, waits (pending) while its DNS
      // record is published and propagates; the current key signs meanwhile. Signing with it at once
      // would fail DKIM at every receiver until then. `activate` (or palabre serve, once the record
      // resolves) makes it sign and retires the old one, whose record stays until its mail is read.
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
      const key = await keys.add({ domain: domain.name, selector, ...generateDkimKey(algorithm) }, { pending: true });
      io.out(`DKIM key ${key.selector} made for ${key.domain} (${key.algorithm}), pending${ctx.secrets ? ', sealed in the database' : ''}: it does not sign until its DNS record is published.`);
      io.out(previous ? `The current key ${previous.selector} signs until then.` : `Mail from ${key.domain} stays unsigned until then.`);
      io.out('');
      printRecord(io, key);
      io.out('');
      io.out(`Then: palabre dkim activate ${key.domain} ${key.selector} (it checks the record), or let palabre serve activate it once the record resolves (checked every ${DKIM_ACTIVATION_MINUTES} minutes).`);
      return 0;
    }
    case 'activate': {
      const { values, positionals } = parse(rest, { force: { type: 'boolean' }, resolver: { type: 'string' } }, DKIM_USAGE);
      const name = requirePositional(positionals, 0, 'domain', DKIM_USAGE);
      noMorePositionals(positionals, 2, DKIM_USAGE);
      const all = await keys.list(name);
      const wanted = positionals[1]?.toLowerCase();
      const key = wanted ? all.find((k) => k.selector === wanted) : all.find((k) => k.pending);
      if (!key) throw new UsageError(wanted ? `no DKIM key ${wanted} for ${name} (palabre dkim list)` : `no pending DKIM key for ${name} (palabre dkim rotate ${name})`);
      if (key.active) {
        io.out(`DKIM key ${key.selector} of ${key.domain} already signs.`);
        return 0;
      }
      if (!values.force) {
        const check = await checkDkimPublication(key, resolver ?? txtResolver(values.resolver));
        if (!check.published) {
          io.err(`DKIM key ${key.selector} of ${key.domain} not activated: ${check.reason}.`);
          io.err('Publish the record below and try again once it resolves (or --force to activate without the check):');
          printRecord({ ...io, out: (line) => io.err(line ?? '') }, key);
          return 1;
        }
      }
      const previous = all.find((k) => k.active);
      await keys.activate(key.domain, key.selector);
      io.out(`DKIM key ${key.selector} of ${key.domain} signs from now on${values.force ? ' (its DNS record was not checked)' : ', its DNS record checked'}.`);
      if (previous) io.out(`The previous key ${previous.selector} is retired: keep its DNS record a week, then palabre dkim remove ${key.domain} ${previous.selector}`);
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
      const pending = (await keys.list(name)).filter((k) => k.pending);
      if (!key && pending.length === 0) throw new UsageError(`no DKIM key for ${name} (palabre dkim generate ${name})`);
      if (key) printRecord(io, key);
      for (const p of pending) {
        if (key) io.out('');
        io.out(`Pending key ${p.selector} (palabre dkim activate ${p.domain} ${p.selector} once published):`);
        printRecord(io, p);
      }
      return 0;
    }
    case 'list': {
      const rows = (await keys.list()).map((k) => [k.domain, k.selector, k.algorithm, dkimKeyState(k), k.createdAt.toISOString().slice(0, 10)]);
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
