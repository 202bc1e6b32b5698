import { describe, expect, it } from 'vitest';
import { LegacyError, memberName, sameOrigin } from './legacy-http.js';
import { parseDavSource } from './dav-source.js';
import { treeUrl } from './copy-drive-account.js';

const origin = new URL('https://legacy.sante.gouv.tg:8443/');
const home = new URL('https://legacy.sante.gouv.tg:8443/dav/awa/');

describe('memberName: what a legacy listing may name', () => {
  it('takes one decoded segment directly inside the collection, absolute or relative', () => {
    expect(memberName(origin, home, '/dav/awa/r%C3%A9unions/')).toBe('réunions');
    expect(memberName(origin, home, 'https://legacy.sante.gouv.tg:8443/dav/awa/note%201.ics')).toBe('note 1.ics');
    expect(memberName(origin, home, 'contacts/')).toBe('contacts');
  });
  it('refuses hrefs that leave the collection, name another server, go deeper or hide a separator', () => {
    for (const href of [
      '/dav/awa/../kofi/reunions/',
      '/dav/awa/%2e%2e/kofi/',
      '/dav/awa/x/../../kofi/',
      '/dav/kofi/reunions/',
      'https://evil.example/dav/awa/reunions/',
      'http://legacy.sante.gouv.tg:8443/dav/awa/reunions/',
      '//evil.example/dav/awa/x/',
      '/dav/awa/a/b.ics',
      '/dav/awa/a%2Fb.ics',
      '/dav/awa/',
      '/dav/awa/%00x',
      '/dav/awa/%E0%A4%A',
    ])
      expect(memberName(origin, home, href), href).toBeNull();
  });
  it('sameOrigin refuses another host, scheme or port', () => {
    expect(sameOrigin(origin, '/x').href).toBe('https://legacy.sante.gouv.tg:8443/x');
    for (const other of ['https://legacy.sante.gouv.tg/x', 'http://legacy.sante.gouv.tg:8443/x', 'https://other:8443/x'])
      expect(() => sameOrigin(origin, other)).toThrow(LegacyError);
  });
});

describe('--from of migrate dav and migrate drive', () => {
  it('names a server and a path, never credentials', () => {
    expect(parseDavSource('https://Legacy.example/dav').id).toBe('https://legacy.example:443/dav/');
    expect(() => parseDavSource('https://u:p@legacy.example/')).toThrow(/credentials/);
    expect(() => parseDavSource('ftp://legacy.example/')).toThrow(/https/);
  });
  it('puts each agent in the drive template, encoded', () => {
    const who = { address: 'awa@sante.gouv.tg', login: 'awa kodjo', password: 'x' };
    expect(treeUrl('https://files.example/webdav/{login}', who).href).toBe('https://files.example/webdav/awa%20kodjo/');
    expect(treeUrl('https://files.example/dav/files/{address}/', who).pathname).toBe('/dav/files/awa%40sante.gouv.tg/');
  });
});
