import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewOutboundMessage, OutboundQueue } from '../../mail-transport/outbound-queue.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const BLOB = 'a'.repeat(64);
const T0 = new Date('2026-03-01T08:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** `make` gets the clock time enqueue uses: T0 (2026-03-01T08:00:00Z). */
export function outboundQueueContract(name: string, subject: ContractSubject<OutboundQueue>): void {
  describe(`OutboundQueue contract: ${name}`, () => {
    let queue: OutboundQueue;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: queue, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    const message = (over: Partial<NewOutboundMessage> = {}): NewOutboundMessage => ({
      blobId: BLOB,
      size: 1234,
      sender: 'awa@sante.gouv.tg',
      ownsBlob: true,
      transport: 'smtp',
      recipients: [{ address: 'a@example.org' }, { address: 'b@example.org', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b@example.org' }, { address: 'c@other.example' }],
      expiresAt: at(5 * 86400_000),
      notBefore: T0,
      ...over,
    });

    it('splits a message into one job per destination domain and leases due jobs', async () => {
      const m = await queue.enqueue(message({ envId: 'env-1', ret: 'HDRS', accountId: 'acct-1' }));
      expect(m).toMatchObject({ blobId: BLOB, size: 1234, sender: 'awa@sante.gouv.tg', envId: 'env-1', ret: 'HDRS', ownsBlob: true });
      const jobs = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 10 });
      expect(jobs.map((j) => j.domain).sort()).toEqual(['example.org', 'other.example']);
      const ex = jobs.find((j) => j.domain === 'example.org')!;
      expect(ex.transport).toBe('smtp');
      expect(ex.attempts).toBe(0);
      expect(ex.message.id).toBe(m.id);
      expect(ex.recipients.map((r) => r.address)).toEqual(['a@example.org', 'b@example.org']);
      expect(ex.recipients[1]).toMatchObject({ notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b@example.org', status: 'pending' });
      expect(ex.leaseUntil.getTime()).toBe(T0.getTime() + 60_000);
      // Leased: nobody else gets them until the lease ends.
      expect(await queue.claim('w2', { now: at(1000), leaseMs: 60_000, limit: 10 })).toEqual([]);
      expect((await queue.summary(at(1000))).jobs).toBe(2);
    });

    it('does not hand out jobs before they are due', async () => {
      await queue.enqueue(message({ notBefore: at(10_000) }));
      expect(await queue.claim('w1', { now: at(9_999), leaseMs: 60_000, limit: 10 })).toEqual([]);
      expect((await queue.nextDue())?.getTime()).toBe(at(10_000).getTime());
      expect(await queue.claim('w1', { now: at(10_000), leaseMs: 60_000, limit: 10 })).toHaveLength(2);
    });

    it('never gives one job to two concurrent claimers', async () => {
      for (let i = 0; i < 10; i++) await queue.enqueue(message({ recipients: [{ address: `r${i}@d${i}.example` }] }));
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.claim(`w${i}`, { now: T0, leaseMs: 60_000, limit: 3 })));
      const ids = results.flat().map((j) => j.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(10);
    });

    it('gives a crashed worker\'s job to another once the lease ends, and fences the old lease', async () => {
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }] }));
      const [first] = await queue.claim('w1', { now: T0, leaseMs: 30_000, limit: 1 });
      expect(await queue.claim('w2', { now: at(29_999), leaseMs: 30_000, limit: 1 })).toEqual([]);
      expect((await queue.nextDue())?.getTime()).toBe(at(30_000).getTime());
      const [second] = await queue.claim('w2', { now: at(30_000), leaseMs: 30_000, limit: 1 });
      expect(second!.id).toBe(first!.id);
      expect(second!.lease).not.toBe(first!.lease);
      const stale = await queue.complete(first!, { outcomes: [{ address: 'a@example.org', status: 'delivered' }] }, at(31_000));
      expect(stale.applied).toBe(false);
      const fresh = await queue.complete(second!, { outcomes: [{ address: 'a@example.org', status: 'delivered', code: 250 }] }, at(31_000));
      expect(fresh).toEqual({ applied: true, messageDone: true, releasedBlobId: BLOB });
      expect((await queue.summary(at(31_000))).messages).toBe(0);
    });

    it('keeps pending recipients for the retry and forgets final ones', async () => {
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }, { address: 'b@example.org' }, { address: 'c@example.org' }] }));
      const [job] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 1 });
      const r = await queue.complete(
        job!,
        {
          outcomes: [
            { address: 'a@example.org', status: 'delivered', code: 250, remoteMta: 'mx.example.org' },
            { address: 'b@example.org', status: 'failed', code: 550, enhanced: '5.1.1', diagnostic: 'no such user\r\nX-Injected: yes' },
            { address: 'c@example.org', status: 'pending', code: 451, enhanced: '4.3.0', diagnostic: 'try later' },
          ],
          retryAt: at(300_000),
          error: '451 4.3.0 try later',
        },
        at(1000),
      );
      expect(r).toEqual({ applied: true, messageDone: false, releasedBlobId: null });
      expect(await queue.claim('w1', { now: at(299_999), leaseMs: 60_000, limit: 1 })).toEqual([]);
      const [again] = await queue.claim('w1', { now: at(300_000), leaseMs: 60_000, limit: 1 });
      expect(again!.attempts).toBe(1);
      expect(again!.lastError).toBe('451 4.3.0 try later');
      expect(again!.recipients.map((x) => x.address)).toEqual(['c@example.org']);
      expect(again!.recipients[0]).toMatchObject({ code: 451, enhanced: '4.3.0', diagnostic: 'try later' });
      const done = await queue.complete(again!, { outcomes: [{ address: 'c@example.org', status: 'failed', code: 550 }] }, at(301_000));
      expect(done.messageDone).toBe(true);
    });

    it('finishes a message only with its last job, and keeps blobs it does not own', async () => {
      await queue.enqueue(message({ ownsBlob: false }));
      const jobs = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 10 });
      const outcome = (j: (typeof jobs)[number]) => ({ outcomes: j.recipients.map((r) => ({ address: r.address, status: 'delivered' as const })) });
      expect((await queue.complete(jobs[0]!, outcome(jobs[0]!), at(1))).messageDone).toBe(false);
      expect(await queue.complete(jobs[1]!, outcome(jobs[1]!), at(2))).toEqual({ applied: true, messageDone: true, releasedBlobId: null });
      expect(await queue.nextDue()).toBeNull();
    });

    it('tells the blob collector which blobs queued messages hold, until they are done', async () => {
      const other = 'b'.repeat(64);
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }] }));
      expect(await queue.referencedBlobs([BLOB, other, BLOB])).toEqual(new Set([BLOB]));
      expect(await queue.referencedBlobs([])).toEqual(new Set());
      const [job] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 10 });
      await queue.complete(job!, { outcomes: [{ address: 'a@example.org', status: 'delivered' }] }, at(1));
      expect(await queue.referencedBlobs([BLOB])).toEqual(new Set());
    });

    it('never releases a blob that a completion says is now kept elsewhere', async () => {
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }, { address: 'b@other.example' }] }));
      const [first, second] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 2 });
      const all = (j: typeof first) => ({ outcomes: j!.recipients.map((r) => ({ address: r.address, status: 'delivered' as const })) });
      await queue.complete(first!, { ...all(first), keepBlob: true }, at(1));
      expect(await queue.complete(second!, all(second), at(2))).toEqual({ applied: true, messageDone: true, releasedBlobId: null });
    });

    it('queues a bounce in the same step as the failure it reports', async () => {
      await queue.enqueue(message({ recipients: [{ address: 'x@example.org' }] }));
      const [job] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 1 });
      const dsn: NewOutboundMessage = {
        blobId: 'b'.repeat(64),
        size: 99,
        sender: '',
        ownsBlob: true,
        transport: 'smtp',
        recipients: [{ address: 'awa@sante.gouv.tg' }],
        expiresAt: at(86400_000),
        notBefore: T0,
      };
      await queue.complete(job!, { outcomes: [{ address: 'x@example.org', status: 'failed', code: 550 }], enqueue: [dsn] }, at(10));
      const [bounce] = await queue.claim('w1', { now: at(10), leaseMs: 60_000, limit: 5 });
      expect(bounce!.message.sender).toBe('');
      expect(bounce!.domain).toBe('sante.gouv.tg');
    });

    it('releases a lease on shutdown and flushes deferred jobs', async () => {
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }] }));
      const [job] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 1 });
      await queue.release(job!, at(600_000));
      expect(await queue.claim('w2', { now: at(1000), leaseMs: 60_000, limit: 1 })).toEqual([]);
      expect(await queue.flush(at(1000))).toBe(1);
      const [again] = await queue.claim('w2', { now: at(1000), leaseMs: 60_000, limit: 1 });
      expect(again!.id).toBe(job!.id);
      expect(again!.attempts).toBe(0);
    });

    it('queues local deliveries as one job and lists jobs by account', async () => {
      await queue.enqueue(
        message({
          transport: 'local',
          accountId: 'acct-9',
          ownsBlob: false,
          recipients: [
            { address: 'awa@sante.gouv.tg', accountId: 'acct-1' },
            { address: 'kofi@finances.gouv.tg', accountId: 'acct-2' },
          ],
        }),
      );
      await queue.enqueue(message());
      const mine = await queue.list({ accountId: 'acct-9' });
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ transport: 'local', domain: '' });
      expect(mine[0]!.recipients.map((r) => r.accountId)).toEqual(['acct-1', 'acct-2']);
      expect(await queue.list()).toHaveLength(3);
      const s = await queue.summary(T0);
      expect(s).toMatchObject({ messages: 2, jobs: 3, dueNow: 3 });
      expect(s.oldest?.getTime()).toBe(T0.getTime());
    });

    it('keeps the RFC 8689 TLS policy with the message (REQUIRETLS, TLS-Required: No, none)', async () => {
      await queue.enqueue(message({ tlsPolicy: 'requiretls', recipients: [{ address: 'a@example.org' }] }));
      await queue.enqueue(message({ tlsPolicy: 'tls-required-no', recipients: [{ address: 'b@example.org' }] }));
      await queue.enqueue(message({ recipients: [{ address: 'c@example.org' }] }));
      const jobs = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 10 });
      const policy = (address: string) => jobs.find((j) => j.recipients[0]!.address === address)!.message.tlsPolicy;
      expect([policy('a@example.org'), policy('b@example.org'), policy('c@example.org')]).toEqual(['requiretls', 'tls-required-no', null]);
      expect((await queue.list()).map((j) => j.message.tlsPolicy).sort()).toEqual([null, 'requiretls', 'tls-required-no'].sort());
    });

    it('refuses malformed messages and outcomes', async () => {
      await expectKind(queue.enqueue(message({ blobId: 'nope' })), 'invalid');
      await expectKind(queue.enqueue(message({ recipients: [] })), 'invalid');
      await expectKind(queue.enqueue(message({ sender: 'evil\r\nRCPT TO:<x@y>' })), 'invalid');
      await expectKind(queue.enqueue(message({ recipients: [{ address: 'a@b.example\r\nDATA' }] })), 'invalid');
      await expectKind(queue.enqueue(message({ transport: 'local', recipients: [{ address: 'a@b.example' }] })), 'invalid');
      await expectKind(queue.enqueue(message({ recipients: [{ address: 'a@b.example', notify: ['ALWAYS' as never] }] })), 'invalid');
      await expectKind(queue.enqueue(message({ tlsPolicy: 'REQUIRETLS; DROP' as never })), 'invalid');
      expect((await queue.summary(T0)).messages).toBe(0);
      await queue.enqueue(message({ recipients: [{ address: 'a@example.org' }] }));
      const [job] = await queue.claim('w1', { now: T0, leaseMs: 60_000, limit: 1 });
      await expectKind(queue.complete(job!, { outcomes: [{ address: 'a@example.org', status: 'pending' }] }, T0), 'invalid');
    });
  });
}
