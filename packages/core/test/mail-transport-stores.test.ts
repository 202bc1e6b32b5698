import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MemoryDirectoryStore,
  MemoryDkimKeyStore,
  MemoryOutboundQueue,
  MemoryRateLimitStore,
  MemoryVacationStore,
  dkimKeyStoreContract,
  fixedClock,
  outboundQueueContract,
  rateLimitStoreContract,
  vacationStoreContract,
} from '../src/testing/index.js';
import { SqlDirectoryStore, SqlDkimKeyStore, SqlOutboundQueue, SqlRateLimitStore, SqlVacationStore, createDataSource } from '../src/storage/index.js';
import { createTestDatabase } from '../src/testing/postgres.js';
import { createSecretBox, type DirectoryStore } from '../src/index.js';
import { backends } from './harness.js';

const T0 = new Date('2026-03-01T08:00:00Z');
const done = async () => undefined;

async function twoAccounts(directory: DirectoryStore): Promise<[string, string]> {
  await directory.createDomain({ name: 'sante.gouv.tg' });
  const a = await directory.createAccount({ address: 'awa@sante.gouv.tg' });
  const b = await directory.createAccount({ address: 'kofi@sante.gouv.tg' });
  return [a.id, b.id];
}

outboundQueueContract('memory', { make: async () => ({ subject: new MemoryOutboundQueue(fixedClock(T0)), cleanup: done }) });
dkimKeyStoreContract('memory', { make: async () => ({ subject: new MemoryDkimKeyStore(), cleanup: done }) });
vacationStoreContract('memory', {
  make: async () => ({ subject: new MemoryVacationStore(), accounts: await twoAccounts(new MemoryDirectoryStore()), cleanup: done }),
});
rateLimitStoreContract('memory', { make: async () => ({ subject: new MemoryRateLimitStore(), cleanup: done }) });

for (const backend of backends) {
  describe(backend.name, () => {
    outboundQueueContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlOutboundQueue(db, fixedClock(T0)), cleanup };
      },
    });
    dkimKeyStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlDkimKeyStore(db), cleanup };
      },
    });
    dkimKeyStoreContract(`${backend.name}, sealed`, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlDkimKeyStore(db, createSecretBox(randomBytes(32))), cleanup };
      },
    });

    it('seals DKIM private keys at rest: the database holds no usable key, and only the right key file opens it', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const kek = randomBytes(32);
        const box = createSecretBox(kek);
        const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        const legacy = new SqlDkimKeyStore(db);
        await legacy.add({ domain: 'old.gouv.tg', selector: 's1', algorithm: 'ed25519-sha256', privateKeyPem: pem, publicKey: 'A'.repeat(44) });
        const sealed = new SqlDkimKeyStore(db, box);
        await sealed.add({ domain: 'sante.gouv.tg', selector: 's1', algorithm: 'ed25519-sha256', privateKeyPem: pem, publicKey: 'A'.repeat(44) });
        const raw = async () => (await db.run((m) => m.query('SELECT domain, private_key FROM dkim_keys ORDER BY domain'), 'test')) as { domain: string; private_key: string }[];
        const rows = await raw();
        expect(rows.find((r) => r.domain === 'sante.gouv.tg')!.private_key).toMatch(/^sealed:v1:/);
        expect(rows.find((r) => r.domain === 'sante.gouv.tg')!.private_key).not.toContain('PRIVATE KEY');
        // The store with the key reads both; keys written before the key file still work, then get sealed.
        expect((await sealed.active('sante.gouv.tg'))!.privateKeyPem).toBe(pem);
        expect((await sealed.active('old.gouv.tg'))!.privateKeyPem).toBe(pem);
        expect(await sealed.sealing()).toEqual({ clear: 1, otherKey: 0 });
        expect(await sealed.sealAll()).toBe(1);
        expect(await sealed.sealing()).toEqual({ clear: 0, otherKey: 0 });
        expect((await raw()).every((r) => r.private_key.startsWith('sealed:v1:'))).toBe(true);
        expect((await sealed.active('old.gouv.tg'))!.privateKeyPem).toBe(pem);
        // Without the key, or with another one, nothing opens (and nothing is guessed).
        await expect(legacy.active('sante.gouv.tg')).rejects.toMatchObject({ kind: 'unavailable' });
        await expect(new SqlDkimKeyStore(db, createSecretBox(randomBytes(32))).active('sante.gouv.tg')).rejects.toMatchObject({ kind: 'unavailable' });
        // A sealed key copied onto another domain's row does not open there.
        const sante = (await raw()).find((r) => r.domain === 'sante.gouv.tg')!.private_key;
        await db.run((m) => m.query(`UPDATE dkim_keys SET private_key = ${backend.name === 'postgres' ? '$1' : '?'} WHERE domain = 'old.gouv.tg'`, [sante]), 'test');
        await expect(sealed.active('old.gouv.tg')).rejects.toMatchObject({ kind: 'unavailable' });
        // A key file being replaced: the old key only opens; sealAll moves each key under the new one,
        // in one transaction that a key nobody can open leaves untouched.
        await db.run((m) => m.query(`DELETE FROM dkim_keys WHERE domain = 'old.gouv.tg'`), 'test');
        const next = createSecretBox(randomBytes(32), [kek]);
        const rotated = new SqlDkimKeyStore(db, next);
        expect(await rotated.sealing()).toEqual({ clear: 0, otherKey: 1 });
        expect((await rotated.active('sante.gouv.tg'))!.privateKeyPem).toBe(pem);
        expect(await rotated.sealAll()).toBe(1);
        expect((await raw())[0]!.private_key).toMatch(new RegExp(`^sealed:v1:${next.keyId}:`));
        expect(await rotated.sealing()).toEqual({ clear: 0, otherKey: 0 });
        await expect(new SqlDkimKeyStore(db, createSecretBox(randomBytes(32))).sealAll()).rejects.toMatchObject({ kind: 'unavailable' });
        expect((await raw())[0]!.private_key).toMatch(new RegExp(`^sealed:v1:${next.keyId}:`));
      } finally {
        await cleanup();
      }
    });
    vacationStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlVacationStore(db), accounts: await twoAccounts(new SqlDirectoryStore(db)), cleanup };
      },
    });
    rateLimitStoreContract(backend.name, {
      make: async () => {
        const { db, cleanup } = await backend.open();
        return { subject: new SqlRateLimitStore(db), cleanup };
      },
    });
  });
}

// Two nodes = two connection pools on one PostgreSQL database, each with its own worker loop.
describe.runIf(backends.some((b) => b.name === 'postgres'))('outbound queue shared by two nodes (PostgreSQL)', () => {
  it('hands every job to exactly one worker, however the claims interleave', async () => {
    const tdb = await createTestDatabase();
    const nodeA = await createDataSource({ postgres: { url: tdb.url, poolSize: 4 } });
    const nodeB = await createDataSource({ postgres: { url: tdb.url, poolSize: 4 } });
    try {
      const qa = new SqlOutboundQueue(nodeA, fixedClock(T0));
      const qb = new SqlOutboundQueue(nodeB, fixedClock(T0));
      const total = 120;
      for (let i = 0; i < total; i++) {
        await (i % 2 ? qa : qb).enqueue({
          blobId: randomUUID().replace(/-/g, '').padEnd(64, '0'),
          size: 10,
          sender: 'awa@sante.gouv.tg',
          ownsBlob: true,
          transport: 'smtp',
          recipients: [{ address: `r${i}@d${i}.example` }],
          expiresAt: new Date(T0.getTime() + 86400_000),
          notBefore: T0,
        });
      }
      const seen = new Map<string, string>();
      const worker = async (name: string, q: SqlOutboundQueue) => {
        for (;;) {
          const jobs = await q.claim(name, { now: T0, leaseMs: 600_000, limit: 4 });
          if (jobs.length === 0) return;
          for (const job of jobs) {
            expect(seen.has(job.id), `${job.id} given to ${seen.get(job.id)} and ${name}`).toBe(false);
            seen.set(job.id, name);
            const r = await q.complete(job, { outcomes: job.recipients.map((x) => ({ address: x.address, status: 'delivered' as const })) }, T0);
            expect(r.applied).toBe(true);
          }
        }
      };
      await Promise.all([worker('a1', qa), worker('a2', qa), worker('b1', qb), worker('b2', qb)]);
      expect(seen.size).toBe(total);
      const perNode = [...seen.values()].reduce<Record<string, number>>((acc, w) => ({ ...acc, [w[0]!]: (acc[w[0]!] ?? 0) + 1 }), {});
      expect(perNode.a! + perNode.b!).toBe(total);
      expect((await qa.summary(T0)).messages).toBe(0);
    } finally {
      await nodeA.close();
      await nodeB.close();
      await tdb.drop();
    }
  });
});
