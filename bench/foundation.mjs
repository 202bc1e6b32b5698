#!/usr/bin/env node
// Foundation benchmark: bulk provisioning of 70,000 generated staff on SQLite and on PostgreSQL
// (rows/s, through the real `palabre user import` command), and logins/s with the configured argon2id
// parameters (OWASP's minimum: 19 MiB, 2 iterations, 1 lane), cold and from the verification cache.
// Prints figures; asserts nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 70_000);
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'examples/server/bin/palabre.js');
const work = mkdtempSync(join(tmpdir(), 'palabre-bench-'));
const csv = join(work, 'staff.csv');

const lines = ['email,name,department,groups'];
const ministries = ['sante', 'finances', 'education', 'justice', 'interieur', 'agriculture', 'transports'];
for (let i = 0; i < ROWS; i++) {
  const m = ministries[i % ministries.length];
  lines.push(`agent${String(i).padStart(6, '0')}@${m}.gouv.tg,Agent ${i},Direction ${i % 57},${m}-staff`);
}
writeFileSync(csv, `${lines.join('\n')}\n`);

function palabre(args, env) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0 && !(r.status === 1 && /refused/.test(r.stdout))) throw new Error(`palabre ${args.join(' ')} failed: ${r.stderr.slice(-500)}`);
  return { seconds, out: r.stdout };
}

async function importOn(label, env, dataDir) {
  for (const m of ministries) palabre(['--data', dataDir, 'domain', 'add', `${m}.gouv.tg`], env);
  const first = palabre(['--data', dataDir, 'user', 'import', csv, '--batch', '1000'], env);
  const again = palabre(['--data', dataDir, 'user', 'import', csv, '--batch', '1000'], env);
  console.log(
    `import ${label.padEnd(10)} ${ROWS} rows: first run ${first.seconds.toFixed(1)} s = ${Math.round(ROWS / first.seconds)} rows/s; ` +
      `re-run (all unchanged) ${again.seconds.toFixed(1)} s = ${Math.round(ROWS / again.seconds)} rows/s`,
  );
}

console.log(`# foundation bench on ${process.platform}/${process.arch}, node ${process.version}`);
await importOn('SQLite', { DATABASE_URL: '' }, join(work, 'sqlite'));

const admin = process.env.PALABRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 });
let pgUrl = null;
try {
  await client.connect();
  const name = `palabre_bench_${Date.now()}`;
  await client.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  pgUrl = url.toString();
  await importOn('PostgreSQL', { DATABASE_URL: pgUrl }, join(work, 'pg'));
  await client.query(`DROP DATABASE ${name} WITH (FORCE)`);
} catch (error) {
  console.log(`import PostgreSQL skipped: ${error.message}`);
} finally {
  await client.end().catch(() => undefined);
}

// Logins: the real authenticator over SQLite.
const { createDataSource, createCoreStores } = await import(join(root, 'packages/core/dist/storage/index.js'));
const { createAuthenticator, hashPassword, DEFAULT_ARGON2 } = await import(join(root, 'packages/auth/dist/index.js'));
const db = await createDataSource({ sqlite: { file: join(work, 'logins.sqlite') } });
const stores = createCoreStores(db);
await stores.directory.createDomain({ name: 'sante.gouv.tg' });
const password = 'Un mot de passe de démonstration';
await stores.directory.createAccount({ address: 'awa@sante.gouv.tg', passwordHash: await hashPassword(password, DEFAULT_ARGON2) });
const ctx = { protocol: 'imap', ip: '192.0.2.1', secure: true };
async function logins(label, auth, count, concurrency) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const r = await auth.verifyPassword('awa@sante.gouv.tg', password, ctx);
        if (!r.ok) throw new Error('login failed');
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`logins ${label.padEnd(34)} ${count} in ${seconds.toFixed(2)} s = ${Math.round(count / seconds)} logins/s`);
}
const p = DEFAULT_ARGON2;
await logins(`argon2id m=${p.memoryKiB}KiB t=${p.iterations} p=${p.parallelism}`, createAuthenticator({ ...stores, cacheTtlMs: 0 }), 200, 4);
await logins('verification cache (repeat logins)', createAuthenticator({ ...stores }), 5000, 4);
await db.close();
rmSync(work, { recursive: true, force: true });
