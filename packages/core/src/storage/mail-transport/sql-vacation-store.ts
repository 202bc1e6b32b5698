import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { VacationSettings, VacationStore } from '../../mail-transport/vacation-store.js';
import { checkSender, checkVacation } from '../../mail-transport/vacation-rules.js';
import type { Database } from '../database.js';
import { returnedRows } from '../returned-rows.js';
import { VacationSettingsEntity, type VacationSettingsRow } from './entities.js';

export class SqlVacationStore implements VacationStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(accountId: string): Promise<VacationSettings | null> {
    return this.db.run(async (m) => {
      const row = await m.findOne(VacationSettingsEntity, { where: { accountId } });
      return row ? toSettings(row) : null;
    }, 'reading vacation settings');
  }

  async set(input: Omit<VacationSettings, 'updatedAt'> & { updatedAt?: Date }): Promise<VacationSettings> {
    const s = checkVacation(input, this.clock.now());
    const row: VacationSettingsRow = {
      accountId: s.accountId,
      enabled: s.enabled,
      subject: s.subject,
      body: s.body,
      startsAt: s.startsAt?.getTime() ?? null,
      endsAt: s.endsAt?.getTime() ?? null,
      intervalMs: s.intervalMs,
      updatedAt: s.updatedAt.getTime(),
    };
    await this.db.transaction(
      async (m) => {
        await m.delete(VacationSettingsEntity, { accountId: s.accountId });
        await m.insert(VacationSettingsEntity, row);
        // New text: senders answered under the old one may be answered again.
        await m.query(this.db.sql('DELETE FROM vacation_replies WHERE account_id = ?'), [s.accountId]);
      },
      { what: 'saving vacation settings' },
    );
    return s;
  }

  async disable(accountId: string): Promise<void> {
    await this.db.run((m) => m.update(VacationSettingsEntity, { accountId }, { enabled: false, updatedAt: this.clock.now().getTime() }), 'disabling vacation');
  }

  async shouldReply(accountId: string, sender: string, now: Date, intervalMs: number): Promise<boolean> {
    const who = checkSender(sender);
    const t = now.getTime();
    return this.db.run(async (m) => {
      // One atomic upsert: the row changes only if the last answer is older than the interval.
      const rows = returnedRows(
        await m.query(
        this.db.sql(
          `INSERT INTO vacation_replies (account_id, sender, replied_at) VALUES (?, ?, ?)
           ON CONFLICT (account_id, sender) DO UPDATE SET replied_at = excluded.replied_at
           WHERE vacation_replies.replied_at <= ?
           RETURNING replied_at`,
        ),
        [accountId, who, t, t - intervalMs],
        ),
      );
      return rows.length > 0;
    }, 'recording a vacation reply');
  }

  async sweep(before: Date): Promise<number> {
    return this.db.run(async (m) => {
      const rows = returnedRows(await m.query(this.db.sql('DELETE FROM vacation_replies WHERE replied_at < ? RETURNING account_id'), [before.getTime()]));
      return rows.length;
    }, 'sweeping vacation replies');
  }
}

function toSettings(row: VacationSettingsRow): VacationSettings {
  return {
    accountId: row.accountId,
    enabled: Boolean(row.enabled),
    subject: row.subject,
    body: row.body,
    startsAt: row.startsAt === null ? null : new Date(Number(row.startsAt)),
    endsAt: row.endsAt === null ? null : new Date(Number(row.endsAt)),
    intervalMs: Number(row.intervalMs),
    updatedAt: new Date(Number(row.updatedAt)),
  };
}
