import type {
  MailMigrationCopy,
  MailMigrationCursor,
  MailMigrationCursorInput,
  MailMigrationStore,
} from '../../mail-migration/mail-migration-store.js';
import { checkCopies, checkCursor, compareCursors, mergeCursor } from '../../mail-migration/mail-migration-rules.js';
import { systemClock, type Clock } from '../../ports/clock.js';

const key = (accountId: string, source: string, folder: string): string => `${accountId}\u0000${source}\u0000${folder}`;

export class MemoryMailMigrationStore implements MailMigrationStore {
  private readonly cursors = new Map<string, MailMigrationCursor>();
  /** Folder key → legacy UID → target UID. */
  private readonly copies = new Map<string, Map<number, number>>();

  constructor(private readonly clock: Clock = systemClock) {}

  async getCursor(accountId: string, source: string, folder: string): Promise<MailMigrationCursor | null> {
    return this.cursors.get(key(accountId, source, folder)) ?? null;
  }

  async listCursors(accountId: string, source?: string): Promise<MailMigrationCursor[]> {
    return [...this.cursors.values()]
      .filter((c) => c.accountId === accountId && (source === undefined || c.source === source))
      .sort(compareCursors);
  }

  async saveCursor(input: MailMigrationCursorInput): Promise<MailMigrationCursor> {
    const next = checkCursor(input);
    const k = key(next.accountId, next.source, next.folder);
    const saved = mergeCursor(this.cursors.get(k) ?? null, next, this.clock.now());
    this.cursors.set(k, saved);
    return saved;
  }

  async forget(accountId: string, source?: string): Promise<number> {
    let n = 0;
    for (const [k, c] of this.cursors) {
      if (c.accountId === accountId && (source === undefined || c.source === source)) {
        this.cursors.delete(k);
        n++;
      }
    }
    const prefix = source === undefined ? `${accountId}\u0000` : `${accountId}\u0000${source}\u0000`;
    for (const k of [...this.copies.keys()]) if (k.startsWith(prefix)) this.copies.delete(k);
    return n;
  }

  async recordCopies(accountId: string, source: string, folder: string, copies: readonly MailMigrationCopy[]): Promise<void> {
    checkCopies(copies);
    const k = key(accountId, source, folder);
    const map = this.copies.get(k) ?? new Map<number, number>();
    for (const c of copies) map.set(c.legacyUid, c.targetUid);
    this.copies.set(k, map);
  }

  async listCopies(accountId: string, source: string, folder: string): Promise<MailMigrationCopy[]> {
    return [...(this.copies.get(key(accountId, source, folder)) ?? new Map<number, number>())]
      .sort((a, b) => a[0] - b[0])
      .map(([legacyUid, targetUid]) => ({ legacyUid, targetUid }));
  }

  async clearCopies(accountId: string, source: string, folder: string): Promise<void> {
    this.copies.delete(key(accountId, source, folder));
  }
}
