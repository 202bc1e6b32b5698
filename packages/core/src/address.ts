import { domainToASCII, domainToUnicode } from 'node:url';
import { InvalidInputError } from './errors.js';

/**
 * Mail addresses and domain names as the directory stores them: domains in lower-case ASCII (IDNs as
 * punycode A-labels, so `ministère.gouv.tg` and `xn--ministre-6xa.gouv.tg` are one domain), local parts
 * NFC-normalised and lower-cased (RFC 5321 lets servers treat them case-insensitively; every mainstream
 * provider does, and staff expect `Awa.Diallo@` and `awa.diallo@` to be one person).
 */

const MAX_DOMAIN_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;
const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// RFC 5322 atext plus RFC 6531 UTF-8 (anything at or above U+0080 that is not a control or a space).
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+$/u;
const FORBIDDEN_UNICODE = /[\u0080-\u009f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\ufff0-\uffff]/u;
// Provisioned mailboxes are kept to what every client and every foreign MTA handles: letters (any
// script), digits, dot, hyphen and underscore. `+` stays free for sub-addressing (user+tag@).
const HOSTED_LOCAL = /^[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}._-]*[\p{L}\p{N}\p{M}])?$/u;

export interface ParsedAddress {
  /** NFC, lower-case local part. */
  readonly local: string;
  /** Lower-case ASCII domain (A-labels). */
  readonly domain: string;
  /** `local@domain`, the key the directory uses. */
  readonly address: string;
}

function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Validate and normalise a domain name; IDNs become punycode. Throws InvalidInputError. */
export function normalizeDomain(input: string): string {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidInputError('a domain name is required');
  if (input.length > 1024) throw new InvalidInputError('domain name too long');
  let name = input.trim().normalize('NFC').toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (/[\s/\\@:%?#[\]\u0000-\u001f]/u.test(name)) throw new InvalidInputError(`invalid domain name: ${JSON.stringify(input.slice(0, 80))}`);
  const ascii = domainToASCII(name);
  if (!ascii) throw new InvalidInputError(`invalid domain name: ${JSON.stringify(input.slice(0, 80))}`);
  if (ascii.length > MAX_DOMAIN_OCTETS) throw new InvalidInputError('domain name longer than 253 octets');
  const labels = ascii.split('.');
  if (labels.length < 2) throw new InvalidInputError(`a domain needs at least two labels: ${ascii}`);
  for (const label of labels) {
    if (label.length > MAX_LABEL_OCTETS || !LABEL.test(label)) {
      throw new InvalidInputError(`invalid domain label ${JSON.stringify(label)} in ${ascii}`);
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) throw new InvalidInputError(`top-level label may not be numeric: ${ascii}`);
  return ascii;
}

/** The domain as people read it (U-labels). */
export function displayDomain(ascii: string): string {
  return domainToUnicode(ascii) || ascii;
}

function checkLocal(local: string, original: string): string {
  const normalized = local.normalize('NFC');
  if (normalized.length === 0) throw new InvalidInputError(`empty local part in ${JSON.stringify(original.slice(0, 80))}`);
  if (octets(normalized) > MAX_LOCAL_OCTETS) throw new InvalidInputError('local part longer than 64 octets');
  if (normalized.startsWith('.') || normalized.endsWith('.') || normalized.includes('..')) {
    throw new InvalidInputError(`invalid dots in local part of ${JSON.stringify(original.slice(0, 80))}`);
  }
  for (const atom of normalized.split('.')) {
    if (!ATEXT.test(atom) || FORBIDDEN_UNICODE.test(atom)) {
      throw new InvalidInputError(`invalid characters in ${JSON.stringify(original.slice(0, 80))}`);
    }
  }
  return normalized.toLowerCase();
}

/**
 * Parse any RFC 5321 / RFC 6531 mailbox (dot-atom local parts only: quoted local parts are legal but
 * used by nobody except attackers probing parsers, so we refuse them).
 */
export function parseAddress(input: string): ParsedAddress {
  if (typeof input !== 'string') throw new InvalidInputError('an address is required');
  if (input.length > 1024) throw new InvalidInputError('address too long');
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) throw new InvalidInputError(`not a mail address: ${JSON.stringify(text.slice(0, 80))}`);
  const local = checkLocal(text.slice(0, at), text);
  const domain = normalizeDomain(text.slice(at + 1));
  const address = `${local}@${domain}`;
  if (octets(address) > MAX_ADDRESS_OCTETS) throw new InvalidInputError('address longer than 254 octets');
  return { local, domain, address };
}

/** Parse an address we are about to provision (account, alias, group): stricter than parseAddress. */
export function parseHostedAddress(input: string): ParsedAddress {
  const parsed = parseAddress(input);
  if (!HOSTED_LOCAL.test(parsed.local)) {
    throw new InvalidInputError(
      `${JSON.stringify(input.slice(0, 80))}: a hosted address may use letters, digits, '.', '-' and '_' only`,
    );
  }
  return parsed;
}

export function normalizeAddress(input: string): string {
  return parseAddress(input).address;
}

export function isValidAddress(input: string): boolean {
  try {
    parseAddress(input);
    return true;
  } catch {
    return false;
  }
}
