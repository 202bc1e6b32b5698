#!/usr/bin/env node
// A stand-alone DAV server for tests, litmus and the benchmark until `palabre serve` mounts the drive:
//   node packages/webdav/test/serve.mjs --data DIR [--port 0] [--postgres URL] [--user addr:password]...
// Prints one line `listening http://127.0.0.1:PORT/dav/files/<first user>/` when ready. Loopback only.
// Uses the built packages (npm install / npm test build them) and core's test authenticator.
// --workers N runs N processes on the one port (node:cluster): they share the database, locks included.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCoreStores, createDataSource, createFsBlobStore, sqliteFileIn } from '@palabre/core/storage';
import { testAuthenticator, testHttpAuthenticator } from '@palabre/core/testing';
import { collectDriveGarbage, createDavHandler, drivePlugin, principalsPlugin } from '@palabre/webdav';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    port: { type: 'string', default: '0' },
    postgres: { type: 'string' },
    user: { type: 'string', multiple: true, default: ['alice@ms.gouv.test:alice-pass', 'bob@ms.gouv.test:bob-pass'] },
    quota: { type: 'string' },
    group: { type: 'string', multiple: true, default: [] },
    log: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    'no-verify': { type: 'boolean', default: false },
  },
});
const workers = Number(values.workers);
const primary = workers <= 1 || cluster.isPrimary;
let port = Number(values.port);
if (workers > 1 && cluster.isPrimary && port === 0) {
  port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = probe.address().port;
      probe.close(() => resolve(p));
    });
  });
}
if (!values.data) throw new Error('--data DIR is required');
const where = values.postgres ? { postgres: { url: values.postgres } } : { sqlite: { file: sqliteFileIn(values.data) } };
const db = await createDataSource({ ...where, migrate: primary });
const stores = createCoreStores(db);
const passwords = {};
for (const spec of primary ? values.user : []) {
  const [address, password] = spec.split(/:(.*)/s);
  const domain = address.split('@')[1];
  if (!(await stores.directory.findDomain(domain))) await stores.directory.createDomain({ name: domain });
  if (!(await stores.directory.findAccount(address))) {
    await stores.directory.createAccount({ address, displayName: address.split('@')[0], quotaBytes: values.quota ? Number(values.quota) : null });
  }
}
for (const spec of values.user) {
  const [address, password] = spec.split(/:(.*)/s);
  passwords[address] = password;
}
// --group name:member1,member2:read|write creates a group folder.
for (const spec of primary ? values.group : []) {
  const [name, members, access] = spec.split(':');
  const domain = values.user[0].split('@')[1].split(':')[0];
  let group = await stores.directory.findGroup(name);
  if (!group) group = await stores.directory.createGroup({ name, domain });
  for (const m of members.split(',').filter(Boolean)) {
    const account = await stores.directory.findAccount(m);
    if (account) await stores.directory.addGroupMember(group.id, { accountId: account.id });
  }
  let space = await stores.drive.findSpace(name);
  if (!space) space = await stores.drive.createGroupSpace({ name, groupId: group.id });
  await stores.drive.setGrants(space.rootId, [{ principal: { kind: 'group', id: group.id }, access: access === 'read' ? 'read' : 'write' }]);
}
const blobs = createFsBlobStore(join(values.data, 'drive-blobs'));
const gc = primary ? await collectDriveGarbage({ store: stores.drive, blobs, graceMs: 0 }) : null;
if (workers > 1 && cluster.isPrimary) {
  await db.close();
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork({ PALABRE_TEST_PORT: String(port) }).on('listening', () => {
      if (++ready === workers) {
        process.stdout.write(`gc ${JSON.stringify(gc)}\n`);
        process.stdout.write(`listening http://127.0.0.1:${port}/dav/files/${values.user[0].split(':')[0]}/\n`);
      }
    });
  }
  const stopAll = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
} else {
const logger = values.log
  ? { debug() {}, info: (f, e) => process.stderr.write(`${e} ${JSON.stringify(f)}\n`), warn: (f, e) => process.stderr.write(`${e} ${JSON.stringify(f)}\n`), error: (f, e) => process.stderr.write(`${e} ${JSON.stringify(f)}\n`), child() { return this; } }
  : undefined;
const handler = createDavHandler({
  basePath: '/dav',
  authenticator: testHttpAuthenticator(testAuthenticator(stores.directory, passwords)),
  locks: stores.locks,
  serverRoot: true,
  logger,
  plugins: [
    principalsPlugin({ directory: stores.directory }),
    drivePlugin({ store: stores.drive, blobs, directory: stores.directory, verifyDownloads: !values['no-verify'] }),
  ],
});
const server = createServer({ keepAliveTimeout: 30_000 }, handler);
server.listen(Number(process.env.PALABRE_TEST_PORT ?? values.port), '127.0.0.1', () => {
  if (workers > 1) return;
  const first = values.user[0].split(':')[0];
  process.stdout.write(`gc ${JSON.stringify(gc)}\n`);
  process.stdout.write(`listening http://127.0.0.1:${server.address().port}/dav/files/${first}/\n`);
});
const stop = () => {
  server.close(() => db.close().then(() => process.exit(0)));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
}
