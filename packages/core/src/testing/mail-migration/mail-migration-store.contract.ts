import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MailMigrationCursorInput, MailMigrationStore } from '../../mail-migration/mail-migration-store.js';
import type { ContractSubject } from '../contracts/subject.js';
import { expectKind } from '../contracts/expect-error.js';

/** Two accounts, each with two mailboxes (ids), as the database needs them to exist. */
export interface MailMigrationContractExtra {
  readonly accounts: readonly [string, string];
  readonly mailboxes: readonly [readonly [string, string], readonly [string, string]];
}

export function mailMigrationStoreContract(name: string, subject: ContractSubject<MailMigrationStore, MailMigrationContractExtra>): void {
  describe(`MailMigrationStore contract: ${name}`, () => {
    let store: MailMigrationStore;
    let extra: MailMigrationContractExtra;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      const made = await subject.make();
      ({ subject: store, cleanup } = made);
      extra = made;
    });
    afterEach(async () => cleanup());
    const SRC = 'imaps://legacy.sante.gouv.tg:993';
    const cursor = (over: Partial<MailMigrationCursorInput> = {}): MailMigrationCursorInput => ({
      accountId: extra.accounts[0],
      source: SRC,
      folder: 'INBOX',
      uidValidity: 1700000000,
      lastUid: 10,
      mailboxId: extra.mailboxes[0][0],
      lastTargetUid: 7,
      copied: 10,
      ...over,
    });

    it('saves, reads back and lists cursors per account and source, by folder', async () => {
      expect(await store.getCursor(extra.accounts[0], SRC, 'INBOX')).toBeNull();
      const saved = await store.saveCursor(cursor());
      expect(saved).toMatchObject({ folder: 'INBOX', uidValidity: 1700000000, lastUid: 10, lastTargetUid: 7, copied: 10 });
      expect(saved.updatedAt).toBeInstanceOf(Date);
      await store.saveCursor(
        cursor({ folder: 'Archives.2019', mailboxId: extra.mailboxes[0][1], uidValidity: 0xffffffff, lastUid: 0xffffffff }),
      );
      await store.saveCursor(cursor({ folder: 'Boîte', source: 'imaps://other:993' }));
      await store.saveCursor(cursor({ accountId: extra.accounts[1], mailboxId: extra.mailboxes[1][0] }));
      const got = await store.getCursor(extra.accounts[0], SRC, 'Archives.2019');
      expect(got).toMatchObject({ uidValidity: 0xffffffff, lastUid: 0xffffffff, mailboxId: extra.mailboxes[0][1] });
      expect((await store.listCursors(extra.accounts[0], SRC)).map((c) => c.folder)).toEqual(['Archives.2019', 'INBOX']);
      expect((await store.listCursors(extra.accounts[0])).map((c) => `${c.source} ${c.folder}`)).toEqual([
        `${SRC} Archives.2019`,
        `${SRC} INBOX`,
        'imaps://other:993 Boîte',
      ]);
      expect(await store.listCursors(extra.accounts[1])).toHaveLength(1);
    });

    it('folder names are exact: case and Unicode form count', async () => {
      await store.saveCursor(cursor({ folder: 'Inbox/Été', lastUid: 1 }));
      await store.saveCursor(cursor({ folder: 'inbox/été', lastUid: 2 }));
      expect((await store.getCursor(extra.accounts[0], SRC, 'Inbox/Été'))!.lastUid).toBe(1);
      expect((await store.getCursor(extra.accounts[0], SRC, 'inbox/été'))!.lastUid).toBe(2);
      expect(await store.getCursor(extra.accounts[0], SRC, 'INBOX/ÉTÉ')).toBeNull();
    });

    it('never moves a cursor back within one UIDVALIDITY, even when two runs race', async () => {
      await store.saveCursor(cursor({ lastUid: 50, lastTargetUid: 40, copied: 50 }));
      const back = await store.saveCursor(cursor({ lastUid: 20, lastTargetUid: 90, copied: 20 }));
      expect(back).toMatchObject({ lastUid: 50, lastTargetUid: 40, copied: 50 });
      await Promise.all([30, 80, 60].map((lastUid) => store.saveCursor(cursor({ lastUid, lastTargetUid: lastUid }))));
      expect(await store.getCursor(extra.accounts[0], SRC, 'INBOX')).toMatchObject({ lastUid: 80, lastTargetUid: 80 });
    });

    it('a new UIDVALIDITY or another target mailbox replaces the cursor whole', async () => {
      await store.saveCursor(cursor({ lastUid: 50 }));
      const fresh = await store.saveCursor(cursor({ uidValidity: 1800000000, lastUid: 3, lastTargetUid: 60, copied: 53 }));
      expect(fresh).toMatchObject({ uidValidity: 1800000000, lastUid: 3, lastTargetUid: 60, copied: 53 });
      const moved = await store.saveCursor(
        cursor({ uidValidity: 1800000000, lastUid: 1, mailboxId: extra.mailboxes[0][1], lastTargetUid: 0 }),
      );
      expect(moved).toMatchObject({ lastUid: 1, mailboxId: extra.mailboxes[0][1] });
    });

    it('refuses counters outside IMAP ranges and empty names, storing nothing', async () => {
      for (const bad of [
        { lastUid: -1 },
        { uidValidity: 0x100000000 },
        { lastTargetUid: 1.5 },
        { copied: Number.NaN },
        { folder: '' },
        { source: '' },
        { folder: 'x'.repeat(1001) },
      ]) {
        await expectKind(store.saveCursor(cursor(bad)), 'invalid');
      }
      expect(await store.listCursors(extra.accounts[0])).toEqual([]);
    });

    it('records which target UID each legacy UID went to, replaces, clears per folder', async () => {
      const [a, b] = extra.accounts;
      expect(await store.listCopies(a, SRC, 'INBOX')).toEqual([]);
      await store.recordCopies(
        a,
        SRC,
        'INBOX',
        Array.from({ length: 450 }, (_, i) => ({ legacyUid: 1000 - i, targetUid: i + 1 })),
      );
      await store.recordCopies(a, SRC, 'INBOX', [{ legacyUid: 1000, targetUid: 0xffffffff }]);
      await store.recordCopies(a, SRC, 'Sent', [{ legacyUid: 7, targetUid: 3 }]);
      await store.recordCopies(b, SRC, 'INBOX', [{ legacyUid: 7, targetUid: 9 }]);
      await store.recordCopies(a, SRC, 'INBOX', []);
      const inbox = await store.listCopies(a, SRC, 'INBOX');
      expect(inbox).toHaveLength(450);
      expect(inbox[0]).toEqual({ legacyUid: 551, targetUid: 450 });
      expect(inbox.at(-1)).toEqual({ legacyUid: 1000, targetUid: 0xffffffff });
      await store.clearCopies(a, SRC, 'INBOX');
      expect(await store.listCopies(a, SRC, 'INBOX')).toEqual([]);
      expect(await store.listCopies(a, SRC, 'Sent')).toEqual([{ legacyUid: 7, targetUid: 3 }]);
      expect(await store.listCopies(b, SRC, 'INBOX')).toEqual([{ legacyUid: 7, targetUid: 9 }]);
      for (const bad of [
        { legacyUid: 0, targetUid: 1 },
        { legacyUid: 1, targetUid: -1 },
        { legacyUid: 2 ** 32, targetUid: 1 },
      ]) {
        await expectKind(store.recordCopies(a, SRC, 'INBOX', [bad]), 'invalid');
      }
      expect(await store.listCopies(a, SRC, 'INBOX')).toEqual([]);
      await store.saveCursor(cursor({ folder: 'Sent' }));
      await store.forget(a);
      expect(await store.listCopies(a, SRC, 'Sent')).toEqual([]);
      expect(await store.listCopies(b, SRC, 'INBOX')).toHaveLength(1);
    });

    it('forgets one account (one source when given), not the others', async () => {
      await store.saveCursor(cursor());
      await store.saveCursor(cursor({ folder: 'Sent' }));
      await store.saveCursor(cursor({ source: 'imaps://other:993' }));
      await store.saveCursor(cursor({ accountId: extra.accounts[1], mailboxId: extra.mailboxes[1][0] }));
      expect(await store.forget(extra.accounts[0], 'imaps://other:993')).toBe(1);
      expect(await store.listCursors(extra.accounts[0])).toHaveLength(2);
      expect(await store.forget(extra.accounts[0])).toBe(2);
      expect(await store.listCursors(extra.accounts[0])).toEqual([]);
      expect(await store.listCursors(extra.accounts[1])).toHaveLength(1);
    });
  });
}
