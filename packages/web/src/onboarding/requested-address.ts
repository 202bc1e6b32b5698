import type { IncomingMessage } from 'node:http';
import { normalizeDomain, parseAddress, type DirectoryStore, type ParsedAddress } from '@palabre/core';
import { WebError } from '../errors.js';

/** The part of the directory onboarding reads: whether a domain (or a domain alias) is hosted here. */
export type DomainDirectory = Pick<DirectoryStore, 'findDomain'>;

// Controls (CR/LF above all: header injection), spaces inside, and anything a mail address never holds.
const NOT_IN_ADDRESS = /[\u0000-\u001f\u007f\s<>()[\]\\,;:"]/u;

/**
 * The address a client asks about (Thunderbird's `emailaddress`, Outlook's `EMailAddress`, the JSON
 * endpoint's path). Parsed by core's one address parser; anything odd is a 400 naming no input back.
 */
export function requestedAddress(raw: string | null | undefined): ParsedAddress {
  if (raw === null || raw === undefined || raw === '') throw new WebError(400, 'an email address is required');
  if (raw.length > 320 || NOT_IN_ADDRESS.test(raw.trim()) || raw !== raw.trim()) throw new WebError(400, 'not a mail address');
  try {
    return parseAddress(raw);
  } catch {
    throw new WebError(400, 'not a mail address');
  }
}

/**
 * The domain named by the Host header: `autoconfig.<domain>` and `autodiscover.<domain>` lead to
 * `<domain>`. Null when the header is missing or no domain name (an IP address, a bare name).
 */
export function domainOfHost(req: IncomingMessage): string | null {
  const host = req.headers.host;
  if (!host || host.length > 300) return null;
  const name = host.replace(/:\d{1,5}$/, '').replace(/\.$/, '').toLowerCase();
  const bare = name.replace(/^(autoconfig|autodiscover)\./, '');
  try {
    return normalizeDomain(bare);
  } catch {
    return null;
  }
}

/**
 * The domain as the client named it, when it is hosted here (a primary domain or one of its aliases:
 * both authenticate). A domain we do not host is a plain 404, the same for every such domain, so the
 * answers say no more about which domains live here than the public DNS already does.
 */
export async function hostedDomain(directory: DomainDirectory, domain: string): Promise<string> {
  const found = await directory.findDomain(domain);
  if (!found) throw new WebError(404, 'not found');
  return domain;
}
