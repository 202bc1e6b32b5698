import { isPalabreError, type DirectoryStore, type MailDelivery, type MessageToDeliver, type DeliveryTarget, type DeliveryResult } from '@palabre/core';

export interface LocalDeliveryOutcome {
  readonly results: readonly DeliveryResult[];
  /** Accounts whose mailbox is full: `permanent` when the message alone is over their quota. */
  readonly full: readonly { readonly accountId: string; readonly permanent: boolean }[];
}

/**
 * File one message for several local accounts through the MailDelivery port. The port is all or
 * nothing and names the full account in its QuotaExceededError; we set that account aside and file
 * the message for the others, so one full mailbox does not hold up a distribution list.
 */
export async function deliverLocally(
  delivery: MailDelivery,
  directory: DirectoryStore,
  message: MessageToDeliver,
  targets: readonly DeliveryTarget[],
): Promise<LocalDeliveryOutcome> {
  let remaining = [...targets];
  const full: { accountId: string; permanent: boolean }[] = [];
  while (remaining.length > 0) {
    try {
      return { results: await delivery.deliver(message, remaining), full };
    } catch (error) {
      if (!isPalabreError(error, 'quota')) throw error;
      const named = typeof error.detail?.accountId === 'string' ? (error.detail.accountId as string) : null;
      const culprits = named && remaining.some((t) => t.accountId === named) ? [named] : await findFull(delivery, message, remaining);
      for (const accountId of culprits) {
        const account = await directory.getAccount(accountId).catch(() => null);
        full.push({ accountId, permanent: account?.quotaBytes != null && message.size > account.quotaBytes });
      }
      remaining = remaining.filter((t) => !culprits.includes(t.accountId));
    }
  }
  return { results: [], full };
}

// The store did not say who is full: try each target alone (a rare, slow path).
async function findFull(delivery: MailDelivery, message: MessageToDeliver, targets: readonly DeliveryTarget[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    try {
      await delivery.deliver(message, [t]);
    } catch (error) {
      if (isPalabreError(error, 'quota')) out.push(t.accountId);
      else throw error;
    }
  }
  return out.length ? out : targets.map((t) => t.accountId);
}
