// A real MX process for the kill -9 tests: SQLite + file blobs + the SQL mailbox store, built packages.
// Env: DATA (folder), CRASH = '' | 'before-commit' (die after the blob is written, before the mailbox
// rows commit) | 'after-commit' (die after the commit, before the 250 goes out: a lost 250).
import { join } from 'node:path';
import { createCoreStores, createDataSource, createFsBlobStore, SqlMailStore } from '@palabre/core/storage';
import { createSmtpServer } from '@palabre/mail';

const data = process.env.DATA;
const crash = process.env.CRASH ?? '';
const db = await createDataSource({ sqlite: { file: join(data, 'palabre.sqlite') } });
const stores = createCoreStores(db);
const blobs = createFsBlobStore(join(data, 'blobs'));
if (!(await stores.directory.findDomain('sante.gouv.tg'))) {
  await stores.directory.createDomain({ name: 'sante.gouv.tg' });
  await stores.directory.createAccount({ address: 'awa@sante.gouv.tg' });
}
const store = new SqlMailStore(db, { blobs, usage: stores.usage });
const delivery = {
  async deliver(message, targets) {
    if (crash === 'before-commit') process.kill(process.pid, 'SIGKILL');
    const result = await store.deliver(message, targets);
    if (crash === 'after-commit') process.kill(process.pid, 'SIGKILL');
    return result;
  },
};
const mx = createSmtpServer({
  role: 'mx',
  hostname: 'mail.sante.gouv.tg',
  tls: null,
  directory: stores.directory,
  blobs,
  delivery,
  authenticator: { verifyPassword: async () => ({ ok: false, reason: 'invalid-credentials' }), verifyBearer: async () => ({ ok: false, reason: 'invalid-credentials' }) },
  dns: async (name, type) => {
    throw Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' });
  },
  spoolDir: join(data, 'spool'),
});
const port = await mx.listen(Number(process.env.PORT ?? 0));
process.stdout.write(`READY ${port}\n`);
