import type { DkimKey, DkimKeyStore, Logger } from '@palabre/core';
import { dkimDnsRecord } from '@palabre/mail';

/** The one DNS question asked here (node's `dns.promises.Resolver` answers it; tests inject theirs). */
export interface TxtResolver {
  resolveTxt(name: string): Promise<string[][]>;
}

export type PublicationCheck = { readonly published: true } | { readonly published: false; readonly reason: string };

/**
 * Whether the key's DNS record is published as `palabre dkim` printed it: a TXT record at
 * `<selector>._domainkey.<domain>` whose `p=` is this public key (RFC 6376 §3.6.1: tags separated by
 * `;`, whitespace within `p=` ignored) and whose `k=` (default rsa) is its algorithm. Until it is,
 * mail signed with the key fails DKIM at every receiver, so a rotated key waits for this.
 */
export async function checkDkimPublication(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>, resolver: TxtResolver): Promise<PublicationCheck> {
  const { name } = dkimDnsRecord(key);
  let answers: string[][];
  try {
    answers = await resolver.resolveTxt(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { published: false, reason: `no TXT record at ${name} yet` };
    return { published: false, reason: `the DNS lookup of ${name} failed (${code ?? (error as Error).message})` };
  }
  const records = answers.map((chunks) => chunks.join('')).map(tags).filter((t) => t.has('p'));
  if (records.length === 0) return { published: false, reason: `the TXT record at ${name} is no DKIM key record` };
  const k = key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  for (const t of records) {
    if ((t.get('p') ?? '').replace(/\s+/g, '') === key.publicKey && (t.get('k') ?? 'rsa').toLowerCase() === k && (t.get('v') ?? 'DKIM1') === 'DKIM1') return { published: true };
  }
  const p = (records[0]!.get('p') ?? '').replace(/\s+/g, '');
  return { published: false, reason: p === '' ? `the record at ${name} revokes the key (empty p=)` : `the record at ${name} holds another key (p=${p.slice(0, 16)}…, k=${records[0]!.get('k') ?? 'rsa'})` };
}

function tags(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The background half of "publish then activate": each pending key whose record now resolves and
 * matches is activated (one node of the cluster runs this, see periodicJob's leadership). Returns how
 * many were activated; a key whose record is missing simply waits for the next run.
 */
export async function activatePublishedKeys(keys: DkimKeyStore, resolver: TxtResolver, logger: Logger): Promise<number> {
  let activated = 0;
  const done = new Set<string>();
  // Newest first (list's order): once a domain's newest published key is activated, older pending ones are retired.
  for (const key of (await keys.list()).filter((k) => k.pending)) {
    if (done.has(key.domain)) continue;
    const check = await checkDkimPublication(key, resolver);
    if (!check.published) {
      logger.debug({ domain: key.domain, selector: key.selector, reason: check.reason }, 'dkim.pending');
      continue;
    }
    await keys.activate(key.domain, key.selector);
    done.add(key.domain);
    activated++;
    logger.info({ domain: key.domain, selector: key.selector }, 'dkim.activated');
  }
  return activated;
}
