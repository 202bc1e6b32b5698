import type { Clock } from '../../ports/clock.js';
import type { SecretBox } from '../../secrets/secret-box.js';
import type { Database } from '../database.js';
import { SqlDkimKeyStore } from './sql-dkim-key-store.js';
import { SqlOutboundQueue } from './sql-outbound-queue.js';
import { SqlRateLimitStore } from './sql-rate-limit-store.js';
import { SqlVacationStore } from './sql-vacation-store.js';

export interface MailTransportStores {
  readonly queue: SqlOutboundQueue;
  readonly dkimKeys: SqlDkimKeyStore;
  readonly vacations: SqlVacationStore;
  readonly rateLimits: SqlRateLimitStore;
}

/** The stores SMTP needs beyond the core ones: outbound queue, DKIM keys, vacation, rate limits. */
export function createMailTransportStores(db: Database, options: { clock?: Clock; secrets?: SecretBox | null } = {}): MailTransportStores {
  return {
    queue: new SqlOutboundQueue(db, options.clock),
    dkimKeys: new SqlDkimKeyStore(db, options.secrets ?? null),
    vacations: new SqlVacationStore(db, options.clock),
    rateLimits: new SqlRateLimitStore(db),
  };
}
