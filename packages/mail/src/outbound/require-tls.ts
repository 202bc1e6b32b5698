import type { TlsPolicy } from '@palabre/core';
import type { HeaderSection } from '../mime/header-section.js';

/**
 * RFC 8689 at intake: what a queued message asks of the hops after us. `MAIL FROM … REQUIRETLS`
 * wins and makes the `TLS-Required` field moot (§4.1: it MUST then be ignored). Without it, one
 * `TLS-Required: No` field (§5, case-insensitive) asks us to deliver even where the recipient
 * domain's MTA-STS policy would refuse; several fields or any other value mean nothing (a sender
 * cannot half-ask). Only our own users' submissions may relax the policy: on the MX, the field is a
 * stranger's wish about mail we never relay, and a Sieve redirect keeps our default (while REQUIRETLS
 * received on the MX does go with a redirect: SieveMessageInput.requireTls).
 */
export function tlsPolicyOf(input: { readonly requireTls: boolean; readonly role: 'mx' | 'submission'; readonly header: HeaderSection }): TlsPolicy | null {
  if (input.requireTls) return 'requiretls';
  if (input.role !== 'submission') return null;
  const fields = input.header.getAll('tls-required');
  return fields.length === 1 && fields[0]!.trim().toLowerCase() === 'no' ? 'tls-required-no' : null;
}
