import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { davRequest, makeSite, provision, serveHttp, simpleEvent, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * `palabre calendar`: sharing and delegation from the command line, audited, seen at once by the
 * calendar apps of a listening `palabre serve` on the same data.
 */

const DOMAIN = 'sante.gouv.test';
const AWA = `awa@${DOMAIN}`;
const KOFI = `kofi@${DOMAIN}`;
const AMA = `ama@${DOMAIN}`;
const EVE = 'eve@finances.gouv.test';
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';

describe.each(siteKinds)('palabre calendar (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const dav = (method: string, path: string, user: string, body?: string, headers: Record<string, string> = {}) => davRequest(served.origin, user, PASS, method, path, { body, headers });
  const sharedIn = async (user: string) => {
    const res = await dav('PROPFIND', `/calendars/${user}/`, user, '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>', { depth: '1', 'content-type': 'application/xml' });
    return [...(await res.text()).matchAll(/<d:href>([^<]*\/shared\.[^<]*)<\/d:href>/g)].map((m) => m[1]);
  };

  beforeAll(async () => {
    site = await makeSite(kind);
    await provision(site, [
      ['domain', 'add', DOMAIN],
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', AWA, '--password', PASS],
      ['user', 'add', KOFI, '--password', PASS],
      ['user', 'add', AMA, '--password', PASS],
      ['user', 'add', EVE, '--password', PASS],
      ['alias', 'add', `direction@${DOMAIN}`, KOFI],
      ['group', 'add', 'accueil', '--domain', DOMAIN],
      ['group', 'member', 'add', 'accueil', AMA],
    ]);
    served = await serveHttp(site);
    const mk = await dav('MKCALENDAR', `/calendars/${AWA}/agenda/`, AWA, `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="${C}"><D:set><D:prop><D:displayname>Agenda DG</D:displayname></D:prop></D:set></C:mkcalendar>`, { 'content-type': 'application/xml' });
    expect(mk.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('shares a calendar with an alias and a group, lists it, unshares it, and audits each change', async () => {
    const share = await site.run('calendar', 'share', AWA, 'agenda', `direction@${DOMAIN}`, 'write');
    expect(share).toMatchObject({ code: 0, out: `${KOFI} now has write access to ${AWA}/agenda` });
    expect((await site.run('calendar', 'share', AWA, 'agenda', 'group:accueil', 'read')).out).toBe(`group:accueil now has read access to ${AWA}/agenda`);
    expect(await sharedIn(KOFI)).toHaveLength(1);
    expect(await sharedIn(AMA)).toHaveLength(1);
    const list = await site.run('calendar', 'list', AWA);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/agenda +calendar +Agenda DG +/);
    // A group's share is in force without an answer; an account's invitation waits for one.
    expect(list.out).toMatch(/group:accueil:read(?!\()/);
    expect(list.out).toContain(`${KOFI}:write(pending)`);
    expect(list.out).toContain('delegates: none');
    // Kofi removes the shared copy from his home (how Apple Calendar and Thunderbird decline): the owner sees it.
    const [copy] = await sharedIn(KOFI);
    expect((await dav('DELETE', copy!.replace(/^\/dav/, ''), KOFI)).status).toBe(204);
    expect((await site.run('calendar', 'list', AWA)).out).toContain(`${KOFI}:write(declined)`);
    expect((await site.run('calendar', 'unshare', AWA, 'agenda', KOFI)).out).toBe(`${KOFI} no longer has access to ${AWA}/agenda`);
    expect(await sharedIn(KOFI)).toHaveLength(0);
    const audit = await site.run('audit', '--type', 'calendar.shared');
    expect(audit.out).toContain(`${AWA}/agenda`);
    expect(audit.out).toContain(`${KOFI} none`);
  });

  it('delegates a calendar home, which the delegate then writes into over DAV', async () => {
    expect((await site.run('calendar', 'delegate', AWA, KOFI, 'write')).out).toBe(`${KOFI} now acts for ${AWA} (write) in calendar apps`);
    const event = simpleEvent('d1');
    expect((await dav('PUT', `/calendars/${AWA}/agenda/d1.ics`, KOFI, event, { 'content-type': 'text/calendar' })).status).toBe(201);
    expect((await site.run('calendar', 'list', AWA)).out).toContain(`delegates: ${KOFI}:write`);
    expect((await site.run('calendar', 'delegate', AWA, KOFI, 'none')).out).toBe(`${KOFI} no longer acts for ${AWA}`);
    // No longer a delegate: a colleague, who sees only free-busy, finds no calendar to write into.
    expect((await dav('PUT', `/calendars/${AWA}/agenda/d2.ics`, KOFI, event.replace('UID:d1', 'UID:d2'), { 'content-type': 'text/calendar' })).status).toBe(409);
    expect((await dav('GET', `/calendars/${AWA}/agenda/d2.ics`, AWA)).status).toBe(404);
    expect((await site.run('audit', '--type', 'calendar.delegated')).out).toContain(`${KOFI} read-write`);
  });

  it('refuses unknown calendars, grantees, other domains, the owner, and bad access words, changing nothing', async () => {
    const before = (await site.run('calendar', 'list', AWA)).out;
    for (const argv of [
      ['calendar', 'share', AWA, 'nope', KOFI, 'read'],
      ['calendar', 'share', AWA, 'agenda', `nobody@${DOMAIN}`, 'read'],
      ['calendar', 'share', AWA, 'agenda', EVE, 'read'],
      ['calendar', 'share', AWA, 'agenda', AWA, 'read'],
      ['calendar', 'share', AWA, 'agenda', 'group:nope', 'read'],
      ['calendar', 'share', AWA, 'agenda', KOFI, 'admin'],
      ['calendar', 'share', AWA, 'agenda', KOFI, 'none'],
      ['calendar', 'delegate', AWA, EVE, 'write'],
      ['calendar', 'delegate', AWA, KOFI, 'all'],
      ['calendar', 'share', AWA, 'agenda', 'x'.repeat(5000), 'read'],
      ['calendar', 'share', AWA, 'agenda'],
      ['calendar', 'frobnicate'],
    ]) {
      expect((await site.run(...argv)).code, argv.join(' ')).toBe(2);
    }
    expect((await site.run('calendar', 'list', `nobody@${DOMAIN}`)).code).not.toBe(0);
    expect((await site.run('calendar', 'list', AWA)).out).toBe(before);
  });
});
