import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'node:net';
import { freePort } from './helpers.js';

const run = promisify(execFile);

/**
 * Dovecot's IMAP daemons: Debian's dovecot-imapd, or the unpacked copy .ci/install-deps.sh keeps when
 * cyrus-imapd (which conflicts with it) is installed too.
 */
export function dovecotImapDir(): string | null {
  for (const dir of ['/usr/lib/dovecot', '/opt/dovecot-imapd/usr/lib/dovecot'])
    if (existsSync(join(dir, 'imap')) && existsSync(join(dir, 'imap-login'))) return dir;
  return null;
}

/**
 * A real Dovecot on loopback playing the legacy server of a migration, configured like the reference
 * in ../shared/conformance/mail/anchor (maildir, `/` separator, special-use folders, passwd-file users)
 * plus a master user (`user*master`) and an implicit-TLS listener. Mail is stored as `nobody`, so the
 * test needs no system user of its own; Dovecot runs in the foreground as this test's child and is
 * stopped by its PID.
 */
export interface LegacyDovecot {
  readonly dir: string;
  /** Implicit TLS (what `--from imaps://` uses). */
  readonly imapsPort: number;
  /** Plain IMAP (seeding, the hostile proxy's upstream). */
  readonly imapPort: number;
  /** The self-signed certificate, for --tls-ca. */
  readonly caFile: string;
  readonly masterUser: string;
  readonly masterPassword: string;
  /** Folder path on disk (maildir++ `.a.b`) of a user's folder. */
  maildir(user: string, folder: string): string;
  /** `doveadm kick`: drop every IMAP connection of a user. */
  kick(user: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startLegacyDovecot(users: readonly { address: string; password: string }[]): Promise<LegacyDovecot> {
  const bin = dovecotImapDir();
  if (!bin) throw new Error('Dovecot has no IMAP daemon here (dovecot-imapd): run sudo bash .ci/install-deps.sh');
  const services = ['imap', 'imap-login', 'imap-hibernate', 'imap-urlauth', 'imap-urlauth-login', 'imap-urlauth-worker']
    .filter((s) => bin !== '/usr/lib/dovecot' && s !== 'imap' && s !== 'imap-login')
    .map((s) => `service ${s} {\n  executable = ${join(bin, s)}\n}\n`)
    .join('');
  const dir = await mkdtemp(join(tmpdir(), 'palabre-legacy-dovecot-'));
  await chmod(dir, 0o755);
  const [imapPort, imapsPort] = [await freePort(), await freePort()];
  const { stdout: ids } = await run('id', ['-u', 'nobody']);
  const uid = Number(ids.trim());
  const gid = Number((await run('id', ['-g', 'nobody'])).stdout.trim());
  const mail = join(dir, 'mail');
  await mkdir(mail);
  await chown(mail, uid, gid);
  await mkdir(join(dir, 'run'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '30',
    '-subj',
    '/CN=legacy.sante.gouv.tg',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  await writeFile(
    join(dir, 'users'),
    users.map((u) => `${u.address}:{PLAIN}${u.password}:${uid}:${gid}::${mail}/${u.address}::\n`).join(''),
  );
  const masterUser = 'migration';
  const masterPassword = 'Maître des clés 2026';
  await writeFile(join(dir, 'masters'), `${masterUser}:{PLAIN}${masterPassword}\n`);
  const conf = join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    `base_dir = ${dir}/run
listen = 127.0.0.1
protocols = imap
log_path = ${dir}/dovecot.log
ssl = yes
ssl_cert = <${dir}/cert.pem
ssl_key = <${dir}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = ${dir}/masters
  master = yes
}
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
}
mail_location = maildir:~/Maildir
first_valid_uid = ${uid}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox "Sent Messages" {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox "Deleted Messages" {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}
mail_max_userip_connections = 200
${services}${bin === '/usr/lib/dovecot' ? '' : `service imap {\n  executable = ${join(bin, 'imap')}\n}\n`}service imap-login {
${bin === '/usr/lib/dovecot' ? '' : `  executable = ${join(bin, 'imap-login')}\n`}  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imapsPort}
    ssl = yes
  }
}
service anvil {
  unix_listener anvil {
    mode = 0666
  }
}
`,
  );
  const child: ChildProcess = spawn('dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  try {
    await waitForPort(
      imapPort,
      () => child.exitCode !== null,
      () => output,
    );
    await waitForPort(
      imapsPort,
      () => child.exitCode !== null,
      () => output,
    );
  } catch (error) {
    await stop();
    const log = await readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${output}\n${log}`);
  }
  return {
    dir,
    imapPort,
    imapsPort,
    caFile: join(dir, 'cert.pem'),
    masterUser,
    masterPassword,
    maildir: (user, folder) => join(mail, user, 'Maildir', folder === 'INBOX' ? '' : `.${folder.split('/').join('.')}`),
    async kick(user) {
      await run('doveadm', ['-c', conf, 'kick', user]);
    },
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, dead: () => boolean, output: () => string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (dead()) throw new Error(`dovecot exited: ${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dovecot did not listen on 127.0.0.1:${port}`);
}
