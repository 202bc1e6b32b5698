import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../system/audit-log.js';
import type { ThrottleStore } from '../../system/throttle-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

export function auditLogContract(name: string, subject: ContractSubject<AuditLog>): void {
  describe(`AuditLog contract: ${name}`, () => {
    let log: AuditLog;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: log, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('records events and lists them newest first, filtered', async () => {
      const base = { ip: '192.0.2.1', protocol: 'imap', target: null, detail: null };
      await log.record({ ...base, type: 'auth.failure', actor: 'awa@sante.gouv.tg', at: new Date('2026-01-01T00:00:01Z') });
      await log.record({ ...base, type: 'auth.success', actor: 'awa@sante.gouv.tg', at: new Date('2026-01-01T00:00:02Z') });
      await log.record({ ...base, type: 'auth.failure', actor: 'kofi@sante.gouv.tg', at: new Date('2026-01-01T00:00:03Z') });
      expect((await log.list()).map((e) => `${e.type} ${e.actor}`)).toEqual([
        'auth.failure kofi@sante.gouv.tg',
        'auth.success awa@sante.gouv.tg',
        'auth.failure awa@sante.gouv.tg',
      ]);
      expect(await log.list({ type: 'auth.failure', actor: 'awa@sante.gouv.tg' })).toHaveLength(1);
      expect(await log.list({ since: new Date('2026-01-01T00:00:02Z') })).toHaveLength(2);
      expect(await log.list({ limit: 1 })).toHaveLength(1);
      const [latest] = await log.list({ limit: 1 });
      expect(latest).toMatchObject({ ip: '192.0.2.1', protocol: 'imap', target: null, detail: null });
      expect(latest!.at.toISOString()).toBe('2026-01-01T00:00:03.000Z');
    });

    it('bounds and defangs attacker-controlled text, refuses unknown types', async () => {
      await log.record({ type: 'auth.failure', actor: `evil\r\nFAKE LOG LINE${'x'.repeat(5000)}`, ip: null, protocol: 'smtp', target: null, detail: null });
      const [e] = await log.list();
      expect(e!.actor!.length).toBeLessThanOrEqual(320);
      expect(e!.actor).not.toMatch(/[\r\n]/);
      await expectKind(log.record({ type: 'made.up' as never, actor: null, ip: null, protocol: null, target: null, detail: null }), 'invalid');
    });
  });
}

export function throttleStoreContract(name: string, subject: ContractSubject<ThrottleStore>): void {
  describe(`ThrottleStore contract: ${name}`, () => {
    let store: ThrottleStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('counts failures within a window and restarts after it', async () => {
      const t0 = new Date('2026-01-01T00:00:00Z');
      const at = (ms: number) => new Date(t0.getTime() + ms);
      expect(await store.peek('acct:a', t0, 1000)).toBeNull();
      expect((await store.recordFailure('acct:a', t0, 1000)).failures).toBe(1);
      expect((await store.recordFailure('acct:a', at(500), 1000)).failures).toBe(2);
      const w = await store.recordFailure('acct:a', at(1200), 1000);
      expect(w.failures).toBe(3); // 700 ms since the last failure: same window
      expect(w.firstFailureAt.getTime()).toBe(t0.getTime());
      expect((await store.peek('acct:a', at(1300), 1000))?.failures).toBe(3);
      expect(await store.peek('acct:a', at(5000), 1000)).toBeNull();
      const fresh = await store.recordFailure('acct:a', at(5000), 1000);
      expect(fresh.failures).toBe(1);
      expect(fresh.firstFailureAt.getTime()).toBe(at(5000).getTime());
      await store.reset('acct:a');
      expect(await store.peek('acct:a', at(5000), 1000)).toBeNull();
    });

    it('counts every one of many concurrent failures', async () => {
      const now = new Date();
      await Promise.all(Array.from({ length: 25 }, () => store.recordFailure('ip:192.0.2.7', now, 60_000)));
      expect((await store.peek('ip:192.0.2.7', now, 60_000))?.failures).toBe(25);
      await expectKind(store.recordFailure('', now, 1), 'invalid');
      await expectKind(store.recordFailure('k'.repeat(1000), now, 1), 'invalid');
    });

    it('remembers devices that signed in, for as long as asked, apart from the failure counters', async () => {
      const t0 = new Date('2026-01-01T00:00:00Z');
      const at = (ms: number) => new Date(t0.getTime() + ms);
      const key = 'dev:192.0.2.1|awa@sante.gouv.tg';
      expect(await store.isKnownDevice(key, t0, 1000)).toBe(false);
      await store.rememberDevice(key, t0);
      expect(await store.isKnownDevice(key, at(1000), 1000)).toBe(true);
      expect(await store.isKnownDevice(key, at(1001), 1000)).toBe(false);
      // Another address, another account: not known.
      expect(await store.isKnownDevice('dev:192.0.2.2|awa@sante.gouv.tg', t0, 1000)).toBe(false);
      expect(await store.isKnownDevice('dev:192.0.2.1|kofi@sante.gouv.tg', t0, 1000)).toBe(false);
      // A later success extends it; a late write of an older one (another node) does not shorten it.
      await store.rememberDevice(key, at(5000));
      await store.rememberDevice(key, at(2000));
      expect(await store.isKnownDevice(key, at(5900), 1000)).toBe(true);
      // Failure counters are another matter: resetting one forgets no device.
      await store.recordFailure(key, at(5000), 1000);
      await store.reset(key);
      expect(await store.isKnownDevice(key, at(5900), 1000)).toBe(true);
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.rememberDevice(`dev:198.51.100.${i}|awa@sante.gouv.tg`, t0)));
      expect(await store.isKnownDevice('dev:198.51.100.9|awa@sante.gouv.tg', t0, 1)).toBe(true);
      await expectKind(store.rememberDevice('', t0), 'invalid');
      await expectKind(store.isKnownDevice('k'.repeat(1000), t0, 1), 'invalid');
    });
  });
}
