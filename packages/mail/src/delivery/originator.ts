import { isStrictMailboxList, mailboxesOf } from '../mime/addresses.js';
import type { HeaderSection } from '../mime/header-section.js';
import { MessageRejection } from './rejection.js';

/** Who a message says it is from (RFC 5322 §3.6.2), read the one strict way. */
export interface Originator {
  /** The From: mailboxes, lower-cased (at least one). */
  readonly from: readonly string[];
  /** The Sender: mailbox, lower-cased, when there is one. */
  readonly sender: string | null;
}

// The obsolete syntax (RFC 5322 §4.5.6): blanks between a field name and its colon.
const OBSOLETE_FIELD = /^([\x21-\x39\x3b-\x7e]+)[ \t]+:/;

/**
 * The originator of a message, or the refusal (550 5.6.0) of a message whose originator is not
 * beyond doubt. Every header line must be a field the one header parser reads (a line it does not
 * read is one that another reader — a mail client, the DMARC library — may take for a From);
 * exactly one From: holding a strict mailbox-list, at most one Sender: holding one mailbox.
 */
export function readOriginator(header: HeaderSection): Originator {
  for (const field of header.fields) {
    if (field.name !== '') continue;
    const text = field.raw.toString('latin1');
    const obsolete = OBSOLETE_FIELD.exec(text);
    if (obsolete) {
      throw malformed(`malformed header field "${shown(obsolete[1]!)} :": a field name is followed directly by its colon (RFC 5322 §2.2)`);
    }
    throw malformed(`malformed header line "${shown(text.replace(/\r?\n[\s\S]*$/, ''))}": not a header field (RFC 5322 §2.2)`);
  }
  const froms = header.getAll('from');
  if (froms.length === 0) throw malformed('a From: field is required (RFC 5322 §3.6)');
  if (froms.length > 1) throw malformed('more than one From: field (RFC 5322 §3.6 allows exactly one)');
  if (!isStrictMailboxList(froms[0]!)) throw malformed('the From: field is not a list of addresses (RFC 5322 §3.4)');
  const from = mailboxesOf(froms[0]);
  const senders = header.getAll('sender');
  if (senders.length > 1) throw malformed('more than one Sender: field (RFC 5322 §3.6 allows at most one)');
  let sender: string | null = null;
  if (senders.length === 1) {
    const s = mailboxesOf(senders[0]);
    if (!isStrictMailboxList(senders[0]!) || s.addresses.length !== 1) throw malformed('the Sender: field must hold exactly one address (RFC 5322 §3.6.2)');
    sender = s.addresses[0]!;
  }
  return { from: from.addresses, sender };
}

function malformed(text: string): MessageRejection {
  return new MessageRejection('malformed-originator', text);
}

/** Client text fit to quote in a reply: printable ASCII without quotes, at most 40 characters. */
function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x21\x23-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}
