/**
 * Comparators (RFC 4790 via RFC 5228 §2.7.3) and match types: :is, :contains, :matches (RFC 5228
 * §2.7.1) and the relational :value/:count (RFC 5231). :matches runs in O(pattern × value) with no
 * backtracking beyond the last `*` (the classic two-pointer glob), so a pattern of a thousand stars
 * costs no more than a thousand passes, never an exponential blow-up. Wildcards capture leftmost-
 * shortest, the last `*` taking what is left, which is what the match variables of RFC 5229 §3.2 see.
 */

export type ComparatorName = 'i;octet' | 'i;ascii-casemap' | 'i;ascii-numeric';
export type Relation = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
export type MatchType = { readonly type: 'is' | 'contains' | 'matches' } | { readonly type: 'value' | 'count'; readonly relation: Relation };

export const COMPARATORS: readonly ComparatorName[] = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'];
export const RELATIONS: readonly Relation[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];

/** Counts the work a run does, so a hostile script is stopped rather than left to spin. */
export class StepBudget {
  private used = 0;
  constructor(readonly max: number) {}
  spend(n: number): void {
    this.used += n;
    if (this.used > this.max) throw new SieveRuntimeError('script exceeded its execution budget');
  }
}

export class SieveRuntimeError extends Error {
  override name = 'SieveRuntimeError';
}

/** ASCII-only case folding (i;ascii-casemap folds only a-z). */
function fold(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function prepare(comparator: ComparatorName, s: string): string {
  return comparator === 'i;ascii-casemap' ? fold(s) : s;
}

/** i;ascii-numeric: the leading digits as a number; no digits = positive infinity (RFC 4790 §9.1.1). */
function numeric(s: string): number {
  const m = /^[0-9]+/.exec(s);
  return m ? Number(m[0]) : Number.POSITIVE_INFINITY;
}

function compareOrdered(comparator: ComparatorName, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') {
    const x = numeric(a);
    const y = numeric(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = prepare(comparator, a);
  const y = prepare(comparator, b);
  return x === y ? 0 : x < y ? -1 : 1;
}

function relationHolds(relation: Relation, c: number): boolean {
  switch (relation) {
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
  }
}

/**
 * Glob match with `*`, `?` and `\` escapes. Returns the captured wildcard substrings ([0] is the
 * whole value) or null. Linear passes over the value, one per literal segment at most.
 */
export function globMatch(pattern: string, value: string, comparator: ComparatorName, budget: StepBudget): string[] | null {
  const p = parseGlob(pattern);
  const v = value;
  const eq = comparator === 'i;ascii-casemap' ? (a: string, b: string) => a === b || fold(a) === fold(b) : (a: string, b: string) => a === b;
  let pi = 0;
  let vi = 0;
  let starP = -1;
  let starV = 0;
  // Where each wildcard starts in the value; `*` ends where the next element starts.
  const starts = new Array<number>(p.length).fill(-1);
  let steps = 0;
  while (vi < v.length) {
    if (++steps > 256) {
      budget.spend(steps);
      steps = 0;
    }
    const el = p[pi];
    if (el && el.kind === 'star') {
      starP = pi;
      starV = vi;
      starts[pi] = vi;
      pi++;
    } else if (el && (el.kind === 'any' || eq(el.char, v[vi]!))) {
      starts[pi] = vi;
      pi++;
      vi++;
    } else if (starP >= 0) {
      // Give the last star one more character and retry what follows it.
      pi = starP + 1;
      starV++;
      vi = starV;
    } else return null;
  }
  budget.spend(steps);
  while (pi < p.length && p[pi]!.kind === 'star') {
    starts[pi] = vi;
    pi++;
  }
  if (pi < p.length) return null;
  const captures = [value];
  for (let i = 0; i < p.length; i++) {
    const el = p[i]!;
    if (el.kind === 'char') continue;
    const from = starts[i]!;
    if (el.kind === 'any') captures.push(v.slice(from, from + 1));
    else {
      const next = i + 1 < p.length ? starts[i + 1]! : v.length;
      captures.push(v.slice(from, next));
    }
  }
  return captures;
}

type GlobElement = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; char: string };

function parseGlob(pattern: string): GlobElement[] {
  const out: GlobElement[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) out.push({ kind: 'char', char: pattern[++i]! });
    else if (c === '*') {
      // Consecutive stars are one star for matching; each still captures (RFC 5229 §3.2), as empty.
      out.push({ kind: 'star' });
    } else if (c === '?') out.push({ kind: 'any' });
    else out.push({ kind: 'char', char: c });
  }
  return out;
}

/** Test one value against the keys; `onMatch` gets the captures of a successful :matches. */
export function matchValues(
  match: MatchType,
  comparator: ComparatorName,
  values: readonly string[],
  keys: readonly string[],
  budget: StepBudget,
  onMatch?: (captures: string[]) => void,
): boolean {
  if (match.type === 'count') {
    const n = String(values.length);
    return keys.some((k) => relationHolds(match.relation, compareOrdered(comparator, n, k)));
  }
  for (const value of values) {
    for (const key of keys) {
      budget.spend(1 + ((value.length + key.length) >> 6));
      switch (match.type) {
        case 'is':
          if (comparator === 'i;ascii-numeric' ? compareOrdered(comparator, value, key) === 0 : prepare(comparator, value) === prepare(comparator, key)) return true;
          break;
        case 'contains':
          if (comparator === 'i;ascii-numeric') throw new SieveRuntimeError('i;ascii-numeric does not support :contains');
          if (prepare(comparator, value).includes(prepare(comparator, key))) return true;
          break;
        case 'matches': {
          if (comparator === 'i;ascii-numeric') throw new SieveRuntimeError('i;ascii-numeric does not support :matches');
          const captures = globMatch(key, value, comparator, budget);
          if (captures) {
            onMatch?.(captures);
            return true;
          }
          break;
        }
        case 'value':
          if (relationHolds(match.relation, compareOrdered(comparator, value, key))) return true;
          break;
      }
    }
  }
  return false;
}
