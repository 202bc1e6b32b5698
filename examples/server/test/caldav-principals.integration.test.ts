import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { davRequest, makeSite, provision, serveHttp, siteKinds, type ServedHttp, type Site } from './helpers.js';

/**
 * RFC 3744 §9 principal reports and RFC 3253 expand-property against a listening `palabre serve`, as
 * address pickers and Apple Calendar's delegation pane ask them: a search finds colleagues of the
 * caller's own ministry only, by name (accents aside) or address, bounded; hostile match strings get an
 * answer, never a crash or a scan.
 */

const DOMAIN = 'travail.gouv.test';
const AWA = `awa@${DOMAIN}`;
const ELODIE = `ekpatcha@${DOMAIN}`;
const ERIC = `eric@${DOMAIN}`;
const EVE = 'elodie@finances.gouv.test';
const PASS = 'A long enough passphrase';
const C = 'urn:ietf:params:xml:ns:caldav';
const CS = 'http://calendarserver.org/ns/';

const search = (conditions: [string, string, string?][], opts: { test?: string; props?: string } = {}) =>
  `<?xml version="1.0"?><D:principal-property-search xmlns:D="DAV:" xmlns:C="${C}" xmlns:CS="${CS}"${opts.test ? ` test="${opts.test}"` : ''}>${conditions
    .map(([prop, text, type]) => `<D:property-search><D:prop>${prop}</D:prop><D:match${type ? ` match-type="${type}"` : ''}>${text}</D:match></D:property-search>`)
    .join('')}<D:prop>${opts.props ?? '<D:displayname/><C:calendar-user-address-set/>'}</D:prop></D:principal-property-search>`;

describe.each(siteKinds)('principal reports (%s)', (kind) => {
  let site: Site;
  let served: ServedHttp;
  const report = async (path: string, body: string, user = AWA, depth = '0') => {
    const res = await davRequest(served.origin, user, PASS, 'REPORT', path, { body, headers: { depth, 'content-type': 'application/xml' } });
    return { status: res.status, text: await res.text() };
  };
  const found = (text: string) => [...text.matchAll(/<d:response><d:href>\/dav\/principals\/users\/([^/<]+)\/<\/d:href>/g)].map((m) => decodeURIComponent(m[1]!)).sort();

  beforeAll(async () => {
    site = await makeSite(kind);
    const argvs = [
      ['domain', 'add', DOMAIN],
      ['domain', 'add', 'finances.gouv.test'],
      ['user', 'add', AWA, '--password', PASS, '--name', 'Awa Mensah'],
      ['user', 'add', ELODIE, '--password', PASS, '--name', 'Élodie Kpatcha'],
      ['user', 'add', ERIC, '--password', PASS, '--name', 'Éric Dossou'],
      ['user', 'add', EVE, '--password', PASS, '--name', 'Élodie Autre'],
      ['user', 'add', `pct@${DOMAIN}`, '--password', PASS, '--name', '100% Pur_Jus\\'],
      ['alias', 'add', `secretariat.dg@${DOMAIN}`, AWA],
      ['group', 'add', 'cabinet', '--domain', DOMAIN],
      ['group', 'member', 'add', 'cabinet', AWA],
    ];
    argvs.push(['group', 'add', 'tous', '--domain', DOMAIN]);
    for (let i = 0; i < 60; i++) {
      argvs.push(['user', 'add', `agent${i}@${DOMAIN}`, '--password', PASS, '--name', `Agent ${i}`]);
      argvs.push(['group', 'member', 'add', 'tous', `agent${i}@${DOMAIN}`]);
    }
    argvs.push(['group', 'member', 'add', 'tous', AWA]);
    await provision(site, argvs);
    // A big department, provisioned as the administration does it: 520 more members of `tous`.
    const csv = join(site.dataDir, 'agents.csv');
    await writeFile(csv, `email,display_name,groups\n${Array.from({ length: 520 }, (_, i) => `bulk${i}@${DOMAIN},Bulk ${i},tous`).join('\n')}\n`);
    await provision(site, [['user', 'import', csv]]);
    served = await serveHttp(site);
  }, 240_000);

  afterAll(async () => {
    await served?.stop();
    await site?.cleanup();
  });

  it('lists the searchable properties', async () => {
    const { status, text } = await report('/principals/', `<?xml version="1.0"?><D:principal-search-property-set xmlns:D="DAV:"/>`);
    expect(status).toBe(200);
    expect(text).toContain('<d:principal-search-property-set');
    for (const p of ['<d:displayname/>', '<C:calendar-user-address-set/>', '<CS:email-address-set/>']) expect(text).toContain(`<d:prop>${p}</d:prop>`);
  });

  it('finds colleagues of the same ministry by name prefix, accents and case aside', async () => {
    const r = await report('/principals/', search([['<D:displayname/>', 'ELO', 'starts-with']]));
    expect(r.status).toBe(207);
    expect(found(r.text)).toEqual([ELODIE]);
    expect(r.text).toContain('<d:displayname>Élodie Kpatcha</d:displayname>');
    expect(found((await report('/principals/users/', search([['<D:displayname/>', 'éric d']]))).text)).toEqual([ERIC]);
  });

  it('finds by address or alias through calendar-user-address-set, which lists the aliases', async () => {
    const r = await report('/principals/', search([['<C:calendar-user-address-set/>', 'mailto:secretariat.d', 'contains']]));
    expect(found(r.text)).toEqual([AWA]);
    expect(r.text).toContain(`<d:href>mailto:${AWA}</d:href><d:href>mailto:secretariat.dg@${DOMAIN}</d:href>`);
    expect(found((await report('/principals/', search([['<CS:email-address-set/>', 'eric@']]))).text)).toEqual([ERIC]);
  });

  it('combines property-searches with anyof and allof', async () => {
    expect(found((await report('/principals/', search([['<D:displayname/>', 'awa'], ['<D:displayname/>', 'eric']], { test: 'anyof' }))).text)).toEqual([AWA, ERIC]);
    expect(found((await report('/principals/', search([['<D:displayname/>', 'awa'], ['<D:displayname/>', 'eric']], { test: 'allof' }))).text)).toEqual([]);
    expect(found((await report('/principals/', search([['<D:displayname/>', 'awa m'], ['<C:calendar-user-address-set/>', 'secr']], { test: 'allof' }))).text)).toEqual([AWA]);
    expect(found((await report('/principals/', search([['<D:getetag/>', 'awa']]))).text)).toEqual([]);
  });

  it('answers at most 50 principals, then 507 number-of-matches-within-limits', async () => {
    const r = await report('/principals/', search([['<D:displayname/>', 'agent']]));
    expect(r.status).toBe(207);
    expect(found(r.text)).toHaveLength(50);
    expect(r.text).toMatch(/<d:response><d:href>\/dav\/principals\/<\/d:href><d:status>HTTP\/1.1 507 [^<]*<\/d:status><d:error><d:number-of-matches-within-limits\/><\/d:error><\/d:response>/);
  });

  it('reads wildcards and SQL LIKE metacharacters as plain text, refuses a 10 KB match and bad match-types', async () => {
    for (const t of ['%', '_', '\\', '*', '?', 'a%', '%awa', '_wa', '.*', "' OR 1=1 --"]) {
      const r = await report('/principals/', search([['<D:displayname/>', t], ['<C:calendar-user-address-set/>', t]]));
      expect(r.status, t).toBe(207);
      expect(found(r.text), t).toEqual([]);
    }
    expect(found((await report('/principals/', search([['<D:displayname/>', '100% pur_jus\\']]))).text)).toEqual([`pct@${DOMAIN}`]);
    expect((await report('/principals/', search([['<D:displayname/>', 'a'.repeat(10 * 1024)]]))).status).toBe(400);
    expect((await report('/principals/', search([['<D:displayname/>', 'awa', 'regex']]))).status).toBe(400);
    expect((await report('/principals/', `<?xml version="1.0"?><D:principal-property-search xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-property-search>`)).status).toBe(400);
    const many = search(Array.from({ length: 200 }, () => ['<D:displayname/>', 'a'] as [string, string]));
    expect((await report('/principals/', many)).status).toBe(400);
    expect((await fetch(`${served.origin}/healthz`)).status).toBe(200);
  });

  it('matches DAV:self: the caller and its groups', async () => {
    const r = await report('/principals/', `<?xml version="1.0"?><D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>`);
    expect(r.status).toBe(207);
    expect(r.text).toContain(`<d:href>/dav/principals/users/${AWA}/</d:href>`);
    expect(r.text).toContain('<d:href>/dav/principals/groups/cabinet/</d:href>');
    expect(r.text).not.toContain('eric');
  });

  it('expands calendar-proxy-write-for and group-member-set with expand-property, as Apple Calendar asks', async () => {
    const patch = await davRequest(served.origin, ERIC, PASS, 'PROPPATCH', `/principals/users/${ERIC}/calendar-proxy-write/`, {
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:group-member-set><D:href>mailto:${AWA}</D:href></D:group-member-set></D:prop></D:set></D:propertyupdate>`,
    });
    expect(patch.status).toBe(207);
    const body = `<?xml version="1.0"?><D:expand-property xmlns:D="DAV:"><D:property name="calendar-proxy-write-for" namespace="${CS}"><D:property name="displayname"/><D:property name="calendar-user-address-set" namespace="${C}"/></D:property><D:property name="displayname"/></D:expand-property>`;
    const r = await report(`/principals/users/${AWA}/`, body);
    expect(r.status).toBe(207);
    expect(r.text).toMatch(new RegExp(`<CS:calendar-proxy-write-for><d:response><d:href>/dav/principals/users/${ERIC}/</d:href><d:propstat><d:prop><d:displayname>Éric Dossou</d:displayname><C:calendar-user-address-set><d:href>mailto:${ERIC}</d:href>`));
    expect(r.text).toContain('<d:displayname>Awa Mensah</d:displayname>');
    const members = await report(`/principals/users/${ERIC}/calendar-proxy-write/`, `<?xml version="1.0"?><D:expand-property xmlns:D="DAV:"><D:property name="group-member-set"><D:property name="displayname"/></D:property></D:expand-property>`, ERIC);
    expect(members.text).toMatch(new RegExp(`<d:group-member-set><d:response><d:href>/dav/principals/users/${AWA}/</d:href><d:propstat><d:prop><d:displayname>Awa Mensah</d:displayname>`));
    // Nested past three levels or naming nothing: an answer, not a loop.
    const deep = `<?xml version="1.0"?><D:expand-property xmlns:D="DAV:">${'<D:property name="group-membership">'.repeat(20)}${'</D:property>'.repeat(20)}</D:expand-property>`;
    expect((await report(`/principals/users/${AWA}/`, deep)).status).toBe(207);
    // Named twice, answered once.
    const twice = `<?xml version="1.0"?><D:expand-property xmlns:D="DAV:">${'<D:property name="group-member-set"><D:property name="displayname"/></D:property>'.repeat(2)}</D:expand-property>`;
    expect(found((await report('/principals/groups/cabinet/', twice)).text)).toEqual([AWA]);
    // The 581 members of a department: past 500 resources expanded in one report, one 507 rather than an unbounded answer.
    const wide = `<?xml version="1.0"?><D:expand-property xmlns:D="DAV:"><D:property name="group-member-set"><D:property name="displayname"/></D:property></D:expand-property>`;
    const bounded = await report('/principals/groups/tous/', wide);
    expect(bounded.status).toBe(507);
    expect(bounded.text).toContain('number-of-matches-within-limits');
  });
});
