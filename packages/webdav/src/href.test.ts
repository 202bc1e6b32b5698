import { domainToASCII } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DavError } from './errors.js';
import { canonicalAddress, decodeSegment, encodeSegment, hrefOf, davPath, MAX_PATH_DEPTH, parseTarget } from './href.js';

const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as DavError).status;
  }
  return 0;
};

describe('href', () => {
  it('decodes percent-encoding and keeps names exactly as written (no Unicode normalisation)', () => {
    expect(parseTarget('/dav/files/a%40b/res-%e2%82%ac?x=1').segments).toEqual(['dav', 'files', 'a@b', 'res-€']);
    expect(decodeSegment('e%CC%81t%C3%A9')).toBe('e\u0301t\u00e9');
    expect(encodeSegment(decodeSegment('e%CC%81t%C3%A9'))).toBe('e%CC%81t%C3%A9');
    expect(parseTarget('/dav//files/').segments).toEqual(['dav', 'files']);
    expect(parseTarget('/dav/files/').trailingSlash).toBe(true);
    expect(parseTarget('http://host:8080/dav/x').segments).toEqual(['dav', 'x']);
  });

  it('refuses traversal, encoded slashes, NUL, controls and invalid or overlong UTF-8', () => {
    for (const bad of ['/dav/..', '/dav/%2e%2e/x', '/dav/%2E', '/dav/a%2fb', '/dav/a%2Fb', '/dav/a%00', '/dav/%0a', '/dav/%c0%ae%c0%ae', '/dav/%ff', '/dav/%e2%82', '/dav/%zz', 'relative']) {
      expect(status(() => parseTarget(bad)), bad).toBe(400);
    }
  });

  it('refuses paths too long or too deep with 414', () => {
    expect(status(() => parseTarget(`/${'a/'.repeat(MAX_PATH_DEPTH + 1)}`))).toBe(414);
    expect(status(() => parseTarget(`/${'x'.repeat(3000)}`))).toBe(414);
    expect(parseTarget(`/${'a/'.repeat(MAX_PATH_DEPTH)}`).segments).toHaveLength(MAX_PATH_DEPTH);
  });

  it('encodes hrefs so they decode back to the same names', () => {
    for (const name of ['plain.txt', 'with space', 'a#b?c', '100%', 'été', '日本', 'a;b=c@d', '\u{1F600}']) {
      expect(decodeSegment(encodeSegment(name))).toBe(name);
    }
    expect(hrefOf('/dav', davPath(['files', 'a b']), true)).toBe('/dav/files/a%20b/');
    expect(hrefOf('/dav', davPath([]), false)).toBe('/dav/');
  });

  it('spells an address segment one way, and leaves every other segment as it is', () => {
    for (const spelling of ['ALICE@EXAMPLE.TEST', 'Alice@Example.Test.', 'alice@example.test']) expect(canonicalAddress(spelling)).toBe('alice@example.test');
    expect(canonicalAddress(decodeSegment('E%CC%81lise@MS.GOUV.TEST'))).toBe('élise@ms.gouv.test');
    expect(canonicalAddress('awa@Ministère.gouv.tg')).toBe(`awa@${domainToASCII('ministère.gouv.tg')}`);
    for (const other of ['Rapport.PDF', 'projets', 'a b@example.test', 'not@an@address', '@example.test', 'x@']) expect(canonicalAddress(other)).toBe(other);
  });
});
