/**
 * text-match (RFC 4791 §9.7.5, RFC 6352 §10.5.4) with the collations of RFC 4790 and RFC 5051:
 * i;octet compares bytes, i;ascii-casemap folds only A-Z, i;unicode-casemap folds case the Unicode
 * way (and, like the other servers, compatibility forms through NFKC, so "ﬁ" finds "fi").
 */
export type Collation = 'i;octet' | 'i;ascii-casemap' | 'i;unicode-casemap';
export type MatchType = 'equals' | 'contains' | 'starts-with' | 'ends-with';

export const COLLATIONS: readonly Collation[] = ['i;ascii-casemap', 'i;octet', 'i;unicode-casemap'];

export interface TextMatch {
  readonly value: string;
  readonly collation: Collation;
  readonly matchType: MatchType;
  readonly negate: boolean;
}

export function fold(text: string, collation: Collation): string {
  if (collation === 'i;octet') return text;
  if (collation === 'i;ascii-casemap') return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return text.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/** Whether one value matches (before negate-condition is applied by the caller per property). */
export function textMatches(value: string, match: TextMatch): boolean {
  const v = fold(value, match.collation);
  const needle = fold(match.value, match.collation);
  switch (match.matchType) {
    case 'equals':
      return v === needle;
    case 'starts-with':
      return v.startsWith(needle);
    case 'ends-with':
      return v.endsWith(needle);
    default:
      return v.includes(needle);
  }
}

/** A property matches when one of its values does (RFC 4791: any), negated as a whole. */
export function valuesMatch(values: readonly string[], match: TextMatch): boolean {
  const hit = values.some((v) => textMatches(v, match));
  return match.negate ? !hit : hit;
}
