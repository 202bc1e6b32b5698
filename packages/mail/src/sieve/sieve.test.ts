import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HeaderSection } from '../mime/header-section.js';
import { runSieve, type SieveMessage } from './interpret.js';
import { globMatch, StepBudget } from './match.js';
import { DEFAULT_SIEVE_LIMITS, SieveSyntaxError } from './parse.js';
import { compileSieve } from './validate.js';

const HEADER = [
  'From: "Alice Example" <alice+lists@example.org>',
  'To: bob@example.net, carol@example.net',
  'Subject: =?utf-8?q?R=C3=A9union?= [team] weekly',
  'List-Id: Team list <team.lists.example.org>',
  'Date: Tue, 1 Dec 2026 23:30:00 -0500',
  'X-Spam-Score: 7',
  'Message-ID: <m1@example.org>',
  '',
  '',
].join('\r\n');

function message(over: Partial<SieveMessage> = {}): SieveMessage {
  return {
    header: HeaderSection.parse(Buffer.from(HEADER)),
    envelopeFrom: 'alice+lists@example.org',
    envelopeTo: 'bob+work@example.net',
    size: 5000,
    body: { raw: 'Hello\r\nthe secret word is banana\r\n', parts: [{ contentType: 'text/plain', text: 'Hello\nthe secret word is banana\n' }] },
    now: new Date('2026-12-07T10:00:00Z'),
    ...over,
  };
}

const run = (script: string, m = message()) => runSieve([compileSieve(script)], m);
const actions = (script: string, m = message()) => {
  const out = run(script, m);
  expect(out.error).toBeNull();
  return out.actions;
};

function syntaxError(script: string): SieveSyntaxError {
  try {
    compileSieve(script);
  } catch (e) {
    if (e instanceof SieveSyntaxError) return e;
    throw e;
  }
  throw new Error('script compiled');
}

describe('Sieve parser (RFC 5228 §8)', () => {
  it('reports the line and column of a syntax error', () => {
    const e = syntaxError('require "fileinto";\nif true {\n  fileinto "a"\n}\n');
    expect([e.line, e.column]).toEqual([4, 1]);
    expect(e.message).toMatch(/line 4, column 1: expected ";"/);
  });

  it('refuses unknown commands, tests, tags and missing require with their position', () => {
    expect(syntaxError('keep;\n  frobnicate;').line).toBe(2);
    expect(syntaxError('if foo { keep; }').message).toMatch(/unknown test "foo"/);
    expect(syntaxError('fileinto "x";').message).toMatch(/needs require "fileinto"/);
    expect(syntaxError('keep :bogus;').message).toMatch(/unknown tag/);
    expect(syntaxError('keep;\nrequire "fileinto";').message).toMatch(/require must come before/);
    expect(syntaxError('require "nonsense";').message).toMatch(/unsupported extension/);
    expect(syntaxError('else { keep; }').message).toMatch(/else without a preceding if/);
    expect(syntaxError('if size :over :under 5 { keep; }').message).toMatch(/exactly one/);
    expect(syntaxError('"unterminated').message).toMatch(/unterminated string/);
    expect(syntaxError('/* open').message).toMatch(/unterminated comment/);
  });

  it('reads multi-line strings, comments, quantifiers and escapes', () => {
    const script = 'require "reject";\n# comment\nif size :over 1K /* c */ {\n reject text:\nline one\n..dotted\n.\n;\n}';
    const out = actions(script);
    expect(out).toEqual([{ type: 'reject', reason: 'line one\r\n.dotted\r\n', ereject: false }]);
    expect(actions('if header :is "subject" "R\\éunion [team] weekly" { discard; }')).toEqual([]);
  });

  it('bounds nesting: 1,000 nested ifs are refused at the limit, not by the stack', () => {
    const deep = 'if true {'.repeat(1000) + 'keep;' + '}'.repeat(1000);
    const e = syntaxError(deep);
    expect(e.message).toMatch(/nested deeper than 32/);
    expect(syntaxError('if ' + 'not '.repeat(1000) + 'true { keep; }').message).toMatch(/nested deeper/);
    expect(syntaxError('if anyof('.repeat(500) + 'true' + ')'.repeat(500) + ' { keep; }').message).toMatch(/nested deeper/);
  });

  it('bounds script size, node count and string lists', () => {
    expect(syntaxError('keep;'.repeat(60_000)).message).toMatch(/larger than|more than/);
    expect(syntaxError(`if header :is "x" [${Array.from({ length: 2000 }, () => '"a"').join(',')}] { keep; }`).message).toMatch(/string list longer/);
    expect(syntaxError('keep;\0').message).toMatch(/NUL/);
    expect(syntaxError('if size :over 99999999999999999999 { keep; }').message).toMatch(/number too large/);
  });

  it('never throws anything but SieveSyntaxError on random input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          compileSieve(s);
        } catch (e) {
          expect(e).toBeInstanceOf(SieveSyntaxError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('Sieve actions (RFC 5228, 3894, 5429)', () => {
  it('keeps implicitly, cancels on discard/fileinto, and not on :copy', () => {
    expect(actions('')).toEqual([{ type: 'keep', flags: [] }]);
    expect(actions('discard;')).toEqual([]);
    expect(actions('require "fileinto"; fileinto "Lists";')).toEqual([{ type: 'fileinto', mailbox: 'Lists', flags: [] }]);
    expect(actions('require ["fileinto","copy"]; fileinto :copy "Lists";')).toEqual([
      { type: 'fileinto', mailbox: 'Lists', flags: [] },
      { type: 'keep', flags: [] },
    ]);
  });

  it('runs if/elsif/else and stop', () => {
    const s = 'require "fileinto";\nif header :contains "subject" "nothing" { fileinto "A"; }\nelsif address :domain "from" "example.org" { fileinto "B"; stop; }\nelse { fileinto "C"; }\nfileinto "D";';
    expect(actions(s)).toEqual([{ type: 'fileinto', mailbox: 'B', flags: [] }]);
  });

  it('tests header, address, exists, size, envelope and subaddress', () => {
    const t = (test: string, req = '') => run(`${req}if ${test} { discard; }`).actions.length === 0;
    expect(t('header :contains "Subject" "réunion"')).toBe(true); // encoded word decoded, casemap on ASCII only
    expect(t('header :is :comparator "i;octet" "Subject" "réunion [team] weekly"')).toBe(false);
    expect(t('address :localpart "from" "alice+lists"')).toBe(true);
    expect(t('address :all "to" "carol@example.net"')).toBe(true);
    expect(t('exists ["from","list-id"]')).toBe(true);
    expect(t('exists ["from","x-none"]')).toBe(false);
    expect(t('size :over 4K')).toBe(true);
    expect(t('size :under 4K')).toBe(false);
    expect(t('envelope :domain "to" "example.net"', 'require "envelope";')).toBe(true);
    expect(t('envelope :user "to" "bob"', 'require ["envelope","subaddress"];')).toBe(true);
    expect(t('envelope :detail "to" "work"', 'require ["envelope","subaddress"];')).toBe(true);
    expect(t('address :detail "to" ""', 'require "subaddress";')).toBe(false); // no "+" → no match
    expect(t('anyof(false, not true, allof(true, true))')).toBe(true);
  });

  it('rejects and erejects, never with a keep or fileinto', () => {
    expect(actions('require "ereject"; ereject "go away";')).toEqual([{ type: 'reject', reason: 'go away', ereject: true }]);
    const out = run('require ["reject","fileinto"]; fileinto "A"; reject "no";');
    expect(out.error).toMatch(/reject cannot be combined/);
    expect(out.actions).toEqual([{ type: 'keep', flags: [] }]);
  });

  it('bounds actions and redirects (a run-time error keeps the message)', () => {
    const many = 'require "fileinto";' + Array.from({ length: 100 }, (_, i) => `fileinto "F${i}";`).join('');
    expect(run(many).error).toMatch(/more than 64 actions/);
    const redirects = Array.from({ length: 6 }, (_, i) => `redirect "r${i}@example.com";`).join('');
    expect(run(redirects)).toEqual({ actions: [{ type: 'keep', flags: [] }], error: 'more than 4 redirects' });
  });
});

describe('imap4flags (RFC 5232)', () => {
  it('sets, adds and removes flags, tests hasflag, and files with :flags or the internal variable', () => {
    const s = 'require ["imap4flags","fileinto"];\naddflag "\\\\Flagged";\naddflag ["$Work", "\\\\Seen"];\nremoveflag "\\\\seen";\nif hasflag :is "$work" { fileinto "W"; }\nfileinto :flags "\\\\Answered" "X";';
    expect(actions(s)).toEqual([
      { type: 'fileinto', mailbox: 'W', flags: ['\\Flagged', '$Work'] },
      { type: 'fileinto', mailbox: 'X', flags: ['\\Answered'] },
    ]);
    expect(actions('require "imap4flags"; setflag "\\\\Seen";')).toEqual([{ type: 'keep', flags: ['\\Seen'] }]);
    expect(actions('require ["imap4flags","variables"]; setflag "mine" "a b"; addflag "mine" "c"; if hasflag "mine" "c" { keep :flags "${mine}"; }')).toEqual([
      { type: 'keep', flags: ['a', 'b', 'c'] },
    ]);
  });
});

describe('body (RFC 5173)', () => {
  it('matches the decoded text, or the raw body', () => {
    const t = (test: string) => run(`require "body"; if ${test} { discard; }`).actions.length === 0;
    expect(t('body :contains "BANANA"')).toBe(true);
    expect(t('body :text :contains "banana"')).toBe(true);
    expect(t('body :raw :contains "word is"')).toBe(true);
    expect(t('body :content "image" :contains "banana"')).toBe(false);
    expect(compileSieve('require "body"; if body :contains "x" { keep; }').usesBody).toBe(true);
  });
});

describe('variables (RFC 5229)', () => {
  it('expands ${...}, applies modifiers by precedence, and sets match variables', () => {
    const s = [
      'require ["variables","fileinto"];',
      'set :upperfirst :lower "who" "ALICE";',
      'set :length "len" "héllo";',
      'if header :matches "List-Id" "*<*.lists.*>" { fileinto "Lists/${2}/${who}/${len}/${unknown}"; }',
    ].join('\n');
    expect(actions(s)).toEqual([{ type: 'fileinto', mailbox: 'Lists/team/Alice/5/', flags: [] }]);
    expect(actions('require "variables"; set :quotewildcard "q" "a*b?"; if string :is "${q}" "a\\\\*b\\\\?" { discard; }')).toEqual([]);
    expect(actions('require "variables"; if string :matches "abc" "a?c" { if string :is "${1}" "b" { discard; } }')).toEqual([]);
  });
});

describe('relational (RFC 5231)', () => {
  it('compares :value with i;ascii-numeric and counts with :count', () => {
    const req = 'require ["relational","comparator-i;ascii-numeric"];';
    const t = (test: string) => run(`${req} if ${test} { discard; }`).actions.length === 0;
    expect(t('header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5"')).toBe(true);
    expect(t('header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10"')).toBe(false);
    expect(t('address :count "eq" :comparator "i;ascii-numeric" "to" "2"')).toBe(true);
    expect(t('header :value "lt" "subject" "S"')).toBe(true); // "r…" < "s" in casemap
    expect(syntaxError('if header :value "gt" "x" "1" { keep; }').message).toMatch(/needs require "relational"/);
    expect(syntaxError('require "relational"; if header :value "xx" "x" "1" { keep; }').message).toMatch(/unknown relation/);
  });
});

describe('date and currentdate (RFC 5260)', () => {
  it('reads the Date header in UTC, a given zone, or the original zone', () => {
    const t = (test: string) => run(`require ["date","relational"]; if ${test} { discard; }`).actions.length === 0;
    expect(t('date "date" "date" "2026-12-02"')).toBe(true);
    expect(t('date :originalzone "date" "date" "2026-12-01"')).toBe(true);
    expect(t('date :zone "+0100" "date" "hour" "05"')).toBe(true);
    expect(t('date :originalzone "date" "zone" "-0500"')).toBe(true);
    expect(t('currentdate "weekday" "1"')).toBe(true);
    expect(t('currentdate :value "ge" "date" "2026-01-01"')).toBe(true);
    expect(t('currentdate "iso8601" "2026-12-07T10:00:00+00:00"')).toBe(true);
    expect(syntaxError('require "date"; if currentdate "fortnight" "1" { keep; }').message).toMatch(/unknown date part/);
  });
});

describe('vacation (RFC 5230)', () => {
  it('produces one vacation action with its options and a handle', () => {
    const [a, b] = actions('require "vacation"; vacation :days 3 :subject "Away" :addresses ["bob@example.net"] "I am away";');
    expect(a).toEqual({ type: 'vacation', reason: 'I am away', days: 3, subject: 'Away', from: null, handle: 'Away\u0000\u0000I am away', addresses: ['bob@example.net'], mime: false });
    expect(b).toEqual({ type: 'keep', flags: [] });
    expect(run('require "vacation"; vacation "a"; vacation "b";').error).toMatch(/only one vacation/);
    expect(syntaxError('require "vacation"; vacation :days 0 "x";').message).toMatch(/at least 1/);
  });
});

describe('scripts in sequence (domain script first)', () => {
  it('stop in the first script ends the run; actions add up', () => {
    const domain = compileSieve('require "fileinto"; if header :contains "subject" "weekly" { fileinto :copy "Archive"; }'.replace(':copy', ''));
    const user = compileSieve('require "fileinto"; fileinto "Mine";');
    expect(runSieve([domain, user], message()).actions).toEqual([
      { type: 'fileinto', mailbox: 'Archive', flags: [] },
      { type: 'fileinto', mailbox: 'Mine', flags: [] },
    ]);
    expect(runSieve([compileSieve('discard; stop;'), user], message()).actions).toEqual([]);
  });
});

describe(':matches is linear, and runs are bounded', () => {
  it('matches globs with captures, escapes and case folding', () => {
    const b = new StepBudget(1e6);
    expect(globMatch('a*c?e*', 'AbbcDeff', 'i;ascii-casemap', b)).toEqual(['AbbcDeff', 'bb', 'D', 'ff']);
    expect(globMatch('a\\*', 'a*', 'i;octet', b)).toEqual(['a*']);
    expect(globMatch('a\\*', 'ab', 'i;octet', b)).toBeNull();
    expect(globMatch('*', '', 'i;octet', b)).toEqual(['', '']);
  });

  it('agrees with a regular expression on random globs', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,8}$/), fc.stringMatching(/^[ab]{0,10}$/), (pattern, value) => {
        const re = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        expect(globMatch(pattern, value, 'i;octet', new StepBudget(1e6)) !== null).toBe(re.test(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('a pattern of many stars against a long value is linear, and a tight budget stops a run', () => {
    const pattern = '*a'.repeat(2000) + 'b';
    const value = 'a'.repeat(100_000);
    const script = `if header :matches "x-long" "${pattern}" { discard; }`;
    const m = message({ header: HeaderSection.parse(Buffer.from(`X-Long: ${value}\r\n\r\n`)) });
    expect(runSieve([compileSieve(script)], m, { ...DEFAULT_SIEVE_LIMITS, maxSteps: 1_000_000 })).toEqual({ actions: [{ type: 'keep', flags: [] }], error: null });
    const spin = 'require "variables"; set "a" "' + 'x'.repeat(4000) + '";' + 'if string :matches "${a}" "*x*x*x*x*y" { discard; }'.repeat(500);
    expect(runSieve([compileSieve(spin)], m, { ...DEFAULT_SIEVE_LIMITS, maxSteps: 100_000 })).toEqual({ actions: [{ type: 'keep', flags: [] }], error: 'script exceeded its execution budget' });
  });

  it('variables cannot grow without bound', () => {
    const doubling = Array.from({ length: 20 }, () => 'set "a" "${a}${a}";').join('');
    const s = `require ["variables","relational","comparator-i;ascii-numeric"]; set "a" "xxxxxxxxxxxxxxxx"; ${doubling} set :length "n" "\${a}"; if string :value "le" :comparator "i;ascii-numeric" "\${n}" "4096" { discard; }`;
    expect(run(s).actions).toEqual([]);
  });
});
