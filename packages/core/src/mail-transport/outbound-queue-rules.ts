import { InvalidInputError } from '../errors.js';
import type { DsnNotify, NewOutboundMessage, NewOutboundRecipient, RecipientOutcome } from './outbound-queue.js';

/** Validation and grouping shared by every OutboundQueue implementation, so all refuse the same. */

const BLOB_ID = /^[0-9a-f]{64}$/;
const NOTIFY: ReadonlySet<string> = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);
export const MAX_QUEUE_RECIPIENTS = 1000;

/** Attacker-influenced text (remote replies) stored for listings: bounded, no controls. */
export function clipText(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  return String(value).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return address.slice(at + 1).toLowerCase();
}

export interface PlannedJob {
  readonly transport: 'smtp' | 'local';
  readonly domain: string;
  readonly recipients: readonly NewOutboundRecipient[];
}

/** Check a message before it is queued and split it into jobs: one per domain (smtp) or one (local). */
export function planJobs(message: NewOutboundMessage): PlannedJob[] {
  if (!BLOB_ID.test(message.blobId)) throw new InvalidInputError('invalid blob id');
  if (!Number.isSafeInteger(message.size) || message.size < 0) throw new InvalidInputError('invalid message size');
  if (typeof message.sender !== 'string' || message.sender.length > 512 || /[\s<>\u0000-\u001f]/.test(message.sender)) {
    throw new InvalidInputError('invalid envelope sender');
  }
  if (message.transport !== 'smtp' && message.transport !== 'local') throw new InvalidInputError('invalid transport');
  if (message.ret != null && message.ret !== 'FULL' && message.ret !== 'HDRS') throw new InvalidInputError('invalid RET');
  if (message.tlsPolicy != null && message.tlsPolicy !== 'requiretls' && message.tlsPolicy !== 'tls-required-no') throw new InvalidInputError('invalid TLS policy');
  if (message.envId != null && (message.envId.length > 200 || /[\s\u0000-\u001f]/.test(message.envId))) throw new InvalidInputError('invalid ENVID');
  if (!(message.expiresAt instanceof Date) || Number.isNaN(message.expiresAt.getTime())) throw new InvalidInputError('invalid expiry');
  if (message.recipients.length === 0) throw new InvalidInputError('a queued message needs recipients');
  if (message.recipients.length > MAX_QUEUE_RECIPIENTS) throw new InvalidInputError('too many recipients');
  const seen = new Set<string>();
  const byDomain = new Map<string, NewOutboundRecipient[]>();
  for (const r of message.recipients) {
    if (typeof r.address !== 'string' || r.address.length === 0 || r.address.length > 512 || /[\s<>\u0000-\u001f]/.test(r.address) || !r.address.includes('@')) {
      throw new InvalidInputError('invalid recipient');
    }
    if (message.transport === 'local' && !r.accountId) throw new InvalidInputError('a local recipient needs an account');
    if (r.orcpt != null && (r.orcpt.length > 600 || /[\u0000-\u001f]/.test(r.orcpt))) throw new InvalidInputError('invalid ORCPT');
    for (const n of r.notify ?? []) if (!NOTIFY.has(n)) throw new InvalidInputError('invalid NOTIFY');
    const key = `${r.address}\u0000${r.accountId ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const domain = message.transport === 'local' ? '' : domainOf(r.address);
    let list = byDomain.get(domain);
    if (!list) byDomain.set(domain, (list = []));
    list.push(r);
  }
  return [...byDomain].map(([domain, recipients]) => ({ transport: message.transport, domain, recipients }));
}

export function checkOutcomes(outcomes: readonly RecipientOutcome[], retryAt: Date | null | undefined): void {
  for (const o of outcomes) {
    if (o.status !== 'pending' && o.status !== 'delivered' && o.status !== 'failed') throw new InvalidInputError('invalid recipient status');
  }
  if (outcomes.some((o) => o.status === 'pending') && !(retryAt instanceof Date)) {
    throw new InvalidInputError('a retry time is needed while recipients are pending');
  }
}

export const encodeNotify = (notify: readonly DsnNotify[] | null | undefined): string | null => (notify && notify.length ? notify.join(',') : null);
export const decodeNotify = (text: string | null): DsnNotify[] | null => (text ? (text.split(',') as DsnNotify[]) : null);
