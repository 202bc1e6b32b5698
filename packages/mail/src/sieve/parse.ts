/**
 * The Sieve grammar (RFC 5228 §8): one tokenizer and recursive-descent parser for every caller
 * (delivery, ManageSieve PUTSCRIPT/CHECKSCRIPT, the CLI). Scripts come from users over the network,
 * so everything is bounded before it is built: script size, nesting depth (blocks and tests
 * together, so 1,000 nested ifs stop at the limit instead of at the stack), node count, string-list
 * length. Errors carry the line and column of the offending token.
 */

export interface SieveLimits {
  /** Bytes of script text (ManageSieve's MAXSCRIPTSIZE). */
  readonly maxScriptBytes: number;
  /** Blocks and nested tests, counted together. */
  readonly maxNesting: number;
  /** Commands, tests and arguments in the whole script. */
  readonly maxNodes: number;
  /** Strings in one string list. */
  readonly maxListLength: number;
  /** Actions one run may take (fileinto, redirect, vacation, …): the rest is an error (RFC 5228 §2.10.6). */
  readonly maxActions: number;
  /** Redirects one run may do. */
  readonly maxRedirects: number;
  /** Work units of one run (comparisons weighted by length): a hostile script stops, mail is kept. */
  readonly maxSteps: number;
  /** Variables (RFC 5229 §6): how many, and how long each value may grow. */
  readonly maxVariables: number;
  readonly maxVariableLength: number;
}

export const DEFAULT_SIEVE_LIMITS: SieveLimits = {
  maxScriptBytes: 256 * 1024,
  maxNesting: 32,
  maxNodes: 20_000,
  maxListLength: 1_024,
  maxActions: 64,
  maxRedirects: 4,
  maxSteps: 5_000_000,
  maxVariables: 256,
  maxVariableLength: 4_096,
};

export interface Position {
  readonly line: number;
  readonly column: number;
}

export class SieveSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'SieveSyntaxError';
  }
}

export type SieveArgument =
  | { readonly kind: 'tag'; readonly value: string; readonly at: Position }
  | { readonly kind: 'number'; readonly value: number; readonly at: Position }
  | { readonly kind: 'strings'; readonly value: readonly string[]; readonly list: boolean; readonly at: Position };

export interface SieveTest {
  /** Lower-case identifier. */
  readonly name: string;
  readonly args: readonly SieveArgument[];
  readonly tests: readonly SieveTest[];
  readonly at: Position;
}

export interface SieveCommand {
  readonly name: string;
  readonly args: readonly SieveArgument[];
  readonly tests: readonly SieveTest[];
  /** Present for commands written with a `{ … }` block. */
  readonly block: readonly SieveCommand[] | null;
  readonly at: Position;
}

type Token =
  | { type: 'identifier'; value: string; at: Position }
  | { type: 'tag'; value: string; at: Position }
  | { type: 'number'; value: number; at: Position }
  | { type: 'string'; value: string; at: Position }
  | { type: 'punct'; value: '[' | ']' | '(' | ')' | '{' | '}' | ';' | ','; at: Position }
  | { type: 'end'; at: Position };

const QUANTIFIER: Record<string, number> = { k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  private pos(at = this.i): Position {
    return { line: this.line, column: at - this.lineStart + 1 };
  }

  fail(message: string, at: Position = this.pos()): never {
    throw new SieveSyntaxError(message, at.line, at.column);
  }

  private newline(at: number): void {
    this.line++;
    this.lineStart = at + 1;
  }

  private skip(): void {
    const t = this.text;
    for (;;) {
      const c = t[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '\n') {
        this.newline(this.i);
        this.i++;
      } else if (c === '#') {
        while (this.i < t.length && t[this.i] !== '\n') this.i++;
      } else if (c === '/' && t[this.i + 1] === '*') {
        const start = this.pos();
        this.i += 2;
        for (;;) {
          if (this.i >= t.length) this.fail('unterminated comment', start);
          if (t[this.i] === '*' && t[this.i + 1] === '/') {
            this.i += 2;
            break;
          }
          if (t[this.i] === '\n') this.newline(this.i);
          this.i++;
        }
      } else return;
    }
  }

  next(): Token {
    this.skip();
    const t = this.text;
    const at = this.pos();
    if (this.i >= t.length) return { type: 'end', at };
    const c = t[this.i]!;
    if ('[](){};,'.includes(c)) {
      this.i++;
      return { type: 'punct', value: c as '[', at };
    }
    if (c === '"') return { type: 'string', value: this.quoted(at), at };
    if (c === ':') {
      this.i++;
      const id = this.identifier();
      if (!id) this.fail('a tag needs a name after ":"', at);
      return { type: 'tag', value: id.toLowerCase(), at };
    }
    if (c >= '0' && c <= '9') {
      let j = this.i;
      while (j < t.length && t[j]! >= '0' && t[j]! <= '9') j++;
      const digits = t.slice(this.i, j);
      let value = Number(digits);
      const q = t[j]?.toLowerCase();
      if (q && QUANTIFIER[q]) {
        value *= QUANTIFIER[q]!;
        j++;
      }
      // RFC 5228 §2.4.1: numbers are at least 31 bits; bigger ones are an error, not a wrap.
      if (!Number.isSafeInteger(value) || value > 2 ** 53) this.fail('number too large', at);
      this.i = j;
      return { type: 'number', value, at };
    }
    const id = this.identifier();
    if (id) {
      if (id.toLowerCase() === 'text' && t[this.i] === ':') {
        this.i++;
        return { type: 'string', value: this.multiline(at), at };
      }
      return { type: 'identifier', value: id.toLowerCase(), at };
    }
    this.fail(`unexpected character ${JSON.stringify(c)}`, at);
  }

  private identifier(): string {
    const t = this.text;
    const start = this.i;
    const first = t[this.i];
    if (!first || !/[A-Za-z_]/.test(first)) return '';
    this.i++;
    while (this.i < t.length && /[A-Za-z0-9_]/.test(t[this.i]!)) this.i++;
    return t.slice(start, this.i);
  }

  private quoted(at: Position): string {
    const t = this.text;
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= t.length) this.fail('unterminated string', at);
      const c = t[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') {
        // RFC 5228 §2.4.2: "\\" and "\"" are escapes; any other backslash is dropped.
        const n = t[this.i + 1];
        if (n === undefined) this.fail('unterminated string', at);
        if (n === '\n') this.newline(this.i + 1);
        out += n;
        this.i += 2;
        continue;
      }
      if (c === '\n') this.newline(this.i);
      out += c;
      this.i++;
    }
  }

  /** `text:` to a line holding a lone ".", with dot-stuffing undone (RFC 5228 §2.4.2). */
  private multiline(at: Position): string {
    const t = this.text;
    // Rest of the `text:` line: only white space and a hash comment.
    while (t[this.i] === ' ' || t[this.i] === '\t') this.i++;
    if (t[this.i] === '#') while (this.i < t.length && t[this.i] !== '\n') this.i++;
    if (t[this.i] === '\r') this.i++;
    if (t[this.i] !== '\n') this.fail('"text:" must end its line', this.pos());
    this.newline(this.i);
    this.i++;
    const lines: string[] = [];
    for (;;) {
      if (this.i >= t.length) this.fail('unterminated multi-line string (no "." line)', at);
      let end = t.indexOf('\n', this.i);
      if (end < 0) end = t.length;
      let line = t.slice(this.i, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.newline(end);
      this.i = end + 1;
      if (line === '.') return lines.map((l) => l + '\r\n').join('');
      lines.push(line.startsWith('..') ? line.slice(1) : line);
    }
  }
}

/** Parse a script to its command list; throws SieveSyntaxError. */
export function parseSieve(text: string, limits: SieveLimits = DEFAULT_SIEVE_LIMITS): SieveCommand[] {
  if (Buffer.byteLength(text, 'utf8') > limits.maxScriptBytes) throw new SieveSyntaxError(`script larger than ${limits.maxScriptBytes} bytes`, 1, 1);
  if (text.includes('\u0000')) {
    const before = text.slice(0, text.indexOf('\u0000')).split('\n');
    throw new SieveSyntaxError('NUL character in script', before.length, before[before.length - 1]!.length + 1);
  }
  const lexer = new Lexer(text);
  let token = lexer.next();
  let nodes = 0;
  const advance = () => {
    const t = token;
    token = lexer.next();
    return t;
  };
  const count = (at: Position) => {
    if (++nodes > limits.maxNodes) lexer.fail(`script has more than ${limits.maxNodes} elements`, at);
  };
  const isPunct = (v: string) => token.type === 'punct' && token.value === v;
  const expectPunct = (v: string, what: string) => {
    if (!isPunct(v)) lexer.fail(`expected "${v}" ${what}, found ${describe(token)}`, token.at);
    advance();
  };

  const argumentsOf = (depth: number): { args: SieveArgument[]; tests: SieveTest[] } => {
    const args: SieveArgument[] = [];
    for (;;) {
      if (token.type === 'tag') {
        count(token.at);
        args.push({ kind: 'tag', value: token.value, at: token.at });
        advance();
      } else if (token.type === 'number') {
        count(token.at);
        args.push({ kind: 'number', value: token.value, at: token.at });
        advance();
      } else if (token.type === 'string') {
        count(token.at);
        args.push({ kind: 'strings', value: [token.value], list: false, at: token.at });
        advance();
      } else if (isPunct('[')) {
        const at = token.at;
        count(at);
        advance();
        const values: string[] = [];
        for (;;) {
          const item = token as Token;
          if (item.type !== 'string') lexer.fail(`expected a string in the list, found ${describe(item)}`, item.at);
          values.push((item as Extract<Token, { type: 'string' }>).value);
          if (values.length > limits.maxListLength) lexer.fail(`string list longer than ${limits.maxListLength}`, token.at);
          advance();
          if (isPunct(',')) {
            advance();
            continue;
          }
          expectPunct(']', 'to close the string list');
          break;
        }
        args.push({ kind: 'strings', value: values, list: true, at });
      } else break;
    }
    const tests: SieveTest[] = [];
    if (token.type === 'identifier') tests.push(test(depth));
    else if (isPunct('(')) {
      advance();
      for (;;) {
        tests.push(test(depth));
        if (isPunct(',')) {
          advance();
          continue;
        }
        expectPunct(')', 'to close the test list');
        break;
      }
    }
    return { args, tests };
  };

  const test = (depth: number): SieveTest => {
    if (token.type !== 'identifier') lexer.fail(`expected a test, found ${describe(token)}`, token.at);
    const at = token.at;
    if (depth + 1 > limits.maxNesting) lexer.fail(`tests nested deeper than ${limits.maxNesting}`, at);
    count(at);
    const name = advance() as Extract<Token, { type: 'identifier' }>;
    const { args, tests } = argumentsOf(depth + 1);
    return { name: name.value, args, tests, at };
  };

  const commands = (depth: number, closing: boolean): SieveCommand[] => {
    const out: SieveCommand[] = [];
    for (;;) {
      if (closing && isPunct('}')) return out;
      if (token.type === 'end') {
        if (closing) lexer.fail('unexpected end of script: a block is not closed', token.at);
        return out;
      }
      if (token.type !== 'identifier') lexer.fail(`expected a command, found ${describe(token)}`, token.at);
      const at = token.at;
      count(at);
      const name = (advance() as Extract<Token, { type: 'identifier' }>).value;
      const { args, tests } = argumentsOf(depth);
      if (isPunct(';')) {
        advance();
        out.push({ name, args, tests, block: null, at });
      } else if (isPunct('{')) {
        if (depth + 1 > limits.maxNesting) lexer.fail(`blocks nested deeper than ${limits.maxNesting}`, token.at);
        advance();
        const block = commands(depth + 1, true);
        expectPunct('}', 'to close the block');
        out.push({ name, args, tests, block, at });
      } else lexer.fail(`expected ";" or "{" after ${name}, found ${describe(token)}`, token.at);
    }
  };

  return commands(0, false);
}

function describe(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'end of script';
    case 'identifier':
      return `"${token.value}"`;
    case 'tag':
      return `":${token.value}"`;
    case 'number':
      return `number ${token.value}`;
    case 'string':
      return 'a string';
    default:
      return `"${token.value}"`;
  }
}
