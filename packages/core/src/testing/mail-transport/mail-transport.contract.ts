import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dkimKeyState, type DkimKeyStore } from '../../mail-transport/dkim-key-store.js';
import type { RateLimitStore } from '../../mail-transport/rate-limit-store.js';
import type { VacationStore } from '../../mail-transport/vacation-store.js';
import { expectKind } from '../contracts/expect-error.js';
import type { ContractSubject } from '../contracts/subject.js';

const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHh0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVz\n-----END PRIVATE KEY-----\n';
const PUB = 'MCowBQYDK2VwAyEAdGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleXRlc3Q=';

export function dkimKeyStoreContract(name: string, subject: ContractSubject<DkimKeyStore>): void {
  describe(`DkimKeyStore contract: ${name}`, () => {
    let store: DkimKeyStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('keeps one active key per domain, newest wins, older stay for rotation', async () => {
      expect(await store.active('sante.gouv.tg')).toBeNull();
      const base = { privateKeyPem: PEM, publicKey: PUB, algorithm: 'ed25519-sha256' as const };
      await store.add({ ...base, domain: 'Sante.Gouv.TG', selector: 's2025', createdAt: new Date('2025-01-01Z') });
      await store.add({ ...base, domain: 'sante.gouv.tg', selector: 'S2026', createdAt: new Date('2026-01-01Z') });
      await store.add({ ...base, domain: 'finances.gouv.tg', selector: 's2026' });
      const active = await store.active('SANTE.gouv.tg');
      expect(active).toMatchObject({ domain: 'sante.gouv.tg', selector: 's2026', active: true, privateKeyPem: PEM, publicKey: PUB });
      expect((await store.list('sante.gouv.tg')).map((k) => `${k.selector}:${k.active}`)).toEqual(['s2026:true', 's2025:false']);
      expect(await store.list()).toHaveLength(3);
      await store.remove('sante.gouv.tg', 's2026');
      expect(await store.active('sante.gouv.tg')).toBeNull();
      await expectKind(store.remove('sante.gouv.tg', 's2026'), 'not-found');
    });

    it('keeps a pending key beside the signing one until it is activated', async () => {
      const base = { privateKeyPem: PEM, publicKey: PUB, algorithm: 'ed25519-sha256' as const, domain: 'sante.gouv.tg' };
      await store.add({ ...base, selector: 'old', createdAt: new Date('2025-01-01Z') });
      const next = await store.add({ ...base, selector: 'new', createdAt: new Date('2026-01-01Z') }, { pending: true });
      expect(next).toMatchObject({ active: false, pending: true });
      expect((await store.active('sante.gouv.tg'))!.selector).toBe('old');
      expect((await store.list('sante.gouv.tg')).map((k) => `${k.selector}:${dkimKeyState(k)}`)).toEqual(['new:pending', 'old:signing']);
      expect(await store.activate('sante.gouv.tg', 'NEW')).toMatchObject({ selector: 'new', active: true, pending: false, privateKeyPem: PEM });
      expect((await store.active('sante.gouv.tg'))!.selector).toBe('new');
      expect((await store.list('sante.gouv.tg')).map((k) => `${k.selector}:${dkimKeyState(k)}`)).toEqual(['new:signing', 'old:retired']);
      await expectKind(store.activate('sante.gouv.tg', 'absent'), 'not-found');
      await expectKind(store.activate('autre.gouv.tg', 'new'), 'not-found');
      expect((await store.active('sante.gouv.tg'))!.selector).toBe('new');
    });

    it('refuses bad selectors, keys and duplicates', async () => {
      const base = { domain: 'sante.gouv.tg', privateKeyPem: PEM, publicKey: PUB, algorithm: 'rsa-sha256' as const };
      await expectKind(store.add({ ...base, selector: 'bad selector' }), 'invalid');
      await expectKind(store.add({ ...base, selector: 's1._domainkey' }), 'invalid');
      await expectKind(store.add({ ...base, selector: 's1', privateKeyPem: 'not a key' }), 'invalid');
      await expectKind(store.add({ ...base, selector: 's1', publicKey: 'p=abc; evil' }), 'invalid');
      await expectKind(store.add({ ...base, selector: 's1', algorithm: 'rsa-sha1' as never }), 'invalid');
      await store.add({ ...base, selector: 's1' });
      await expectKind(store.add({ ...base, selector: 's1' }), 'conflict');
    });
  });
}

/** `make` also returns two existing account ids. */
export function vacationStoreContract(name: string, subject: ContractSubject<VacationStore, { accounts: [string, string] }>): void {
  describe(`VacationStore contract: ${name}`, () => {
    let store: VacationStore;
    let accounts: [string, string];
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, accounts, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());
    const DAY = 86400_000;

    it('stores, replaces and disables settings', async () => {
      const [a] = accounts;
      expect(await store.get(a)).toBeNull();
      const saved = await store.set({
        accountId: a,
        enabled: true,
        subject: 'Absent\r\nBcc: everyone@example.org',
        body: 'Je suis absente.\r\nRetour le 12.',
        startsAt: null,
        endsAt: new Date('2026-04-12T00:00:00Z'),
        intervalMs: 7 * DAY,
      });
      expect(saved.subject).toBe('Absent Bcc: everyone@example.org');
      const got = await store.get(a);
      expect(got).toMatchObject({ enabled: true, body: 'Je suis absente.\nRetour le 12.', intervalMs: 7 * DAY, startsAt: null });
      expect(got!.endsAt!.toISOString()).toBe('2026-04-12T00:00:00.000Z');
      await store.disable(a);
      expect((await store.get(a))!.enabled).toBe(false);
      expect((await store.get(a))!.subject).toBe('Absent Bcc: everyone@example.org');
    });

    it('answers a sender once per interval, per account, even when asked concurrently', async () => {
      const [a, b] = accounts;
      const t = new Date('2026-03-01T00:00:00Z');
      const answers = await Promise.all(Array.from({ length: 5 }, () => store.shouldReply(a, 'Kofi@Example.org', t, DAY)));
      expect(answers.filter(Boolean)).toHaveLength(1);
      expect(await store.shouldReply(a, 'kofi@example.org', new Date(t.getTime() + DAY - 1), DAY)).toBe(false);
      expect(await store.shouldReply(b, 'kofi@example.org', t, DAY)).toBe(true);
      expect(await store.shouldReply(a, 'kofi@example.org', new Date(t.getTime() + DAY), DAY)).toBe(true);
      expect(await store.sweep(new Date(t.getTime() + 1))).toBe(1);
      await expectKind(store.shouldReply(a, 'x\r\n@y', t, DAY), 'invalid');
    });

    it('refuses invalid settings', async () => {
      const [a] = accounts;
      const ok = { accountId: a, enabled: true, subject: 'Absent', body: 'Away', startsAt: null, endsAt: null, intervalMs: DAY };
      await expectKind(store.set({ ...ok, subject: '' }), 'invalid');
      await expectKind(store.set({ ...ok, body: 'x'.repeat(16001) }), 'invalid');
      await expectKind(store.set({ ...ok, intervalMs: 60_000 }), 'invalid');
      await expectKind(store.set({ ...ok, startsAt: new Date('2026-02-01Z'), endsAt: new Date('2026-01-01Z') }), 'invalid');
      expect(await store.get(a)).toBeNull();
    });
  });
}

export function rateLimitStoreContract(name: string, subject: ContractSubject<RateLimitStore>): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    let store: RateLimitStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: store, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('counts within fixed windows and starts again in the next', async () => {
      const t = new Date('2026-03-01T10:00:00Z');
      expect(await store.peek('user:a', t, 60_000)).toBe(0);
      expect((await store.hit('user:a', 1, t, 60_000)).count).toBe(1);
      const r = await store.hit('user:a', 3, new Date(t.getTime() + 59_999), 60_000);
      expect(r.count).toBe(4);
      expect(r.resetAt.toISOString()).toBe('2026-03-01T10:01:00.000Z');
      expect(await store.peek('user:a', t, 60_000)).toBe(4);
      expect((await store.hit('user:a', 1, new Date(t.getTime() + 60_000), 60_000)).count).toBe(1);
      expect((await store.hit('user:b', 1, t, 60_000)).count).toBe(1);
    });

    it('adds up concurrent hits exactly', async () => {
      const t = new Date('2026-03-01T10:00:00Z');
      await Promise.all(Array.from({ length: 25 }, () => store.hit('ip:192.0.2.1', 2, t, 3600_000)));
      expect(await store.peek('ip:192.0.2.1', t, 3600_000)).toBe(50);
      await expectKind(store.hit('', 1, t, 1000), 'invalid');
      await expectKind(store.hit('k', -1, t, 1000), 'invalid');
    });
  });
}
