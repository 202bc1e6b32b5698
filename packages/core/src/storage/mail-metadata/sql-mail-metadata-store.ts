import { QuotaExceededError } from '../../errors.js';
import { checkChanges, checkEntryName, entriesAt, MAX_METADATA_ENTRIES, ownerOf } from '../../mail-metadata/mail-metadata-rules.js';
import type { MailMetadataStore, MetadataChange, MetadataDepth, MetadataEntry, MetadataScope } from '../../mail-metadata/mail-metadata-store.js';
import type { Database } from '../database.js';

const keys = (scope: MetadataScope, name: string): [string, string] => [scope.mailboxId ?? '', ownerOf(name, scope) ?? ''];
/** LIKE pattern for the names below `name` (`_`, `%` and `\` taken literally). */
const below = (name: string) => `${name.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;

export class SqlMailMetadataStore implements MailMetadataStore {
  constructor(private readonly db: Database) {}

  async get(scope: MetadataScope, name: string, depth: MetadataDepth): Promise<MetadataEntry[]> {
    const n = checkEntryName(name);
    const rows = await this.db.run(
      (m) =>
        m.query(
          this.db.sql(`SELECT name, value FROM mail_metadata WHERE mailbox_key = ? AND account_key = ? AND (name = ?${depth === '0' ? '' : " OR name LIKE ? ESCAPE '\\'"})`),
          depth === '0' ? [...keys(scope, n), n] : [...keys(scope, n), n, below(n)],
        ) as Promise<{ name: string; value: string }[]>,
      'reading metadata',
    );
    return entriesAt(rows.map((r) => ({ name: r.name, value: r.value })), n, depth);
  }

  async set(scope: MetadataScope, changes: readonly MetadataChange[]): Promise<void> {
    const checked = checkChanges(changes);
    await this.db.transaction(
      async (m) => {
        const owners = new Set<string>();
        for (const c of checked) {
          const [mailboxKey, accountKey] = keys(scope, c.name);
          owners.add(accountKey);
          if (c.value === null) await m.query(this.db.sql('DELETE FROM mail_metadata WHERE mailbox_key = ? AND account_key = ? AND name = ?'), [mailboxKey, accountKey, c.name]);
          else
            await m.query(
              this.db.sql('INSERT INTO mail_metadata (mailbox_key, account_key, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (mailbox_key, account_key, name) DO UPDATE SET value = excluded.value'),
              [mailboxKey, accountKey, c.name, c.value],
            );
        }
        for (const accountKey of owners) {
          const [row] = (await m.query(this.db.sql('SELECT COUNT(*) AS n FROM mail_metadata WHERE mailbox_key = ? AND account_key = ?'), [scope.mailboxId ?? '', accountKey])) as { n: number | string }[];
          if (Number(row!.n) > MAX_METADATA_ENTRIES) throw new QuotaExceededError(`at most ${MAX_METADATA_ENTRIES} metadata entries`, { detail: { reason: 'too-many' } });
        }
      },
      { what: 'writing metadata' },
    );
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    await this.db.transaction((m) => m.query(this.db.sql('DELETE FROM mail_metadata WHERE mailbox_key = ?'), [mailboxId]), { what: 'deleting metadata' });
  }
}
