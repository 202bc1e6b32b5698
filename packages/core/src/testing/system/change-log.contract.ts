import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeLog } from '../../system/change-log.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

export function changeLogContract(name: string, subject: ContractSubject<ChangeLog>): void {
  describe(`ChangeLog contract: ${name}`, () => {
    let log: ChangeLog;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: log, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('counts from zero and strictly increases', async () => {
      expect(await log.current('c1')).toBe(0);
      const s1 = await log.record('c1', [{ item: 'a.txt', kind: 'put' }]);
      const s2 = await log.record('c1', [{ item: 'b.txt', kind: 'put' }]);
      expect(s1).toBeGreaterThan(0);
      expect(s2).toBeGreaterThan(s1);
      expect(await log.current('c1')).toBe(s2);
      expect(await log.current('c2')).toBe(0);
    });

    it('reports the latest change per item since a counter', async () => {
      const s0 = await log.current('c');
      await log.record('c', [{ item: 'a', kind: 'put' }, { item: 'b', kind: 'put' }]);
      const s1 = await log.record('c', [{ item: 'a', kind: 'delete' }]);
      const all = await log.since('c', s0);
      expect(all).not.toBe('expired');
      if (all === 'expired') return;
      expect(all.seq).toBe(s1);
      expect(all.changes.map((c) => `${c.item}:${c.kind}`)).toEqual(['b:put', 'a:delete']);
      const none = await log.since('c', s1);
      expect(none).toEqual({ seq: s1, changes: [] });
    });

    it('says expired for counters from the future, negative or pruned away', async () => {
      await log.record('c', [{ item: 'a', kind: 'put' }]);
      const s2 = await log.record('c', [{ item: 'b', kind: 'put' }]);
      const s3 = await log.record('c', [{ item: 'c', kind: 'put' }]);
      expect(await log.since('c', s3 + 100)).toBe('expired');
      expect(await log.since('c', -1)).toBe('expired');
      expect(await log.since('c', 1.5)).toBe('expired');
      await log.prune('c', s2);
      expect(await log.since('c', 0)).toBe('expired');
      const fromS2 = await log.since('c', s2);
      expect(fromS2 !== 'expired' && fromS2.changes.map((c) => c.item)).toEqual(['c']);
    });

    it('pages without splitting one counter value', async () => {
      await log.record('c', [{ item: 'a', kind: 'put' }]);
      await log.record('c', [{ item: 'b', kind: 'put' }, { item: 'c', kind: 'put' }]);
      await log.record('c', [{ item: 'd', kind: 'put' }]);
      const first = await log.since('c', 0, 2);
      if (first === 'expired') throw new Error('expired');
      expect(first.changes.map((c) => c.item)).toEqual(['a']);
      const second = await log.since('c', first.seq, 2);
      if (second === 'expired') throw new Error('expired');
      expect(second.changes.map((c) => c.item)).toEqual(['b', 'c']);
      const third = await log.since('c', second.seq, 2);
      if (third === 'expired') throw new Error('expired');
      expect(third.changes.map((c) => c.item)).toEqual(['d']);
      // A single batch larger than the page is returned whole rather than never progressing.
      await log.record('c', [{ item: 'x1', kind: 'put' }, { item: 'x2', kind: 'put' }, { item: 'x3', kind: 'put' }]);
      const big = await log.since('c', third.seq, 2);
      if (big === 'expired') throw new Error('expired');
      expect(big.changes.map((c) => c.item)).toEqual(['x1', 'x2', 'x3']);
    });

    it('never hands out the same counter twice under concurrency', async () => {
      const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => log.record('busy', [{ item: `f${i}`, kind: 'put' }])));
      expect(new Set(seqs).size).toBe(20);
      expect(await log.current('busy')).toBe(Math.max(...seqs));
      const all = await log.since('busy', 0);
      expect(all !== 'expired' && all.changes).toHaveLength(20);
    });

    it('keeps at most N deletion records per collection, and expires the counters before them', async () => {
      for (let i = 0; i < 6; i++) await log.record('busy', [{ item: `f${i}`, kind: 'put' }]);
      const before = await log.current('busy');
      for (let i = 0; i < 5; i++) await log.record('busy', [{ item: `f${i}`, kind: 'delete' }]);
      await log.record('quiet', [{ item: 'x', kind: 'delete' }]);
      expect(await log.pruneTombstones(2)).toBe(1);
      expect(await log.since('busy', before)).toBe('expired');
      const kept = await log.since('busy', before + 3);
      expect(kept !== 'expired' && kept.changes.map((c) => c.item)).toEqual(['f3', 'f4']);
      expect(await log.since('quiet', 0)).not.toBe('expired');
      expect(await log.pruneTombstones(2)).toBe(0);
    });

    it('forgets a dropped collection and validates input', async () => {
      await log.record('gone', [{ item: 'a', kind: 'put' }]);
      await log.drop('gone');
      expect(await log.current('gone')).toBe(0);
      await expectKind(log.record('', [{ item: 'a', kind: 'put' }]), 'invalid');
      await expectKind(log.record('c', [{ item: '', kind: 'put' }]), 'invalid');
      await expectKind(log.record('c', [{ item: 'x'.repeat(5000), kind: 'put' }]), 'invalid');
      await expectKind(log.record('c', [{ item: 'a', kind: 'rename' as never }]), 'invalid');
      await expectKind(log.current('x'.repeat(1000)), 'invalid');
      expect(await log.current('c')).toBe(0);
    });
  });
}
