import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMessage } from '../auth-results/check-message.js';
import { analyzeMessage } from '../mime/analyze.js';
import { parseFields } from '../mime/header-block.js';
import { nstring } from '../mime/imap-strings.js';
import { HeaderSection } from '../mime/header-section.js';
import { toSmtpError } from '../smtp/smtp-error.js';
import { readOriginator } from './originator.js';
import { MessageRejection } from './rejection.js';

const parse = (text: string) => HeaderSection.parse(Buffer.from(text));
const refusal = (text: string): string => {
  try {
    readOriginator(parse(text));
  } catch (error) {
    // What a client is told: the pipeline's rejection in SMTP terms.
    if (error instanceof MessageRejection) return toSmtpError(error).toString();
    throw error;
  }
  return 'accepted';
};

describe('readOriginator', () => {
  it('reads one From and at most one Sender, lower-cased', () => {
    expect(readOriginator(parse('From: "Awa, D." <Awa@Sante.gouv.tg>,\r\n kofi@finances.gouv.tg\r\nSender: Kofi <KOFI@finances.gouv.tg>\r\n\r\n'))).toEqual({
      from: ['awa@sante.gouv.tg', 'kofi@finances.gouv.tg'],
      sender: 'kofi@finances.gouv.tg',
    });
  });

  it('refuses what some reader could take for another From', () => {
    expect(refusal('From : a@x.example\r\n\r\n')).toBe('550 5.6.0 malformed header field "From :": a field name is followed directly by its colon (RFC 5322 §2.2)');
    expect(refusal('From: a@x.example\r\n\fFrom: b@y.example\r\n\r\n')).toMatch(/^550 5\.6\.0 malformed header line "\?From: b@y\.example"/);
    expect(refusal(' From: a@x.example\r\n\r\n')).toMatch(/^550 5\.6\.0 malformed header line/);
    expect(refusal('From: a@x.example\r\nFrom: b@y.example\r\n\r\n')).toBe('550 5.6.0 more than one From: field (RFC 5322 §3.6 allows exactly one)');
    expect(refusal('Subject: x\r\n\r\n')).toBe('550 5.6.0 a From: field is required (RFC 5322 §3.6)');
    for (const from of ['Awa', 'a@x.example, Awa', 'undisclosed:;', 'a@x.example,', '<a@x.example', '"a@x.example', 'a @x.example', 'a(c)@x.example', '@r.example:a@x.example', 'a@x.example <b@y.example>', 'a]@x.example', 'A <a@x.example> <b@y.example>', '"john smith"@x.example', '<a@x.example(c@d.example)>', '<(c)a@x.example>', 'A < a@x.example>']) {
      expect(refusal(`From: ${from}\r\n\r\n`), from).toBe('550 5.6.0 the From: field is not a list of addresses (RFC 5322 §3.4)');
    }
    for (const from of ['J. Smith <js@x.example>', '"Smith, J" <js@x.example>, b@[192.0.2.1]', 'a.b+c@x.example (Alpha)', '=?utf-8?q?J=C3=B6rg?= <j@x.example>', 'Jörg <jörg@münchen.example>', '"john"@x.example']) {
      expect(refusal(`From: ${from}\r\n\r\n`), from).toBe('accepted');
    }
    expect(refusal('From: a@x.example\r\nSender: a@x.example\r\nSender: b@y.example\r\n\r\n')).toBe('550 5.6.0 more than one Sender: field (RFC 5322 §3.6 allows at most one)');
    expect(refusal('From: a@x.example\r\nSender: a@x.example, b@y.example\r\n\r\n')).toBe('550 5.6.0 the Sender: field must hold exactly one address (RFC 5322 §3.6.2)');
    expect(refusal(`X-${'"'.repeat(60)}\r\nFrom: a@x.example\r\n\r\n`)).toBe(`550 5.6.0 malformed header line "X-${'?'.repeat(38)}...": not a header field (RFC 5322 §2.2)`);
  });
});

// ------------------------------------------------------------------ property: one header parser

const NAMES = ['From', 'from', 'FROM', 'Sender', 'To', 'Subject', 'Message-ID', 'X-Tag', 'Re:ply', 'X"q', 'Käse'];
const PIECES = [
  'a@x.example', 'Awa <awa@sante.gouv.tg>', '"Mensah, K" <k@y.example>', 'b@z.example (Bob)', '(c@d.example)', '<e@f.example>',
  ' ', '\t', '  ', ':', ';', ',', '@', '<', '>', '"', '\\', 'é', 'naïve', '=?utf-8?q?caf=C3=A9?=', 'grp:', 'x',
  '\r\n ', '\r\n\t', '\r\n  ',
];
const blank = fc.constantFrom('', ' ', '\t', ' \t');
const value = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((p) => p.join(''));
const fieldLine = fc.tuple(fc.constantFrom(...NAMES), blank, value).map(([n, b, v]) => `${n}${b}:${v}`);
const junkLine = fc.array(fc.constantFrom('a', 'B', ' ', '\t', ':', '-', '\f', '\u00a0', 'From', '@'), { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
// Well-formed originators, with the variations real mail has: display names, quotes, comments, folds.
const local = fc.constantFrom('awa', 'Kofi.Mensah', 'a+tag', 'x_y', 'jörg', '"john smith"', '"quoted"', '"a\\"b"');
const domain = fc.constantFrom('sante.gouv.tg', 'example.org', 'Sub.Example.NET', 'münchen.example', '[192.0.2.1]');
const displayName = fc.constantFrom('', 'Awa', 'J. Smith', '"Mensah, Kofi"', '"a@evil.example"', '=?utf-8?q?J=C3=B6rg?=', 'Dr\r\n Who');
const comment = fc.constantFrom('', ' (Awa)', ' (x@y.example)', '\r\n (folded)');
const mailboxText = fc.tuple(displayName, local, domain, comment).map(([n, l, d, c]) => (n ? `${n} <${l}@${d}>${c}` : `${l}@${d}${c}`));
const mailboxList = fc.array(mailboxText, { minLength: 1, maxLength: 3 }).chain((list) => fc.constantFrom(', ', ',\r\n ', ',').map((sep) => list.join(sep)));
const originatorLine = fc.tuple(fc.constantFrom('From', 'from', 'Sender'), fc.constantFrom(' ', '', '\t', '\r\n '), mailboxList).map(([n, b, v]) => `${n}:${b}${v}`);
const line = fc.oneof({ weight: 5, arbitrary: fieldLine }, { weight: 1, arbitrary: junkLine }, { weight: 4, arbitrary: originatorLine });
const afterColon = fc.constantFrom(' ', '', '\t', '\r\n ');
const otherField = fc.tuple(fc.constantFrom('To', 'Subject', 'X-Tag', 'Message-ID'), value).map(([n, v]) => `${n}:${v}`);
const fromLine = fc.tuple(fc.constantFrom('From', 'from', 'FROM'), afterColon, mailboxList).map(([n, b, v]) => `${n}:${b}${v}`);
const senderLine = fc.tuple(afterColon, mailboxText).map(([b, v]) => `Sender:${b}${v}`);
/** Blocks with one From (and maybe a Sender) among other fields: mostly accepted, so the property bites. */
const originatorBlock = fc
  .tuple(fc.array(otherField, { maxLength: 3 }), fromLine, fc.option(senderLine, { nil: undefined }), fc.array(otherField, { maxLength: 3 }))
  .map(([before, from, sender, after]) => `${[...before, from, ...(sender ? [sender] : []), ...after].join('\r\n')}\r\n\r\nbody\r\n`);
const headerBlock = fc.array(line, { minLength: 1, maxLength: 8 }).map((lines) => `${lines.join('\r\n')}\r\n\r\nbody\r\n`);

/** RFC 5322 §2.2 read straight from the text, as an independent oracle. */
function rfc5322Fields(message: string): [string, string][] {
  const end = message.indexOf('\r\n\r\n');
  const head = message.startsWith('\r\n') ? '' : message.slice(0, end < 0 ? message.length : end);
  return head.split(/\r\n(?![ \t])/).flatMap((logical): [string, string][] => {
    const m = /^([\x21-\x39\x3b-\x7e]+):([\s\S]*)$/.exec(logical);
    return m ? [[m[1]!.toLowerCase(), m[2]!.replace(/\r\n(?=[ \t])/g, '').replace(/^[ \t]+|[ \t]+$/g, '')]] : [];
  });
}

const noDns = async (name: string, type: string) => {
  throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
};

describe('one header parser for SMTP intake and the MIME layer (property)', () => {
  it('HeaderSection and parseFields read the same fields, names and values, as RFC 5322 says', () => {
    fc.assert(
      fc.property(fc.oneof(headerBlock, originatorBlock), (message) => {
        const bytes = Buffer.from(message);
        const smtp = HeaderSection.parse(bytes).fields.filter((f) => f.name !== '').map((f) => [f.name, f.value]);
        const mime = parseFields(bytes).map((f) => [f.key, f.value]);
        expect(smtp).toEqual(mime);
        expect(mime).toEqual(rfc5322Fields(message));
      }),
      { numRuns: 2000 },
    );
  });

  it('when intake accepts the originator, DMARC (mailauth) and the IMAP ENVELOPE see the same From', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(headerBlock, originatorBlock), async (message) => {
        let from: readonly string[];
        try {
          from = readOriginator(HeaderSection.parse(Buffer.from(message))).from;
        } catch (error) {
          if (error instanceof MessageRejection && error.kind === 'malformed-originator') return;
          throw error;
        }
        accepted++;
        const checked = await checkMessage({ message: Readable.from([Buffer.from(message)]), ip: '192.0.2.1', helo: 'x.example', sender: '', hostname: 'mx.test', resolver: noDns });
        expect([...checked.headerFrom].sort()).toEqual([...from].sort());
        const envelope = (await analyzeMessage(message)).data.envelope.toLowerCase();
        for (const address of from) {
          const at = address.lastIndexOf('@');
          expect(envelope).toContain(`${nstring(address.slice(0, at))} ${nstring(address.slice(at + 1))}`);
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(500); // the property was not vacuous
  });
});
