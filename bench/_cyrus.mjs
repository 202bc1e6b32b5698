// Debian's Cyrus IMAP with its CalDAV module (cyrus-caldav) as a reference server on loopback, in a
// temp folder of its own (files starting with "_" are not run by `npm run bench`). One test user in a
// sasldb (auxprop, plain text over loopback), `httpmodules: caldav carddav`; the master process runs
// as root and its services as the `cyrus` user (Debian's package creates it). The user's INBOX is made
// by one IMAP LOGIN (autocreate), after which httpd provisions the calendar home itself.
// Cyrus logs only to syslog: with no /dev/log (a container) nothing is written, which costs it nothing.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopPid, waitPort } from './_mail-bench.mjs';

const LIBEXEC = '/usr/lib/cyrus/bin';

/** One IMAP LOGIN then LOGOUT (autocreates the INBOX, which the calendar home hangs under). */
function imapLogin(port, user, pass) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let step = 0;
    socket.setTimeout(15000, () => socket.destroy(new Error('IMAP login timed out')));
    socket.on('data', (d) => {
      buffer += d;
      if (step === 0 && buffer.includes('* OK')) {
        step = 1;
        socket.write(`a LOGIN ${user} ${pass}\r\n`);
      } else if (step === 1 && /^a (OK|NO|BAD)/m.test(buffer)) {
        step = 2;
        const ok = /^a OK/m.test(buffer);
        socket.end('b LOGOUT\r\n');
        if (ok) resolve();
        else reject(new Error(`IMAP LOGIN refused: ${buffer.split('\n').pop()}`));
      }
    });
    socket.on('error', reject);
  });
}

/**
 * Start Cyrus; returns { url, user, pass, pid, version, stop } (url: the calendar home), or throws with
 * the reason it could not start (not installed, not root, no answer).
 */
export async function startCyrus({ user = 'test', pass = 'test' } = {}) {
  if (!existsSync(join(LIBEXEC, 'master')) || !existsSync(join(LIBEXEC, 'httpd'))) throw new Error('cyrus-imapd / cyrus-caldav not installed');
  if (spawnSync('which', ['saslpasswd2']).status !== 0) throw new Error('saslpasswd2 not found (sasl2-bin)');
  if (process.getuid?.() !== 0) throw new Error('needs root (the master process switches to the cyrus user)');
  const dir = mkdtempSync(join(tmpdir(), 'palabre-bench-cyrus-'));
  chmodSync(dir, 0o755);
  const conf = join(dir, 'imapd.conf');
  for (const sub of ['db', 'proc', 'socket', 'log', 'msg', 'user', 'quota', 'lock', 'sieve']) mkdirSync(join(dir, 'conf', sub), { recursive: true });
  mkdirSync(join(dir, 'spool', 'stage.'), { recursive: true });
  mkdirSync(join(dir, 'run'));
  const [httpPort, imapPort] = [await freePort(), await freePort()];
  writeFileSync(
    conf,
    [
      `configdirectory: ${dir}/conf`,
      `partition-default: ${dir}/spool`,
      `sievedir: ${dir}/conf/sieve`,
      'servername: localhost',
      'admins: cyrus',
      'sasl_pwcheck_method: auxprop',
      'sasl_auxprop_plugin: sasldb',
      `sasl_sasldb_path: ${dir}/sasldb2`,
      'sasl_mech_list: PLAIN',
      'allowplaintext: yes',
      'httpmodules: caldav carddav',
      'unixhierarchysep: yes',
      'autocreate_quota: 0',
      'autocreate_users: anyone',
      `idlesocket: ${dir}/run/idle`,
      `lmtpsocket: ${dir}/run/lmtp`,
      `notifysocket: ${dir}/run/notify`,
      `proc_path: ${dir}/run/proc`,
      `mboxname_lockpath: ${dir}/run/lock`,
      '',
    ].join('\n'),
  );
  // prefork: httpd processes kept ready, as a tuned installation would (one process per connection).
  writeFileSync(
    join(dir, 'cyrus.conf'),
    `START {\n  recover cmd="ctl_cyrusdb -C ${conf} -r"\n}\nSERVICES {\n` +
      `  http cmd="httpd -C ${conf}" listen="127.0.0.1:${httpPort}" prefork=4\n` +
      `  imap cmd="imapd -C ${conf}" listen="127.0.0.1:${imapPort}" prefork=0\n}\n` +
      `EVENTS {\n  checkpoint cmd="ctl_cyrusdb -C ${conf} -c" period=30\n}\n`,
  );
  const sasl = spawnSync('saslpasswd2', ['-f', join(dir, 'sasldb2'), '-c', '-p', '-u', 'localhost', user], { input: pass });
  if (sasl.status !== 0) throw new Error(`saslpasswd2: ${sasl.stderr}`);
  spawnSync('chown', ['-R', 'cyrus:mail', dir]);
  const pidFile = join(dir, 'run', 'master.pid');
  const master = spawnSync(join(LIBEXEC, 'master'), ['-C', conf, '-M', join(dir, 'cyrus.conf'), '-p', pidFile, '-d'], { encoding: 'utf8' });
  const pid = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0);
  const stop = async () => {
    if (pid()) await stopPid(pid());
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (master.status !== 0) throw new Error(`cyrus master: ${master.stderr || master.status}`);
    if (!(await waitPort(httpPort, 20000)) || !(await waitPort(imapPort, 5000))) throw new Error('cyrus did not listen');
    await imapLogin(imapPort, user, pass);
  } catch (error) {
    await stop();
    throw error;
  }
  const version = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'cyrus-caldav'], { encoding: 'utf8' }).stdout.trim();
  return { url: `http://127.0.0.1:${httpPort}/dav/calendars/user/${user}/`, user, pass, pid: pid(), version, stop };
}
