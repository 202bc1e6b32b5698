import type { Readable } from 'node:stream';
import { authenticate } from 'mailauth';
import { canonicalAddress } from '../mime/addresses.js';
import type { DnsResolver } from './dns-resolver.js';

export interface AuthCheckInput {
  /** The message as received (our own trace headers not yet added). */
  readonly message: Readable;
  readonly ip: string;
  readonly helo: string;
  /** MAIL FROM ('' for the null sender). */
  readonly sender: string;
  /** Our authserv-id (RFC 8601): the host name in Authentication-Results. */
  readonly hostname: string;
  readonly resolver?: DnsResolver;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface AuthCheckResult {
  /** Header lines to prepend (Received-SPF, Authentication-Results), CRLF-terminated. */
  readonly headers: string;
  readonly spf: string;
  readonly dkimPass: readonly string[];
  readonly arc: string;
  /**
   * The From: addresses as mailauth read them, lower-cased, quotes that change nothing removed: DMARC was evaluated on these, so intake
   * refuses a message where they are not the ones our header parser reads.
   */
  readonly headerFrom: readonly string[];
  readonly dmarc: {
    readonly result: string;
    /** The RFC5322.From domain DMARC was evaluated for (null when there was no usable From). */
    readonly domain: string | null;
    /** The policy to apply when the result is fail (sp= for subdomains), pct taken into account. */
    readonly policy: DmarcPolicy;
  };
}

/** SPF, DKIM, ARC and DMARC in one pass over the message (mailauth), for the MX. */
export async function checkMessage(input: AuthCheckInput): Promise<AuthCheckResult> {
  const result = await authenticate(input.message, {
    ip: input.ip,
    helo: input.helo || input.ip,
    sender: input.sender || undefined,
    mta: input.hostname,
    resolver: input.resolver as never,
    disableBimi: true,
  });
  const dmarc = result.dmarc || null;
  const headerFrom = ((result.dkim as { headerFrom?: string[] }).headerFrom ?? []).map((a) => canonicalAddress(String(a).toLowerCase()));
  const fromDomain = headerFrom[0]?.split('@').pop() ?? null;
  let policy: DmarcPolicy = 'none';
  if (dmarc && dmarc.status?.result === 'fail') {
    const p = (dmarc.policy || dmarc.p || 'none').toLowerCase();
    policy = p === 'reject' || p === 'quarantine' ? p : 'none';
    // pct < 100: apply to that share only, the rest one step lower (RFC 7489 §6.6.4).
    if (policy !== 'none' && typeof dmarc.pct === 'number' && dmarc.pct < 100 && Math.random() * 100 >= dmarc.pct) {
      policy = policy === 'reject' ? 'quarantine' : 'none';
    }
  }
  const arcResult = result.arc ? result.arc.status?.result ?? 'none' : 'none';
  return {
    headers: result.headers.replace(/\r?\n/g, '\r\n'),
    spf: result.spf ? result.spf.status?.result ?? 'none' : 'none',
    dkimPass: (result.dkim.results ?? []).filter((r) => r.status?.result === 'pass').map((r) => String(r.signingDomain ?? '')),
    arc: arcResult,
    headerFrom,
    dmarc: {
      result: dmarc ? dmarc.status?.result ?? 'none' : 'none',
      domain: dmarc ? dmarc.domain ?? fromDomain : fromDomain,
      policy,
    },
  };
}
