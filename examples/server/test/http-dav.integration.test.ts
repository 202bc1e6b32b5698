import { connect } from 'node:net';
import { expectContinue } from '@palabre/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, runBin, serveHttp, type ServedHttp, type Site } from './helpers.js';

const USER = 'awa@sante.gouv.tg';
const PASS = 'A long enough passphrase';
const OTHER = 'kofi@sante.gouv.tg';
const auth = (user = USER, pass = PASS) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/**
 * The HTTP listener of `palabre serve` in front of the DAV engine (issue 11), attacked over real sockets:
 * how it hands `Expect: 100-continue` and bytes past a body to the engine.
 */
describe('palabre serve: DAV requests on the HTTP port', () => {
  let site: Site;
  let served: ServedHttp;
  let port: number;
  beforeAll(async () => {
    site = await makeSite('sqlite');
    const env = { ...site.env, DATABASE_URL: '' };
    for (const argv of [['domain', 'add', 'sante.gouv.tg'], ['user', 'add', USER, '--password', PASS], ['user', 'add', OTHER, '--password', PASS, '--quota', '1000']]) {
      expect((await runBin(['--data', site.dataDir, ...argv], { env })).code).toBe(0);
    }
    served = await serveHttp({ ...site, env });
    port = served.port;
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  const dav = (method: string, path: string, init: { body?: string; user?: string } = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: auth(init.user) }, body: init.body ?? null });

  const put100 = (path: string, body: Buffer, authorization?: string) =>
    expectContinue(`http://127.0.0.1:${port}`, 'PUT', path, body, authorization ? { authorization } : {});
  /** How many answers to PUT the server has logged (pino lines of dav.request). */
  const putsLogged = () => served.output().split('\n').filter((line) => line.includes('"msg":"dav.request"') && line.includes('"method":"PUT"')).length;
  /** Wait (bounded) until the server has logged its answer to `count` PUTs. */
  const putsAnswered = async (count: number) => {
    for (let i = 0; i < 500; i++) {
      if (putsLogged() >= count) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no answer to PUT #${count} logged:\n${served.output().slice(-2000)}`);
  };

  it('never commits a PUT whose body runs past its Content-Length while the client is told 400', async () => {
    // First in this file: no earlier request of it can still be on its way to the log.
    const puts = putsLogged();
    // The attacker keeps its side of the connection open (half-open) after the server's 400.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
      socket.write(`PUT /dav/files/${USER}/overlong.txt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${auth()}\r\nContent-Length: 5\r\n\r\nhello, then bytes that are no request\r\n\r\n`),
    );
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('end', () => resolve(text));
      socket.on('close', () => resolve(text));
    });
    await putsAnswered(puts + 1);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect((await dav('GET', `/dav/files/${USER}/overlong.txt`)).status).toBe(404);
  });

  it('sends 100 Continue only once the request is authenticated, authorised and within quota', async () => {
    const home = `/dav/files/${USER}`;
    expect(await put100(`${home}/a.txt`, Buffer.from('hello'))).toEqual({ first: 401, status: 401 });
    expect(await put100(`${home}/a.txt`, Buffer.from('hello'), auth(USER, 'wrong password'))).toEqual({ first: 401, status: 401 });
    expect(await put100(`${home}/a.txt`, Buffer.from('hello'), auth(OTHER))).toEqual({ first: 409, status: 409 });
    expect(await put100(`/dav/files/${OTHER}/big.bin`, Buffer.alloc(5000, 'x'), auth(OTHER))).toEqual({ first: 507, status: 507 });
    expect(await put100(`${home}/a.txt`, Buffer.from('hello'), auth())).toEqual({ first: 100, status: 201 });
    expect(await (await dav('GET', `${home}/a.txt`)).text()).toBe('hello');
  });

  it('serves an uploaded HTML page sandboxed, as an attachment, with nosniff', async () => {
    expect((await dav('PUT', `/dav/files/${USER}/page.html`, { body: '<script>alert(document.domain)</script>' })).status).toBe(201);
    const res = await dav('GET', `/dav/files/${USER}/page.html`);
    expect(res.headers.get('content-security-policy')).toMatch(/\bsandbox\b/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment\b/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
