import type { MailMigrationCursor, MailMigrationCursorInput, MailMigrationStore } from '../../mail-migration/mail-migration-store.js';
import { checkCursor, compareCursors, mergeCursor } from '../../mail-migration/mail-migration-rules.js';
import { systemClock, type Clock } from '../../ports/clock.js';

const key = (accountId: string, source: string, folder: string): string => `${accountId}\u0000${source}\u0000${folder}`;

export class MemoryMailMigrationStore implements MailMigrationStore {
  private readonly cursors = new Map<string, MailMigrationCursor>();

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
    return n;
  }
}
