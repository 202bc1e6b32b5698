import { describe, expect, it } from 'vitest';
import type { TextMatch } from '../icalendar/text-match.js';
import { CardDataError, cardIndex, cardPrefilter, matchesCardFilter, parseVCard, renderAddressData, type CardPropFilter } from './vcard.js';

// As Apple Contacts writes it: groups with labels, repeated type parameters, a folded base64 photo.
const APPLE = [
  'BEGIN:VCARD',
  'VERSION:3.0',
  'PRODID:-//Apple Inc.//iOS 17.4//EN',
  'N:Kodjo;Awa;;;',
  'FN:Awa Kodjo',
  'ORG:Ministère de la Santé;DSI',
  'EMAIL;type=INTERNET;type=WORK;type=pref:awa@sante.gouv.tg',
  'item1.TEL;type=pref:+228 22 21 00 00',
  'item1.X-ABLabel:_$!<Mobile>!$_',
  'PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ',
  ' AAAQABAAD',
  'UID:1234-abcd',
  'END:VCARD',
  '',
].join('\r\n');

const tm = (value: string, extra: Partial<TextMatch> = {}): TextMatch => ({ value, collation: 'i;unicode-casemap', matchType: 'contains', negate: false, ...extra });
const pf = (name: string, extra: Partial<CardPropFilter> = {}): CardPropFilter => ({ name, test: 'anyof', isNotDefined: false, textMatches: [], paramFilters: [], ...extra });

describe('vCards', () => {
  it('reads Apple\u2019s vCard 3.0 and gives it back byte for byte', () => {
    const card = parseVCard(APPLE);
    expect(card).toMatchObject({ uid: '1234-abcd', version: '3.0' });
    expect(renderAddressData(APPLE, { props: null, version: null }, card)).toBe(APPLE);
    expect(renderAddressData(APPLE, { props: null, version: '3.0' }, card)).toBe(APPLE);
    expect(cardIndex(card).searchText).toContain('fn:awa kodjo');
  });

  it('converts to vCard 4.0 and back when a client asks for the other version', () => {
    const v4 = renderAddressData(APPLE, { props: null, version: '4.0' });
    expect(v4).toContain('VERSION:4.0');
    expect(v4).toMatch(/PHOTO(;VALUE=URI)?:data:image\/jpeg;base64,\/9j\/4AAQSkZJRgABAQAAAQABAAD/i);
    expect(v4).toMatch(/ITEM1\.X-ABLABEL:_\$!<Mobile>!\$_/i);
    const back = renderAddressData(v4, { props: null, version: '3.0' });
    expect(back).toContain('VERSION:3.0');
    expect(back).toMatch(/PHOTO;ENCODING=b;TYPE=JPEG:\/9j\/4AAQSkZJRgABAQAAAQABAAD/i);
    const group = ['BEGIN:VCARD', 'VERSION:4.0', 'KIND:group', 'FN:Cabinet', 'UID:g', 'MEMBER:urn:uuid:1234-abcd', 'END:VCARD', ''].join('\r\n');
    const asApple = renderAddressData(group, { props: null, version: '3.0' });
    expect(asApple).toMatch(/X-ADDRESSBOOKSERVER-KIND:group/i);
    expect(asApple).toMatch(/X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:1234-abcd/i);
    expect(asApple).toMatch(/\r\nN:/);
  });

  it('returns only the properties asked for, with VERSION and UID', () => {
    const out = renderAddressData(APPLE, { props: ['EMAIL'], version: null });
    expect(out).toContain('awa@sante.gouv.tg');
    expect(out).toContain('UID:1234-abcd');
    expect(out).not.toMatch(/PHOTO|ORG|TEL/);
  });

  it('matches addressbook-query filters: collations, match types, anyof/allof, parameters', () => {
    const card = parseVCard(APPLE);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('KODJO')] })] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('awa', { matchType: 'starts-with' })] })] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('kodj', { matchType: 'equals' })] })] })).toBe(false);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('ORG', { textMatches: [tm('santé')] })] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('ORG', { textMatches: [tm('SANTÉ', { collation: 'i;ascii-casemap' })] })] })).toBe(false);
    expect(matchesCardFilter(card, { test: 'allof', propFilters: [pf('FN', { textMatches: [tm('awa')] }), pf('NICKNAME')] })).toBe(false);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('awa')] }), pf('NICKNAME')] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('NICKNAME', { isNotDefined: true })] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('EMAIL', { paramFilters: [{ name: 'TYPE', isNotDefined: false, textMatch: tm('work', { matchType: 'equals' }) }] })] })).toBe(true);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [pf('EMAIL', { textMatches: [tm('sante.gouv.tg', { negate: true })] })] })).toBe(false);
    expect(matchesCardFilter(card, { test: 'anyof', propFilters: [] })).toBe(true);
    expect(cardPrefilter({ test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('KODJO')] })] })).toEqual(['kodjo']);
    expect(cardPrefilter({ test: 'anyof', propFilters: [pf('FN', { textMatches: [tm('x')] }), pf('EMAIL', { textMatches: [tm('y')] })] })).toEqual([]);
  });

  it('refuses what is not one valid vCard with a UID', () => {
    const refused = (text: string, condition: string) => {
      try {
        parseVCard(text);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(CardDataError);
        expect((error as CardDataError).condition).toBe(condition);
      }
    };
    refused('hello', 'valid-address-data');
    refused(APPLE.replace('UID:1234-abcd\r\n', ''), 'valid-address-data');
    refused(APPLE.replace('FN:Awa Kodjo\r\n', ''), 'valid-address-data');
    refused(APPLE.replace('VERSION:3.0', 'VERSION:2.1'), 'supported-address-data');
    refused(APPLE + APPLE, 'valid-address-data');
    refused(APPLE.replace('Awa Kodjo', 'Awa\u0000Kodjo'), 'valid-address-data');
    refused(APPLE.replace('/9j/', 'x'.repeat(2 * 1024 * 1024)), 'max-resource-size');
    refused(['BEGIN:VCALENDAR', 'END:VCALENDAR', ''].join('\r\n'), 'valid-address-data');
  });
});
