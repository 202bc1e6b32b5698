import { COMPARATORS, RELATIONS, type ComparatorName, type MatchType, type Relation } from './match.js';
import { DEFAULT_SIEVE_LIMITS, parseSieve, SieveSyntaxError, type Position, type SieveArgument, type SieveCommand, type SieveLimits, type SieveTest } from './parse.js';

/** What `require` may name: the SIEVE capability ManageSieve advertises. */
export const SIEVE_EXTENSIONS = [
  'fileinto',
  'copy',
  'reject',
  'ereject',
  'envelope',
  'imap4flags',
  'body',
  'variables',
  'relational',
  'subaddress',
  'date',
  'vacation',
  'comparator-i;ascii-numeric',
] as const;

export type AddressPart = 'all' | 'localpart' | 'domain' | 'user' | 'detail';
export const DATE_PARTS = ['year', 'month', 'day', 'date', 'julian', 'hour', 'minute', 'second', 'time', 'iso8601', 'std11', 'zone', 'weekday'] as const;

/** A command or test with its arguments sorted out: tags by name, the rest in order. */
export interface Checked {
  readonly name: string;
  readonly at: Position;
  readonly tags: ReadonlyMap<string, string | number | readonly string[] | true>;
  readonly positional: readonly (readonly string[] | number)[];
  readonly comparator: ComparatorName;
  readonly match: MatchType;
  readonly addressPart: AddressPart;
  readonly tests: readonly Checked[];
  readonly block: readonly Checked[] | null;
}

export interface CompiledSieve {
  readonly commands: readonly Checked[];
  readonly extensions: ReadonlySet<string>;
  readonly usesBody: boolean;
}

type ArgKind = 'string' | 'strings' | 'number';
interface Spec {
  readonly ext?: string;
  /** Tag name → its value kind (null: no value), and the extension it needs. */
  readonly tags?: Readonly<Record<string, readonly [ArgKind | null, string?]>>;
  readonly comparator?: boolean;
  readonly match?: boolean;
  readonly addressPart?: boolean;
  readonly positional: readonly ArgKind[];
  /** Leading positionals that may be left out (setflag's variable name). */
  readonly optionalLeading?: number;
  readonly tests?: 'one' | 'list';
  readonly block?: boolean;
}

const FLAGS_TAG = { flags: ['strings', 'imap4flags'] } as const;
const COMMANDS: Record<string, Spec> = {
  require: { positional: ['strings'] },
  if: { positional: [], tests: 'one', block: true },
  elsif: { positional: [], tests: 'one', block: true },
  else: { positional: [], block: true },
  stop: { positional: [] },
  keep: { positional: [], tags: FLAGS_TAG },
  discard: { positional: [] },
  fileinto: { ext: 'fileinto', positional: ['string'], tags: { copy: [null, 'copy'], ...FLAGS_TAG } },
  redirect: { positional: ['string'], tags: { copy: [null, 'copy'] } },
  reject: { ext: 'reject', positional: ['string'] },
  ereject: { ext: 'ereject', positional: ['string'] },
  setflag: { ext: 'imap4flags', positional: ['string', 'strings'], optionalLeading: 1 },
  addflag: { ext: 'imap4flags', positional: ['string', 'strings'], optionalLeading: 1 },
  removeflag: { ext: 'imap4flags', positional: ['string', 'strings'], optionalLeading: 1 },
  set: {
    ext: 'variables',
    positional: ['string', 'string'],
    tags: { lower: [null], upper: [null], lowerfirst: [null], upperfirst: [null], quotewildcard: [null], length: [null] },
  },
  vacation: {
    ext: 'vacation',
    positional: ['string'],
    tags: { days: ['number'], subject: ['string'], from: ['string'], addresses: ['strings'], mime: [null], handle: ['string'] },
  },
};
const TESTS: Record<string, Spec> = {
  address: { positional: ['strings', 'strings'], comparator: true, match: true, addressPart: true },
  envelope: { ext: 'envelope', positional: ['strings', 'strings'], comparator: true, match: true, addressPart: true },
  header: { positional: ['strings', 'strings'], comparator: true, match: true },
  exists: { positional: ['strings'] },
  size: { positional: ['number'], tags: { over: [null], under: [null] } },
  allof: { positional: [], tests: 'list' },
  anyof: { positional: [], tests: 'list' },
  not: { positional: [], tests: 'one' },
  true: { positional: [] },
  false: { positional: [] },
  body: { ext: 'body', positional: ['strings'], comparator: true, match: true, tags: { raw: [null], content: ['strings'], text: [null] } },
  hasflag: { ext: 'imap4flags', positional: ['strings', 'strings'], optionalLeading: 1, comparator: true, match: true },
  string: { ext: 'variables', positional: ['strings', 'strings'], comparator: true, match: true },
  date: { ext: 'date', positional: ['string', 'string', 'strings'], comparator: true, match: true, tags: { zone: ['string'], originalzone: [null] } },
  currentdate: { ext: 'date', positional: ['string', 'strings'], comparator: true, match: true, tags: { zone: ['string'] } },
};

function fail(message: string, at: Position): never {
  throw new SieveSyntaxError(message, at.line, at.column);
}

/** Parse and validate: unknown commands, missing `require`, wrong arguments are errors at upload time. */
export function compileSieve(text: string, limits: SieveLimits = DEFAULT_SIEVE_LIMITS): CompiledSieve {
  const tree = parseSieve(text, limits);
  const extensions = new Set<string>();
  let usesBody = false;
  let requiresAllowed = true;

  const check = (node: SieveCommand | SieveTest, spec: Spec, kind: 'command' | 'test'): Checked => {
    if (spec.ext && !extensions.has(spec.ext)) fail(`${kind} "${node.name}" needs require "${spec.ext}"`, node.at);
    const tags = new Map<string, string | number | readonly string[] | true>();
    const positional: (readonly string[] | number)[] = [];
    const positionalArgs: SieveArgument[] = [];
    let comparator: ComparatorName = 'i;ascii-casemap';
    let match: MatchType = { type: 'is' };
    let addressPart: AddressPart = 'all';
    const seen = new Set<string>();
    const args = node.args;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.kind !== 'tag') {
        positional.push(a.kind === 'number' ? a.value : a.value);
        positionalArgs.push(a);
        continue;
      }
      if (positional.length > 0) fail(`tag ":${a.value}" must come before the other arguments`, a.at);
      const group = ['is', 'contains', 'matches', 'value', 'count'].includes(a.value)
        ? 'match'
        : ['all', 'localpart', 'domain', 'user', 'detail'].includes(a.value)
          ? 'address'
          : a.value;
      if (seen.has(group)) fail(`":${a.value}" conflicts with an earlier tag`, a.at);
      seen.add(group);
      const value = (want: ArgKind): SieveArgument => {
        const v = args[++i];
        if (!v || v.kind === 'tag' || (want === 'number') !== (v.kind === 'number') || (want === 'string' && v.kind === 'strings' && (v.list || v.value.length !== 1)))
          fail(`":${a.value}" needs a ${want === 'strings' ? 'string list' : want}`, v?.at ?? a.at);
        return v;
      };
      if (group === 'match' && spec.match) {
        if (a.value === 'value' || a.value === 'count') {
          if (!extensions.has('relational')) fail(`":${a.value}" needs require "relational"`, a.at);
          const rel = value('string') as Extract<SieveArgument, { kind: 'strings' }>;
          const relation = rel.value[0]!.toLowerCase() as Relation;
          if (!RELATIONS.includes(relation)) fail(`unknown relation "${rel.value[0]}"`, rel.at);
          match = { type: a.value, relation };
        } else match = { type: a.value as 'is' };
      } else if (group === 'address' && spec.addressPart) {
        if ((a.value === 'user' || a.value === 'detail') && !extensions.has('subaddress')) fail(`":${a.value}" needs require "subaddress"`, a.at);
        addressPart = a.value as AddressPart;
      } else if (a.value === 'comparator' && spec.comparator) {
        const c = value('string') as Extract<SieveArgument, { kind: 'strings' }>;
        const name = c.value[0]!.toLowerCase() as ComparatorName;
        if (!COMPARATORS.includes(name)) fail(`unknown comparator "${c.value[0]}"`, c.at);
        if (name === 'i;ascii-numeric' && !extensions.has('comparator-i;ascii-numeric')) fail('comparator "i;ascii-numeric" needs require "comparator-i;ascii-numeric"', c.at);
        comparator = name;
      } else {
        const t = spec.tags?.[a.value];
        if (!t) fail(`unknown tag ":${a.value}" for ${node.name}`, a.at);
        if (t[1] && !extensions.has(t[1])) fail(`":${a.value}" needs require "${t[1]}"`, a.at);
        if (t[0] === null) tags.set(a.value, true);
        else {
          const v = value(t[0]);
          tags.set(a.value, v.kind === 'number' ? v.value : t[0] === 'string' ? (v as { value: readonly string[] }).value[0]! : (v as { value: readonly string[] }).value);
        }
      }
    }
    const min = spec.positional.length - (spec.optionalLeading ?? 0);
    if (positional.length < min || positional.length > spec.positional.length) fail(`${node.name} takes ${min === spec.positional.length ? min : `${min} to ${spec.positional.length}`} arguments, found ${positional.length}`, node.at);
    const kinds = spec.positional.slice(spec.positional.length - positional.length);
    positional.forEach((p, i) => {
      const want = kinds[i]!;
      const arg = positionalArgs[i]!;
      if ((want === 'number') !== (typeof p === 'number')) fail(`argument ${i + 1} of ${node.name} must be a ${want === 'number' ? 'number' : 'string'}`, arg.at);
      if (want === 'string' && (arg.kind !== 'strings' || arg.list)) fail(`argument ${i + 1} of ${node.name} must be a single string`, arg.at);
    });
    if (node.name === 'size' && tags.has('over') === tags.has('under')) fail('size needs exactly one of :over and :under', node.at);
    if (node.name === 'body' && [tags.has('raw'), tags.has('content'), tags.has('text')].filter(Boolean).length > 1) fail('body takes one of :raw, :content, :text', node.at);
    if (node.name === 'date' && tags.has('zone') && tags.has('originalzone')) fail('date takes :zone or :originalzone, not both', node.at);
    if ((node.name === 'date' || node.name === 'currentdate') && !DATE_PARTS.includes(((positional[positional.length - 2] as string[])[0] ?? '').toLowerCase() as 'year'))
      fail(`unknown date part "${(positional[positional.length - 2] as string[])[0]}"`, node.at);
    if (node.name === 'vacation') {
      const days = tags.get('days');
      if (typeof days === 'number' && days < 1) fail('vacation :days must be at least 1', node.at);
    }
    if (node.name === 'body') usesBody = true;
    if (node.name === 'set' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test((positional[0] as string[])[0]!)) fail(`invalid variable name "${(positional[0] as string[])[0]}"`, node.at);
    const tests = node.tests.map((t) => checkTest(t));
    if (spec.tests === 'one' && tests.length !== 1) fail(`${node.name} takes exactly one test`, node.at);
    if (spec.tests === 'list' && tests.length === 0) fail(`${node.name} takes a list of tests`, node.at);
    if (!spec.tests && tests.length > 0) fail(`${node.name} takes no test`, node.tests[0]!.at);
    let block: Checked[] | null = null;
    if ('block' in node) {
      if (spec.block && node.block === null) fail(`${node.name} needs a block`, node.at);
      if (!spec.block && node.block !== null) fail(`${node.name} takes no block`, node.at);
      if (node.block) block = commandList(node.block);
    }
    return { name: node.name, at: node.at, tags, positional, comparator, match, addressPart, tests, block };
  };

  const checkTest = (t: SieveTest): Checked => {
    const spec = TESTS[t.name];
    if (!spec) fail(`unknown test "${t.name}"`, t.at);
    return check(t, spec, 'test');
  };

  const commandList = (list: readonly SieveCommand[]): Checked[] => {
    const out: Checked[] = [];
    for (const c of list) {
      if (c.name === 'require') {
        if (!requiresAllowed || list !== tree) fail('require must come before any other command', c.at);
        const names = c.args[0]?.kind === 'strings' ? c.args[0].value : [];
        if (c.args.length !== 1 || c.block || c.tests.length) fail('require takes one string list', c.at);
        for (const n of names) {
          const ext = n.toLowerCase();
          if (!(SIEVE_EXTENSIONS as readonly string[]).includes(ext)) fail(`unsupported extension "${n}"`, c.args[0]!.at);
          extensions.add(ext);
        }
        continue;
      }
      requiresAllowed = false;
      const spec = COMMANDS[c.name];
      if (!spec) fail(`unknown command "${c.name}"`, c.at);
      if ((c.name === 'elsif' || c.name === 'else') && !['if', 'elsif'].includes(out[out.length - 1]?.name ?? '')) fail(`${c.name} without a preceding if`, c.at);
      out.push(check(c, spec, 'command'));
    }
    return out;
  };

  const commands = commandList(tree);
  return { commands, extensions, usesBody };
}
