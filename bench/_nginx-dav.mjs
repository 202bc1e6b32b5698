// nginx with its DAV modules (Debian nginx + libnginx-mod-http-dav-ext) on loopback, configured in a
// temp folder: the second WebDAV reference of `npm run bench webdav` (the faster one on GET and
// PROPFIND). Basic auth from an htpasswd file as the Apache reference has, access log off, workers =
// cores. Files starting with "_" are not run by `npm run bench`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DAV_EXT = '/usr/lib/nginx/modules/ngx_http_dav_ext_module.so';

/** Starts nginx; resolves its DAV URL, or null (with the reason printed) when it cannot run here. */
export async function startNginxDav(dir, port, user, pass) {
  if (!existsSync('/usr/sbin/nginx') || !existsSync(DAV_EXT)) {
    console.log('# nginx reference skipped: Debian nginx and libnginx-mod-http-dav-ext are not installed');
    return null;
  }
  for (const sub of ['data', 'body', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  const hash = spawnSync('openssl', ['passwd', '-apr1', '-stdin'], { input: pass, encoding: 'utf8' });
  if (hash.status !== 0) {
    console.log(`# nginx reference skipped: openssl passwd failed: ${hash.stderr}`);
    return null;
  }
  writeFileSync(join(dir, 'htpasswd'), `${user}:${hash.stdout.trim()}\n`);
  // The workers run as www-data: they read the password file and write under data/ and body/.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'htpasswd'), 0o644);
  spawnSync('chown', ['-R', 'www-data:www-data', join(dir, 'data'), join(dir, 'body')]);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `load_module ${DAV_EXT};
user www-data;
worker_processes auto;
daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/body; fastcgi_temp_path ${dir}/body; uwsgi_temp_path ${dir}/body; scgi_temp_path ${dir}/body;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/data;
    location / {
      auth_basic "reference";
      auth_basic_user_file ${dir}/htpasswd;
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      dav_access user:rw group:rw all:r;
      create_full_put_path on;
    }
  }
}
`,
  );
  const r = spawnSync('/usr/sbin/nginx', ['-c', conf, '-p', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`# nginx reference did not start: ${r.stderr.trim()}`);
    return null;
  }
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 50; i++) {
    if (await fetch(url).then(() => true, () => false)) return url;
    await new Promise((res) => setTimeout(res, 100));
  }
  console.log('# nginx reference did not answer');
  stopNginxDav(dir);
  return null;
}

/** Stops the nginx started in `dir` (by its master's PID) and removes the folder. */
export async function stopNginxDav(dir) {
  let pid = 0;
  try {
    pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    pid = 0; // never started
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; pid > 0 && i < 100 && alive(); i++) await new Promise((res) => setTimeout(res, 50));
  rmSync(dir, { recursive: true, force: true });
}
