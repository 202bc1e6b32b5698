import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Slapd {
  readonly url: string;
  readonly suffix: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A real OpenLDAP (Debian's slapd) on loopback, with the given people loaded, for one test file. */
export async function startSlapd(people: { uid: string; mail: string; password: string }[]): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'palabre-slapd-'));
  await mkdir(join(dir, 'db'));
  const suffix = 'dc=sante,dc=gouv,dc=tg';
  const adminDn = `cn=admin,${suffix}`;
  const adminPassword = 'admin-secret';
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
database mdb
maxsize 10485760
suffix "${suffix}"
rootdn "${adminDn}"
rootpw ${adminPassword}
directory ${dir}/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
`,
  );
  const hash = (pw: string) => spawnSync('slappasswd', ['-s', pw], { encoding: 'utf8' }).stdout.trim();
  const ldif = [
    `dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\ndc: sante\no: Ministere de la sante\n`,
    `dn: ou=people,${suffix}\nobjectClass: organizationalUnit\nou: people\n`,
    ...people.map(
      (p) =>
        `dn: uid=${p.uid},ou=people,${suffix}\nobjectClass: inetOrgPerson\nuid: ${p.uid}\ncn: ${p.uid}\nsn: ${p.uid}\nmail: ${p.mail}\nuserPassword: ${hash(p.password)}\n`,
    ),
  ].join('\n');
  await writeFile(join(dir, 'data.ldif'), ldif);
  const add = spawnSync('slapadd', ['-f', conf, '-l', join(dir, 'data.ldif')], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('slapd', ['-f', conf, '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  // Wait until it accepts connections.
  const { Client } = await import('ldapts');
  for (let i = 0; ; i++) {
    const client = new Client({ url, connectTimeout: 500 });
    try {
      await client.bind(adminDn, adminPassword);
      await client.unbind();
      break;
    } catch {
      if (i > 100 || child.exitCode !== null) throw new Error(`slapd did not start: ${stderr.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    suffix,
    adminDn,
    adminPassword,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
