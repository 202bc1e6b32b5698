import { DirectorySearch1796000470000 } from '../src/storage/directory/1796000470000-directory-search.js';
import { MailSearchIndex1796000510000 } from '../src/storage/mail/1796000510000-mail-search-index.js';
import { QuotaResources1796000760000 } from '../src/storage/mail/1796000760000-quota-resources.js';
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../src/testing/index.js';
import { SqlDirectoryStore, SqlMailStore, SqlUsageStore } from '../src/storage/index.js';
import type { MigrationInterface } from 'typeorm';
import type { Database } from '../src/storage/index.js';
import { backends } from './harness.js';

/** A migration undone and run again on `db`, as on a database whose rows predate it. */
async function undoAndRedo(db: Database, migration: MigrationInterface): Promise<void> {
  const runner = db.dataSource.createQueryRunner();
  try {
    await migration.down(runner);
    await migration.up(runner);
  } finally {
    await runner.release();
  }
}

describe.each(backends)('migrations on $name', (backend) => {
  it('produce exactly the schema the entities describe (nothing left for synchronize)', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const pending = await db.dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      expect(await db.hasPendingMigrations()).toBe(false);
    } finally {
      await cleanup();
    }
  });

  it('are idempotent and safe to run from several processes at once', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const again = await Promise.all([db.migrate(), db.migrate()]);
      expect(again).toEqual([[], []]);
    } finally {
      await cleanup();
    }
  });

  it('fill the directory search column of accounts that existed before it', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const store = new SqlDirectoryStore(db);
      const domain = await store.createDomain({ name: 'sante.gouv.tg' });
      await store.createAccount({ address: 'ek@sante.gouv.tg', displayName: 'Élodie Kpatcha' });
      // The directory search migration undone (the column gone) and run again fills it, whatever came after it.
      await undoAndRedo(db, new DirectorySearch1796000470000());
      expect((await store.search(domain.id, 'elodie', 10)).map((a) => a.address)).toEqual(['ek@sante.gouv.tg']);
    } finally {
      await cleanup();
    }
  });

  it('fill the mail search columns of messages written before them, so the store can search them', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const directory = new SqlDirectoryStore(db);
      await directory.createDomain({ name: 'sante.gouv.tg' });
      const account = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
      const blobs = new MemoryBlobStore();
      const store = new SqlMailStore(db, { blobs, usage: new SqlUsageStore(db) });
      const [inbox] = (await store.ensureMailboxes(account.id)).filter((b) => b.name === 'INBOX');
      for (const [subject, date] of [['Réunion budget', Date.UTC(2025, 2, 4, 10)], ['Autre', null]] as const) {
        const blob = await blobs.put(Buffer.from(`Subject: ${subject}\r\n\r\nx`));
        const data = { v: 1, ...(date === null ? {} : { date }), search: { subject, from: 'Kofi <kofi@x.test>', to: '', cc: '', bcc: '' } };
        await store.append(inbox!.id, { blobId: blob.id, size: blob.size, internalDate: new Date(Date.UTC(2025, 0, 1)), analysis: { headerBytes: 10, data } });
      }
      // As rows written before the columns existed: both empty.
      await db.run((m) => m.query('UPDATE mail_messages SET search_text = NULL, sent_date = NULL'));
      const search = () => store.searchUids(inbox!.id, account.id, [[1, 100]], { k: 'contains', field: 'subject', value: 'réunion' });
      expect((await search()).uids).toEqual([]);
      await undoAndRedo(db, new MailSearchIndex1796000510000());
      expect((await search()).uids).toEqual([1]);
      const sentOn = await store.searchUids(inbox!.id, account.id, [[1, 100]], { k: 'day', field: 'sent', op: 'on', day: Date.UTC(2025, 2, 4) });
      expect(sentOn.uids).toEqual([1]);
    } finally {
      await cleanup();
    }
  });

  it('count the messages of accounts that had mail before the message limit existed', async () => {
    const { db, cleanup } = await backend.open();
    try {
      const directory = new SqlDirectoryStore(db);
      await directory.createDomain({ name: 'sante.gouv.tg' });
      const awa = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
      const kofi = await directory.createAccount({ address: 'kofi@sante.gouv.tg' });
      const blobs = new MemoryBlobStore();
      const usage = new SqlUsageStore(db);
      const store = new SqlMailStore(db, { blobs, usage });
      const blob = await blobs.put(Buffer.from('Subject: x\r\n\r\nx'));
      const message = { blobId: blob.id, size: blob.size, internalDate: new Date(), analysis: { headerBytes: 13, data: { v: 1 } } };
      const boxes = await store.ensureMailboxes(awa.id);
      await store.appendMany(boxes[0]!.id, [message, message]);
      await store.append(boxes[1]!.id, message);
      await store.append((await store.ensureMailboxes(kofi.id))[0]!.id, message);
      await directory.updateAccount(awa.id, { quotaMessages: 10 });
      await undoAndRedo(db, new QuotaResources1796000760000());
      expect((await usage.get(awa.id)).messages).toBe(3);
      expect((await usage.get(kofi.id)).messages).toBe(1);
      // The limits start unset (what the column's absence meant), and the bytes are kept.
      expect(await store.quota(awa.id)).toMatchObject({ messages: 3, limitMessages: null, mailBytes: blob.size * 3 });
    } finally {
      await cleanup();
    }
  });
});
