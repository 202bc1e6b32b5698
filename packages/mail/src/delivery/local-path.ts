import { silentLogger, type BlobStore, type DeliveryTarget, type DirectoryStore, type Logger, type MailDelivery, type MessageToDeliver } from '@palabre/core';
import type { AnalyzedMessage } from '../mime/analyze.js';
import type { SieveDelivery, SieveMessageInput, SievePlan } from '../sieve/sieve-delivery.js';
import { HeaderSection } from '../mime/header-section.js';
import { deliverLocally, type LocalDeliveryOutcome } from './local-delivery.js';
import type { VacationResponder } from './vacation-responder.js';

/** One message for some local accounts, as the path needs it whoever received it. */
export interface LocalInput {
  /** For the log: the intake id or the queue job. */
  readonly id: string;
  readonly message: MessageToDeliver;
  /** account id → the address that reached it. */
  readonly recipients: ReadonlyMap<string, string>;
  /** The mailbox every account gets it in unless a script says otherwise (`\Junk` by policy); INBOX when absent. */
  readonly mailbox?: string;
  /**
   * The recipients' rules (domain and account Sieve scripts, Sieve and built-in vacation) apply: MX
   * mail and what the queue brings (redirects, replies); null for a submission to a colleague.
   */
  readonly rules: SieveMessageInput | null;
}

export interface LocalPathOptions {
  readonly delivery: MailDelivery;
  readonly directory: DirectoryStore;
  readonly sieve?: SieveDelivery | null;
  readonly vacation?: VacationResponder | null;
  readonly logger?: Logger;
}

/**
 * The one way a message reaches local mailboxes, from the MX intake and from the queue worker alike
 * (a Sieve redirect to a colleague, a reply, a retry for a full mailbox): the domain's script then the
 * account's (fileinto, flags, reject, redirect with its loop guard), the copies filed, then what is no
 * mailbox write (redirects, Sieve or built-in vacation, a late refusal notice). A second path, without
 * the rules, would let a redirect skip its recipient's filters.
 */
export class LocalDeliveryPath {
  private readonly log: Logger;

  constructor(private readonly options: LocalPathOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'local-delivery' });
  }

  private base(input: LocalInput, accountId: string): DeliveryTarget {
    return input.mailbox ? { accountId, mailbox: input.mailbox } : { accountId };
  }

  /** What each account's scripts decide (none without rules or scripts); a failure to read them files normally. */
  async plan(input: LocalInput): Promise<Map<string, SievePlan>> {
    const plans = new Map<string, SievePlan>();
    const sieve = this.options.sieve;
    if (!sieve || !input.rules) return plans;
    for (const [accountId, address] of input.recipients) {
      try {
        plans.set(accountId, await sieve.plan({ accountId, address }, input.rules, this.base(input, accountId)));
      } catch (error) {
        // Scripts unreadable (database down): the message is filed as if there were none, never lost.
        this.log.warn({ id: input.id, accountId, err: (error as Error).message }, 'sieve.failed');
      }
    }
    return plans;
  }

  /** File the message as planned, then carry out the rest; full mailboxes are in the outcome for the caller to retry. */
  async file(input: LocalInput, plans: ReadonlyMap<string, SievePlan>): Promise<LocalDeliveryOutcome> {
    // Round 0 is each account's first mailbox (the only one without Sieve); extra fileinto copies follow.
    const rounds: DeliveryTarget[][] = [];
    for (const accountId of input.recipients.keys()) {
      const list = plans.get(accountId)?.targets ?? [this.base(input, accountId)];
      list.forEach((t, i) => (rounds[i] ??= []).push(t));
    }
    const { message } = input;
    const outcome = await deliverLocally(this.options.delivery, this.options.directory, message, rounds[0] ?? []);
    for (let i = 1; i < rounds.length; i++) {
      const more = await deliverLocally(this.options.delivery, this.options.directory, { ...message, ...(message.dedupeKey ? { dedupeKey: `${message.dedupeKey}:${i}` } : {}) }, rounds[i]!);
      if (more.full.length > 0) this.log.info({ id: input.id, accounts: more.full.length }, 'sieve.copy-skipped-full');
    }
    const full = new Set(outcome.full.map((f) => f.accountId));
    const rules = input.rules;
    if (!rules) return outcome;
    for (const [accountId, plan] of plans) {
      if (full.has(accountId)) continue;
      await this.options.sieve!.act({ accountId, address: input.recipients.get(accountId)! }, rules, plan, true, this.options.vacation ?? null).catch((error: unknown) => {
        this.log.warn({ id: input.id, accountId, err: (error as Error).message }, 'sieve.failed');
      });
    }
    if (this.options.vacation) {
      // An account whose own Sieve script uses vacation answers through the script only.
      const accounts = [...input.recipients.keys()].filter((accountId) => !full.has(accountId) && !plans.get(accountId)?.answersVacation);
      if (accounts.length > 0) {
        void this.options.vacation.respond({ header: rules.header, sender: rules.envelopeFrom, accounts }).catch((error: unknown) => {
          this.log.warn({ id: input.id, err: (error as Error).message }, 'delivery.vacation-skipped');
        });
      }
    }
    return outcome;
  }

  /** plan then file: the queue's way in, where a refusal can only be a notice after the fact. */
  async deliver(input: LocalInput): Promise<LocalDeliveryOutcome> {
    return this.file(input, await this.plan(input));
  }
}

/** The header, body and bytes of a stored message as Sieve reads them (the queue's messages). */
export async function storedRulesInput(
  blobs: BlobStore,
  stored: { blobId: string; size: number; analysis: AnalyzedMessage; sender: string; requireTls: boolean },
): Promise<{ rules: SieveMessageInput; header: Buffer }> {
  const headerBytes = stored.analysis.headerBytes;
  const head = await readUpTo(await blobs.get(stored.blobId), headerBytes + BODY_LIMIT);
  const header = head.subarray(0, headerBytes);
  return {
    header,
    rules: {
      header: HeaderSection.parse(header),
      envelopeFrom: stored.sender,
      size: stored.size,
      body: async () => head.subarray(headerBytes),
      mime: { parts: stored.analysis.data.parts, headerBytes },
      open: async function* () {
        yield* await blobs.get(stored.blobId);
      },
      requireTls: stored.requireTls,
    },
  };
}

const BODY_LIMIT = 1024 * 1024;

export async function readUpTo(stream: AsyncIterable<Uint8Array>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size >= max) break;
  }
  return Buffer.concat(chunks).subarray(0, max);
}
