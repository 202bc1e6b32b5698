import { describe, expect, it } from 'vitest';
import { headerAddresses, mailboxesOf, parseAddressList } from './addresses.js';

describe('parseAddressList', () => {
  it('reads display names, quoted names, comments and bare addresses', () => {
    expect(parseAddressList('"Mensah, Awa" <awa@sante.gouv.tg>, bob@x.test (Bob B), <c@y.test>')).toEqual([
      { name: 'Mensah, Awa', adl: null, mailbox: 'awa', host: 'sante.gouv.tg' },
      { name: 'Bob B', adl: null, mailbox: 'bob', host: 'x.test' },
      { name: null, adl: null, mailbox: 'c', host: 'y.test' },
    ]);
    expect(parseAddressList('=?utf-8?q?J=C3=B6rg?= <j@x.test>')[0]!.name).toBe('=?utf-8?q?J=C3=B6rg?=');
  });

  it('reads groups, routes and quoted local parts', () => {
    expect(parseAddressList('Undisclosed recipients:;')).toEqual([
      { name: null, adl: null, mailbox: 'Undisclosed recipients', host: null },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
    expect(parseAddressList('Team: a@x.test, b@x.test;, c@y.test').map((a) => a.mailbox)).toEqual(['Team', 'a', 'b', null, 'c']);
    expect(parseAddressList('<@relay.test,@r2.test:joe@x.test>')[0]).toEqual({ name: null, adl: '@relay.test,@r2.test', mailbox: 'joe', host: 'x.test' });
    expect(parseAddressList('"john doe"@x.test')[0]!.mailbox).toBe('"john doe"');
  });

  it('never throws on junk and marks what is missing', () => {
    for (const junk of ['', '<<<', '@', ',,,', '"unterminated', '(((', 'a@', '<>', ';;', ':::']) expect(() => parseAddressList(junk)).not.toThrow();
    expect(parseAddressList('just-a-name')[0]).toEqual({ name: null, adl: null, mailbox: 'just-a-name', host: 'MISSING_DOMAIN' });
    expect(parseAddressList(Array(5000).fill('a@b.c').join(',')).length).toBe(1000);
  });

  it('gives the mailboxes of a list as policy checks them, groups flattened, incomplete ones counted', () => {
    expect(headerAddresses('"Awa D." <Awa@Sante.gouv.tg>, kofi@finances.gouv.tg')).toEqual(['awa@sante.gouv.tg', 'kofi@finances.gouv.tg']);
    expect(headerAddresses('team: a@x.example, b@y.example;')).toEqual(['a@x.example', 'b@y.example']);
    expect(headerAddresses(undefined)).toEqual([]);
    expect(mailboxesOf('undisclosed-recipients:;')).toEqual({ addresses: [], unusable: 0 });
    expect(mailboxesOf('Bob, a@x.example, @y.example')).toEqual({ addresses: ['a@x.example'], unusable: 2 });
  });
});
