import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { searchTextOf, sentDateOf } from '../../mail/mail-rules.js';

/** Rows read and rewritten per statement while filling the search columns. */
const BATCH = 500;

/**
 * SEARCH decided by the database (SqlMailStore.searchUids): the search columns of 1796000200001 are
 * filled for the rows written before them (the store no longer reads analyses to search, so a row
 * without them would never match FROM or SENTSINCE), and the internal date is indexed with the
 * mailbox for SINCE/BEFORE/ON and OLDER/YOUNGER.
 */
export class MailSearchIndex1796000510000 implements MigrationInterface {
  name = 'MailSearchIndex1796000510000';

  async up(q: QueryRunner): Promise<void> {
    const pg = q.connection.options.type === 'postgres';
    const mark = (n: number) => (pg ? `$${n}` : '?');
    // Keyset paging over the primary key: rows whose analysis holds no search member stay NULL, and
    // the next page starts after the last row seen, so each row is read once.
    let after: [string, number] = ['', 0];
    for (;;) {
      const rows: { mailbox_id: string; uid: number | string; analysis: string }[] = await q.query(
        `SELECT mailbox_id, uid, analysis FROM mail_messages
         WHERE search_text IS NULL AND (mailbox_id > ${mark(1)} OR (mailbox_id = ${mark(2)} AND uid > ${mark(3)}))
         ORDER BY mailbox_id, uid LIMIT ${BATCH}`,
        [after[0], after[0], after[1]],
      );
      if (rows.length === 0) break;
      for (const r of rows) {
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(r.analysis) as Record<string, unknown>;
        } catch {
          continue;
        }
        const text = searchTextOf(data);
        const sent = sentDateOf(data);
        if (text === null && sent === null) continue;
        await q.query(`UPDATE mail_messages SET search_text = ${mark(1)}, sent_date = ${mark(2)} WHERE mailbox_id = ${mark(3)} AND uid = ${mark(4)}`, [
          text,
          sent,
          r.mailbox_id,
          r.uid,
        ]);
      }
      const last = rows[rows.length - 1]!;
      after = [last.mailbox_id, Number(last.uid)];
    }
    await q.createIndex('mail_messages', new TableIndex({ name: 'idx_mail_messages_date', columnNames: ['mailbox_id', 'internal_date', 'uid'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('mail_messages', 'idx_mail_messages_date');
  }
}
