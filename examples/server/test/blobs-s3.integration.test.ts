import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3BlobStore } from '@palabre/blob-s3';
import { skipWithout, startSwift, SWIFT_PROGRAMS, type Swift } from '@palabre/core/testing';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { capture, freePort, makeSite, smtp, spawnServe, stopServe, waitForLine, type Site } from './helpers.js';

/**
 * Issue 15 §0/§1 through `palabre serve` as an operator configures it (`blobs.kind: "s3"`), on a real
 * OpenStack Swift with s3api: a message delivered over SMTP and a file PUT over WebDAV land in the
 * bucket (nothing in the data folder) and come back byte for byte over IMAP and WebDAV.
 */
const USER = 'agent@finances.gouv.test';
const PASS = 'Une phrase de passe assez longue';
const BUCKET = 'palabre-serve';

/** Every file under a folder (none if it is not there). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('palabre config: blobs (hostile)', () => {
  let site: Site;
  beforeAll(async () => {
    site = await makeSite('sqlite');
  });
  afterAll(() => site?.cleanup());

  const withBlobs = async (blobs: unknown) => {
    await writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ blobs }));
    return site.run('doctor', '--no-dns');
  };
  const s3 = {
    endpoint: 'http://127.0.0.1:9',
    bucket: 'palabre',
    region: 'us-east-1',
    accessKeyId: 'palabre:tester',
    secretAccessKey: 'x',
  };

  it.each([
    ['a bucket name with a path', { kind: 's3', s3: { ...s3, bucket: '../other' } }, /blobs\.s3\.bucket: a bucket name has only lower-case/],
    ['an upper-case bucket name', { kind: 's3', s3: { ...s3, bucket: 'Palabre' } }, /blobs\.s3\.bucket/],
    ['an IP address as bucket name', { kind: 's3', s3: { ...s3, bucket: '10.0.0.1' } }, /blobs\.s3\.bucket: a bucket name is not an IP address/],
    ['credentials in the endpoint', { kind: 's3', s3: { ...s3, endpoint: 'https://key:secret@s3.example' } }, /blobs\.s3\.endpoint: no credentials/],
    [
      'an endpoint with a path and query',
      { kind: 's3', s3: { ...s3, endpoint: 'https://s3.example/x?y' } },
      /blobs\.s3\.endpoint: the endpoint is scheme, host and port only/,
    ],
    ['a non-http endpoint', { kind: 's3', s3: { ...s3, endpoint: 'file:///etc/passwd' } }, /blobs\.s3\.endpoint: an http/],
    ['kind s3 without its section', { kind: 's3' }, /kind "s3" needs the s3 section/],
    ['an unknown kind', { kind: 'nfs' }, /blobs\.kind/],
  ])('refuses %s before anything starts', async (_name, blobs, message) => {
    const r = await withBlobs(blobs);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toContain('S3CR3T-value');
    expect(r.err).not.toContain('key:secret');
  });

  it('refuses to back up a site whose blobs are in S3 (backups copy blob folders), saying what protects them', async () => {
    await writeFile(join(site.dataDir, 'palabre.json'), JSON.stringify({ blobs: { kind: 's3', s3 } }));
    const dest = join(site.dataDir, 'backup-dest');
    const backup = await site.run('backup', dest);
    expect(backup.code).not.toBe(0);
    expect(backup.err).toMatch(/copies blob folders, and this site's blobs are in the S3 bucket palabre: protect them with the object store's versioning/);
    expect(await filesUnder(dest)).toEqual([]);
  });

  it('refuses a secret key file that others can read, and one that is missing, naming the setting only', async () => {
    const file = join(site.dataDir, 's3.secret');
    await writeFile(file, 'the-secret-key\n');
    await chmod(file, 0o644);
    const { secretAccessKey: _, ...noSecret } = s3;
    const loose = await withBlobs({ kind: 's3', s3: { ...noSecret, secretAccessKeyFile: file } });
    expect(loose.code).not.toBe(0);
    expect(loose.err).toMatch(/blobs\.s3\.secretAccessKeyFile: .* is readable by other users/);
    expect(loose.err).not.toContain('the-secret-key');
    const none = await withBlobs({ kind: 's3', s3: noSecret });
    expect(none.code).not.toBe(0);
    expect(none.err).toMatch(/no secret access key/);
  });
});

describe.skipIf(skipWithout(...SWIFT_PROGRAMS))('palabre serve with blobs on S3 (OpenStack Swift s3api)', () => {
  let swift: Swift;
  let site: Site;
  let child: ChildProcess;
  let bucket: { mail: S3BlobStore; drive: S3BlobStore };
  let banner = '';
  const ports = { http: 0, smtp: 0, imap: 0 };
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;

  beforeAll(async () => {
    [swift, site] = await Promise.all([startSwift(), makeSite('sqlite')]);
    const location = {
      endpoint: swift.endpoint,
      bucket: BUCKET,
      region: swift.region,
      accessKeyId: swift.accessKeyId,
      secretAccessKey: swift.secretAccessKey,
    };
    bucket = { mail: new S3BlobStore({ ...location, prefix: 'mail/' }), drive: new S3BlobStore({ ...location, prefix: 'drive/' }) };
    await bucket.mail.createBucket();
    const secretFile = join(site.dataDir, 's3.secret');
    await writeFile(secretFile, `${swift.secretAccessKey}\n`, { mode: 0o600 });
    const { secretAccessKey: _, ...rest } = location;
    await writeFile(
      join(site.dataDir, 'palabre.json'),
      JSON.stringify({ blobs: { kind: 's3', s3: { ...rest, secretAccessKeyFile: secretFile } } }),
    );
    for (const argv of [
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', USER, '--password', PASS],
    ])
      expect((await site.run(...argv)).code).toBe(0);
    ports.http = await freePort();
    ports.smtp = await freePort();
    ports.imap = await freePort();
    child = spawnServe(site.dataDir, ports, site.env, ['--hostname', 'mail.finances.gouv.test']);
    banner = await waitForLine(child, /Palabre is running[\s\S]*\n\n/);
  }, 180_000);
  afterAll(async () => {
    await stopServe(child);
    await bucket?.mail.close();
    await bucket?.drive.close();
    await Promise.all([swift?.close(), site?.cleanup()]);
  });

  it('says in the banner where the bytes are', () => {
    expect(banner).toContain(`files and messages in S3 bucket ${BUCKET} at ${swift.endpoint} (mail/, drive/)`);
    expect(banner).not.toContain(swift.secretAccessKey);
  });

  it('stores a message delivered over SMTP in the bucket and reads it back over IMAP byte for byte', async () => {
    const body = Array.from({ length: 2000 }, (_, i) => `ligne ${i} du rapport trimestriel, déjà validée ✓`).join('\r\n');
    const message = `From: Ami <ami@example.org>\r\nTo: ${USER}\r\nSubject: Rapport\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body}\r\n`;
    const replies = await smtp(
      ports.smtp,
      ['EHLO client.example.org', 'MAIL FROM:<ami@example.org>', `RCPT TO:<${USER}>`],
      message.replace(/\r\n$/, ''),
    );
    expect(replies.at(-2)).toMatch(/^250 /);
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: USER, pass: PASS }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const fetched = await imap.fetchOne('*', { source: true });
      const source = (fetched as { source: Buffer }).source;
      // Trace headers (Received, Authentication-Results) are prepended; the message itself is intact.
      expect(source.subarray(source.length - Buffer.byteLength(message)).equals(Buffer.from(message))).toBe(true);
    } finally {
      await imap.logout();
    }
    const mailBlobs: string[] = [];
    for await (const entry of bucket.mail.list()) mailBlobs.push(entry.id);
    expect(mailBlobs.length).toBeGreaterThanOrEqual(1);
  });

  it('stores a file PUT over WebDAV in the bucket (a streamed multipart upload) and serves it back whole and in ranges', async () => {
    const file = randomBytes(12 * 1024 * 1024 + 123);
    const url = `http://127.0.0.1:${ports.http}/dav/files/${USER}/archive.bin`;
    const put = await fetch(url, { method: 'PUT', headers: { authorization: auth }, body: file });
    expect(put.status).toBe(201);
    const got = Buffer.from(await (await fetch(url, { headers: { authorization: auth } })).arrayBuffer());
    expect(got.equals(file)).toBe(true);
    const start = 8 * 1024 * 1024 - 100;
    const ranged = await fetch(url, { headers: { authorization: auth, range: `bytes=${start}-${start + 199}` } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(file.subarray(start, start + 200))).toBe(true);
    const driveBlobs: { id: string; size: number }[] = [];
    for await (const entry of bucket.drive.list()) driveBlobs.push({ id: entry.id, size: entry.size });
    expect(driveBlobs).toContainEqual({ id: expect.any(String), size: file.length });
    expect(await bucket.drive.unfinishedUploads()).toBe(0);
  }, 120_000);

  it('keeps no blob in the data folder', async () => {
    expect(await filesUnder(join(site.dataDir, 'blobs'))).toEqual([]);
  });

  it('doctor finds the bucket reachable, and says so when the key is wrong without printing it', async () => {
    const ok = await site.run('doctor', '--no-dns');
    expect(ok.out).toContain(`ok    blobs mail: reachable (S3 bucket ${BUCKET} at ${swift.endpoint} (mail/, drive/))`);
    // The secret from the environment (PALABRE_S3_SECRET_ACCESS_KEY), and a wrong one.
    const wrongKey = 'not-the-right-secret-key';
    const configFile = join(site.dataDir, 'wrong-key.json');
    await writeFile(
      configFile,
      JSON.stringify({
        blobs: {
          kind: 's3',
          s3: { endpoint: swift.endpoint, bucket: BUCKET, region: swift.region, accessKeyId: swift.accessKeyId, maxAttempts: 1 },
        },
      }),
    );
    const io = capture();
    const code = await main(['--data', site.dataDir, '--config', configFile, 'doctor', '--no-dns'], io, {
      ...site.env,
      PALABRE_S3_SECRET_ACCESS_KEY: wrongKey,
    });
    expect(code).toBe(1);
    expect(io.text()).toMatch(/FAIL {2}blobs mail: blob store refused access to bucket palabre-serve/);
    expect(io.text()).not.toContain(wrongKey);
  });
});
