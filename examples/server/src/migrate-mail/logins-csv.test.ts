import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLoginsCsv } from './logins-csv.js';

const read = (text: string, master = false) => readLoginsCsv(Readable.from([Buffer.from(text)]), { master });

describe('readLoginsCsv', () => {
  it('reads address;login;password rows after an optional header, keeping passwords exactly', async () => {
    const { logins, problems } = await read(
      '\ufeffadresse;identifiant;mot de passe\r\nawa@sante.gouv.tg;awa.legacy; a b;c \r\nkofi@sante.gouv.tg;;"x;""y"\r\n',
    );
    expect(problems).toEqual([]);
    expect(logins).toEqual([
      { address: 'awa@sante.gouv.tg', login: 'awa.legacy', password: ' a b', line: 2 },
      { address: 'kofi@sante.gouv.tg', login: 'kofi@sante.gouv.tg', password: 'x;"y', line: 3 },
    ]);
  });

  it('reports rows without an address, repeated ones, and missing passwords unless a master login is used', async () => {
    const text = 'awa@sante.gouv.tg,awa,\nnot an address,x,y\nAWA@sante.gouv.tg,awa,p\n';
    const plain = await read(text);
    expect(plain.logins.map((l) => l.address)).toEqual(['AWA@sante.gouv.tg']);
    expect(plain.problems.map((p) => p.line)).toEqual([1, 2]);
    const master = await read(text, true);
    expect(master.logins.map((l) => l.line)).toEqual([1]);
    expect(master.problems.map((p) => p.message)).toEqual([
      'not an address: "not an address"',
      'AWA@sante.gouv.tg is already on an earlier line',
    ]);
  });
});
