import type { Clock } from '../ports/clock.js';
import type { Database } from './database.js';
import { SqlDkimKeyStore } from './repositories/sql-dkim-key-store.js';
import { SqlOutboundQueue } from './repositories/sql-outbound-queue.js';
import { SqlRateLimitStore } from './repositories/sql-rate-limit-store.js';
import { SqlVacationStore } from './repositories/sql-vacation-store.js';

export interface MailTransportStores {
  readonly queue: SqlOutboundQueue;
  readonly dkimKeys: SqlDkimKeyStore;
  readonly vacations: SqlVacationStore;
  readonly rateLimits: SqlRateLimitStore;
}

/** The stores SMTP needs beyond the core ones: outbound queue, DKIM keys, vacation, rate limits. */
export function createMailTransportStores(db: Database, options: { clock?: Clock } = {}): MailTransportStores {
  return {
    queue: new SqlOutboundQueue(db, options.clock),
    dkimKeys: new SqlDkimKeyStore(db),
    vacations: new SqlVacationStore(db, options.clock),
    rateLimits: new SqlRateLimitStore(db),
  };
}
