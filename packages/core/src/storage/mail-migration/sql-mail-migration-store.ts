import type {
  MailMigrationCopy,
  MailMigrationCursor,
  MailMigrationCursorInput,
  MailMigrationStore,
} from '../../mail-migration/mail-migration-store.js';
import { checkCopies, checkCursor, compareCursors } from '../../mail-migration/mail-migration-rules.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type { Database } from '../database.js';
import { returnedRows } from '../returned-rows.js';
import { MailMigrationCopyEntity, MailMigrationCursorEntity, type MailMigrationCursorRow } from './entities.js';

/** Rows per INSERT when recording copies (4 parameters each, well under every driver's limit). */
const COPY_BATCH = 200;

export class SqlMailMigrationStore implements MailMigrationStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async getCursor(accountId: string, source: string, folder: string): Promise<MailMigrationCursor | null> {
    return this.db.run(async (m) => {
      const row = await m.findOne(MailMigrationCursorEntity, { where: { accountId, source, folder } });
      return row ? toCursor(row) : null;
    }, 'reading a mail migration cursor');
  }

  async listCursors(accountId: string, source?: string): Promise<MailMigrationCursor[]> {
    return this.db.run(async (m) => {
      const rows = await m.find(MailMigrationCursorEntity, { where: source === undefined ? { accountId } : { accountId, source } });
      return rows.map(toCursor).sort(compareCursors);
    }, 'listing mail migration cursors');
  }

  async saveCursor(input: MailMigrationCursorInput): Promise<MailMigrationCursor> {
    const c = checkCursor(input);
    const now = this.clock.now().getTime();
    return this.db.transaction(
      async (m) => {
        // One statement, so two runs racing on one folder cannot move a cursor back (same UIDVALIDITY
        // and target mailbox: the larger last UID stays).
        await m.query(
          this.db.sql(
            `INSERT INTO mail_migration_cursors (account_id, source, folder, uid_validity, last_uid, mailbox_id, last_target_uid, copied, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (account_id, source, folder) DO UPDATE SET
               uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, mailbox_id = excluded.mailbox_id,
               last_target_uid = excluded.last_target_uid, copied = excluded.copied, updated_at = excluded.updated_at
             WHERE NOT (mail_migration_cursors.uid_validity = excluded.uid_validity
                        AND mail_migration_cursors.mailbox_id = excluded.mailbox_id
                        AND mail_migration_cursors.last_uid > excluded.last_uid)`,
          ),
          [c.accountId, c.source, c.folder, c.uidValidity, c.lastUid, c.mailboxId, c.lastTargetUid, c.copied, now],
        );
        const row = await m.findOne(MailMigrationCursorEntity, { where: { accountId: c.accountId, source: c.source, folder: c.folder } });
        return toCursor(row!);
      },
      { what: 'saving a mail migration cursor' },
    );
  }

  async forget(accountId: string, source?: string): Promise<number> {
    return this.db.transaction(
      async (m) => {
        await m.query(
          this.db.sql(`DELETE FROM mail_migration_copies WHERE account_id = ?${source === undefined ? '' : ' AND source = ?'}`),
          source === undefined ? [accountId] : [accountId, source],
        );
        const rows = returnedRows(
          await m.query(
            this.db.sql(
              `DELETE FROM mail_migration_cursors WHERE account_id = ?${source === undefined ? '' : ' AND source = ?'} RETURNING folder`,
            ),
            source === undefined ? [accountId] : [accountId, source],
          ),
        );
        return rows.length;
      },
      { what: 'forgetting mail migration cursors' },
    );
  }

  async recordCopies(accountId: string, source: string, folder: string, copies: readonly MailMigrationCopy[]): Promise<void> {
    checkCopies(copies);
    if (copies.length === 0) return;
    await this.db.transaction(
      async (m) => {
        for (let i = 0; i < copies.length; i += COPY_BATCH) {
          const batch = copies.slice(i, i + COPY_BATCH);
          await m.query(
            this.db.sql(
              `INSERT INTO mail_migration_copies (account_id, source, folder, legacy_uid, target_uid) VALUES ${batch.map(() => '(?, ?, ?, ?, ?)').join(', ')}
               ON CONFLICT (account_id, source, folder, legacy_uid) DO UPDATE SET target_uid = excluded.target_uid`,
            ),
            batch.flatMap((c) => [accountId, source, folder, c.legacyUid, c.targetUid]),
          );
        }
      },
      { what: 'recording migrated messages' },
    );
  }

  async listCopies(accountId: string, source: string, folder: string): Promise<MailMigrationCopy[]> {
    return this.db.run(async (m) => {
      const rows = await m.find(MailMigrationCopyEntity, { where: { accountId, source, folder }, order: { legacyUid: 'ASC' } });
      return rows.map((r) => ({ legacyUid: Number(r.legacyUid), targetUid: Number(r.targetUid) }));
    }, 'listing migrated messages');
  }

  async clearCopies(accountId: string, source: string, folder: string): Promise<void> {
    await this.db.run((m) => m.delete(MailMigrationCopyEntity, { accountId, source, folder }), 'clearing migrated messages');
  }
}

function toCursor(row: MailMigrationCursorRow): MailMigrationCursor {
  return {
    accountId: row.accountId,
    source: row.source,
    folder: row.folder,
    uidValidity: Number(row.uidValidity),
    lastUid: Number(row.lastUid),
    mailboxId: row.mailboxId,
    lastTargetUid: Number(row.lastTargetUid),
    copied: Number(row.copied),
    updatedAt: new Date(Number(row.updatedAt)),
  };
}
