import { describe, expect, it } from 'vitest';
import { DavError } from './errors.js';
import { child, clark, elements, escapeAttr, escapeText, parseXml, serializeElement, textOf } from './xml-codec.js';

const status = (fn: () => unknown): number => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DavError);
    return (error as DavError).status;
  }
  throw new Error('expected a DavError');
};

describe('xml-codec', () => {
  it('resolves default and prefixed namespaces, the empty namespace and xml:lang', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><x:a xmlns:x="urn:x"/><b xmlns="urn:b"><c/></b><n xmlns="">v</n></D:prop></D:propfind>',
    );
    expect(clark(root)).toBe('{DAV:}propfind');
    const prop = child(root, 'DAV:', 'prop')!;
    expect(elements(prop).map(clark)).toEqual(['{urn:x}a', '{urn:b}b', '{}n']);
    expect(clark(elements(elements(prop)[1]!)[0]!)).toBe('{urn:b}c');
    expect(textOf(elements(prop)[2]!)).toBe('v');
  });

  it('decodes the predefined entities, character references above U+FFFF and CDATA', () => {
    const el = parseXml('<a>&lt;&amp;&gt;&quot;&apos;&#65536;&#x41;<![CDATA[<raw>]]></a>');
    expect(textOf(el)).toBe(`<&>"'\u{10000}A<raw>`);
  });

  it('refuses DTDs, entity declarations and external entities (XXE, billion laughs)', () => {
    expect(status(() => parseXml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'))).toBe(400);
    expect(status(() => parseXml('<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'))).toBe(400);
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]><lolz>&lol9;</lolz>`;
    expect(status(() => parseXml(lol))).toBe(400);
    expect(status(() => parseXml('<a>&unknown;</a>'))).toBe(400);
    expect(status(() => parseXml('<a>&#0;</a>'))).toBe(400);
    expect(status(() => parseXml('<a>&#xD800;</a>'))).toBe(400);
  });

  it('refuses malformed documents with 400', () => {
    for (const bad of [
      '<foo>',
      '<a></b>',
      '<a/><b/>',
      'text',
      '<p:a/>',
      '<a xmlns:p=""><p:b/></a>',
      '<a b="1" b="2"/>',
      '<a x:b="1"/>',
      '<a b=1/>',
      '<a>\u0001</a>',
      '<a><?xml version="1.0"?></a>',
    ]) {
      expect(status(() => parseXml(bad)), bad).toBe(400);
    }
    expect(status(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xc0, 0xae, 0x3c, 0x2f, 0x61, 0x3e])))).toBe(400);
    expect(status(() => parseXml('<?xml version="1.0" encoding="ISO-8859-1"?><a/>'))).toBe(415);
  });

  it('bounds depth and size', () => {
    expect(status(() => parseXml(`${'<a>'.repeat(100)}${'</a>'.repeat(100)}`))).toBe(400);
    expect(parseXml(`${'<a>'.repeat(60)}${'</a>'.repeat(60)}`).name).toBe('a');
    expect(status(() => parseXml(`<a>${'<b/>'.repeat(200)}</a>`, { maxNodes: 100 }))).toBe(400);
  });

  it('serializes self-contained fragments that parse back to the same tree', () => {
    const src = '<t:v xmlns:t="urn:t" xml:lang="fr" xmlns:q="urn:q" q:attr="&quot;x&quot;"><foo xmlns="bar"/><t:w>a &amp; b</t:w><plain xmlns="">c</plain></t:v>';
    const el = parseXml(src);
    const text = serializeElement(el);
    expect(text).toBe('<v xmlns="urn:t" xml:lang="fr" xmlns:a0="urn:q" a0:attr="&quot;x&quot;"><foo xmlns="bar"/><w>a &amp; b</w><plain xmlns="">c</plain></v>');
    expect(parseXml(text)).toEqual(el);
  });

  it('never writes a character XML 1.0 forbids: controls, U+FFFE/U+FFFF and lone surrogates become U+FFFD', () => {
    const hostile = 'a\u0001b\u000bc\ufffed\ud800e\udc00f\u{1F600}g\th';
    const out = escapeText(hostile);
    expect(out).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\u{1F600}g\th');
    expect(() => parseXml(`<a>${out}</a>`)).not.toThrow();
    expect(escapeAttr('x\u0000"')).toBe('x\ufffd&quot;');
  });

  it('answers a clean value as it is and still catches each unsafe character alone (the one-scan fast path)', () => {
    const plain = '"3f2a9c1b7d4e-1k" Mon, 07 Dec 2026 11:53:49 GMT file-0001.txt été 😀';
    expect(escapeText(plain)).toBe(plain);
    expect(escapeAttr(plain.replace(/"/g, ''))).toBe(plain.replace(/"/g, ''));
    for (const [input, text] of [
      ['a&b', 'a&amp;b'],
      ['a<b', 'a&lt;b'],
      ['a>b', 'a&gt;b'],
      ['a\rb', 'a&#13;b'],
      ['a\u0001', 'a\ufffd'],
      ['\ud800', '\ufffd'],
      ['x\udc00', 'x\ufffd'],
      ['\uffff', '\ufffd'],
    ]) expect(escapeText(input!)).toBe(text);
    expect(escapeAttr('a\tb\nc"d')).toBe('a&#9;b&#10;c&quot;d');
    expect(escapeAttr('\ud83d')).toBe('\ufffd');
  });
});
