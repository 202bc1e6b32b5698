import { describe, expect, it } from 'vitest';
import { MAX_MIME_DEPTH, MAX_MIME_PARTS, MimeAnalyzer, analyzeMessage } from './analyze.js';
import type { PartNode } from './types.js';

const crlf = (lines: string[]) => lines.join('\r\n');

const MULTIPART = crlf([
  'From: "Awa Mensah" <awa@sante.gouv.tg>',
  'To: bob@sante.gouv.tg, "Carol, C." <carol@sante.gouv.tg>',
  'Subject: =?utf-8?q?R=C3=A9union?= du lundi',
  'Date: Mon, 3 Mar 2025 09:15:00 +0000',
  'Message-ID: <abc@sante.gouv.tg>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  'preamble',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Bonjour caf=C3=A9',
  'ligne 2',
  '--b1',
  'Content-Type: application/pdf; name="r.pdf"',
  'Content-Disposition: attachment; filename="r.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0xLjQK',
  '--b1--',
  'epilogue',
  '',
]);

function slice(raw: string, a: number, b: number): string {
  return Buffer.from(raw).subarray(a, b).toString();
}

describe('analyzeMessage', () => {
  it('renders ENVELOPE, BODY and BODYSTRUCTURE and part offsets of a multipart message', async () => {
    const a = await analyzeMessage(MULTIPART);
    expect(a.size).toBe(Buffer.byteLength(MULTIPART));
    expect(a.headerBytes).toBe(MULTIPART.indexOf('preamble'));
    expect(a.header!.toString()).toBe(MULTIPART.slice(0, a.headerBytes));
    expect(a.data.envelope).toBe(
      '("Mon, 3 Mar 2025 09:15:00 +0000" "=?utf-8?q?R=C3=A9union?= du lundi" (("Awa Mensah" NIL "awa" "sante.gouv.tg")) ' +
        '(("Awa Mensah" NIL "awa" "sante.gouv.tg")) (("Awa Mensah" NIL "awa" "sante.gouv.tg")) ' +
        '((NIL NIL "bob" "sante.gouv.tg")("Carol, C." NIL "carol" "sante.gouv.tg")) NIL NIL NIL "<abc@sante.gouv.tg>")',
    );
    expect(a.data.bodystructure).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 26 2 NIL NIL NIL NIL)' +
        '("application" "pdf" ("name" "r.pdf") NIL NIL "base64" 12 NIL ("attachment" ("filename" "r.pdf")) NIL NIL)' +
        ' "mixed" ("boundary" "b1") NIL NIL NIL)',
    );
    expect(a.data.body).toBe('(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 26 2)("application" "pdf" ("name" "r.pdf") NIL NIL "base64" 12) "mixed")');
    const [p1, p2] = a.data.parts.c!;
    expect(slice(MULTIPART, p1!.bs, p1!.be)).toBe('Bonjour caf=C3=A9\r\nligne 2');
    expect(slice(MULTIPART, p1!.hs, p1!.bs)).toBe('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
    expect(slice(MULTIPART, p2!.bs, p2!.be)).toBe('JVBERi0xLjQK');
    expect(p1!.cs).toBe('utf-8');
    expect(p2!.enc).toBe('base64');
    expect(a.data.search.subject).toBe('Réunion du lundi');
    expect(a.data.search.to).toContain('Carol, C.');
    expect(a.data.date).toBe(Date.UTC(2025, 2, 3, 9, 15));
    expect(a.data.messageId).toBe('<abc@sante.gouv.tg>');
    expect(a.data.limits).toBeUndefined();
  });

  it('gives the same result whatever the chunking (byte by byte, CRLF split)', async () => {
    const whole = await analyzeMessage(MULTIPART);
    const analyzer = new MimeAnalyzer();
    for (const byte of Buffer.from(MULTIPART)) analyzer.write(Buffer.from([byte]));
    expect(analyzer.finish()).toEqual(whole);
  });

  it('describes a single-part message, defaults to text/plain us-ascii, counts lines', async () => {
    const raw = 'Subject: hi\r\n\r\nline one\r\nline two\r\n';
    const a = await analyzeMessage(raw);
    expect(a.data.bodystructure).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL)');
    expect(a.data.parts).toMatchObject({ t: 'text/plain', hs: 0, bs: 15, be: raw.length });
    expect(a.data.envelope).toBe('(NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  it('nests message/rfc822 with its own envelope and structure', async () => {
    const inner = crlf(['From: x@y.test', 'Subject: inner', 'Content-Type: text/html', '', '<p>hi</p>', '']);
    const raw = crlf(['Subject: outer', 'Content-Type: multipart/mixed; boundary=zz', '', '--zz', 'Content-Type: message/rfc822', '', inner, '--zz--', '']);
    const a = await analyzeMessage(raw);
    const part = a.data.parts.c![0]!;
    expect(part.t).toBe('message/rfc822');
    expect(part.m!.t).toBe('text/html');
    expect(slice(raw, part.m!.bs, part.m!.be)).toBe('<p>hi</p>\r\n');
    expect(a.data.bodystructure).toContain(
      '("message" "rfc822" NIL NIL NIL "7bit" 70 (NIL "inner" ((NIL NIL "x" "y.test")) ((NIL NIL "x" "y.test")) ((NIL NIL "x" "y.test")) NIL NIL NIL NIL NIL) ("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL)',
    );
  });

  it('lets an outer boundary end an unterminated inner multipart', async () => {
    const raw = crlf([
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      '',
      'text',
      '--outer',
      'Content-Type: text/plain',
      '',
      'second',
      '--outer--',
    ]);
    const a = await analyzeMessage(raw);
    const [alt, second] = a.data.parts.c!;
    expect(alt!.t).toBe('multipart/alternative');
    expect(slice(raw, alt!.c![0]!.bs, alt!.c![0]!.be)).toBe('text');
    expect(slice(raw, second!.bs, second!.be)).toBe('second');
  });

  it('survives malformed input: no blank line, no boundary, bare LF, binary, missing close', async () => {
    for (const raw of [
      'Subject: only a header',
      'no header at all\n\nbody',
      'Content-Type: multipart/mixed\r\n\r\n--x\r\nbody',
      'Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nabc\n--q',
      'Content-Type: text/plain; charset="\r\n\r\n\u0000\u0001\u00ff',
      'Content-Type: ;;;===\r\nContent-Transfer-Encoding:\r\n\r\nx',
      ':\r\n: :\r\n\r\n',
      '',
    ]) {
      const a = await analyzeMessage(raw);
      expect(a.size).toBe(Buffer.byteLength(raw));
      expect(a.data.bodystructure.startsWith('(')).toBe(true);
      expect(a.headerBytes).toBeLessThanOrEqual(a.size);
    }
    const bare = await analyzeMessage('Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nabc\n--q--\n');
    expect(bare.data.parts.c![0]).toMatchObject({ t: 'text/plain' });
    const raw = 'Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nabc\n--q--\n';
    expect(slice(raw, bare.data.parts.c![0]!.bs, bare.data.parts.c![0]!.be)).toBe('abc');
  });

  it('bounds nesting depth and part count', async () => {
    let raw = '';
    for (let i = 0; i < MAX_MIME_DEPTH + 10; i++) raw += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
    raw += 'Content-Type: text/plain\r\n\r\ndeep\r\n';
    const deep = await analyzeMessage(raw);
    expect(deep.data.limits).toContain('too-deep');
    let depth = 0;
    for (let n: PartNode | undefined = deep.data.parts; n; n = n.c?.[0]) depth++;
    expect(depth).toBeLessThanOrEqual(MAX_MIME_DEPTH + 1);

    const many = ['Content-Type: multipart/mixed; boundary=m', ''];
    for (let i = 0; i < MAX_MIME_PARTS + 50; i++) many.push('--m', '', `part ${i}`);
    many.push('--m--', '');
    const wide = await analyzeMessage(crlf(many));
    expect(wide.data.limits).toContain('too-many-parts');
    expect(wide.data.parts.c!.length).toBeLessThan(MAX_MIME_PARTS);
  });

  it('keeps memory bounded on a huge single line and a huge header', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x41);
    const analyzer = new MimeAnalyzer();
    analyzer.write(Buffer.from('Subject: big\r\n\r\n'));
    for (let i = 0; i < big.length; i += 65536) analyzer.write(big.subarray(i, i + 65536));
    const a = analyzer.finish();
    expect(a.data.parts.be).toBe(a.size);
    const header = 'X-Long: ' + 'y'.repeat(200_000) + '\r\nSubject: after\r\n\r\nbody';
    const h = await analyzeMessage(header);
    expect(h.header).toBeNull();
    expect(h.headerBytes).toBe(header.indexOf('body'));
    expect(h.data.limits).toContain('header-truncated');
  });

  it('treats message/rfc822 in base64 as an opaque part and digest parts as messages', async () => {
    const raw = crlf(['Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: in digest', '', 'x', '--d--', '']);
    const a = await analyzeMessage(raw);
    expect(a.data.parts.c![0]!.t).toBe('message/rfc822');
    expect(a.data.parts.c![0]!.m).toBeDefined();
    const b64 = await analyzeMessage('Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n');
    expect(b64.data.parts.m).toBeUndefined();
  });
});
