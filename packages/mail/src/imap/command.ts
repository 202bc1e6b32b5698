import type { ArgReader, Segment } from './arguments.js';
import type { LiteralDecision } from './command-reader.js';
import type { Session } from './session.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export const ANY_STATE: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
export const AUTHENTICATED: readonly SessionState[] = ['authenticated', 'selected'];
export const SELECTED: readonly SessionState[] = ['selected'];
export const NOT_AUTHENTICATED: readonly SessionState[] = ['not-authenticated'];

/** What the tagged OK says (`tag OK [code] text`); the default text is `<NAME> completed`. */
export interface CommandResult {
  readonly code?: string;
  readonly text?: string;
  /** The handler wrote its tagged response itself (STARTTLS, COMPRESS: before switching transport). */
  readonly answered?: boolean;
}

/**
 * One IMAP command, declared once: the states it is valid in, its argument grammar (`parse`, which
 * reads everything after the command name and throws a syntax error for BAD) and its handler.
 */
export interface CommandDef<A = unknown> {
  readonly name: string;
  readonly states: readonly SessionState[];
  /**
   * Commands that address messages by sequence number (FETCH, STORE, SEARCH, COPY): EXPUNGEs found
   * while they run are held back until a later command (RFC 9051 §7.5.1).
   */
  readonly noExpunge?: boolean;
  parse(r: ArgReader, s: Session): A;
  run(s: Session, args: A, tag: string): Promise<CommandResult | void>;
  /** How to take a literal announced in this command (default: hold it, within the literal limit). */
  literal?(s: Session, segments: readonly Segment[], size: number, binary: boolean): Promise<LiteralDecision>;
}

export function defineCommand<A>(def: CommandDef<A>): CommandDef<A> {
  return def;
}

/** Commands with no arguments. */
export function noArgs(r: ArgReader): void {
  r.end();
}

/** ` SP mailbox`: a mailbox name argument in the session's encoding (modified UTF-7 or UTF-8). */
export function mailboxArg(r: ArgReader, s: Session, what = 'mailbox'): string {
  r.sp();
  return s.decodeName(r.astringBytes(what));
}

/** Commands whose only argument is a mailbox (DELETE, SUBSCRIBE, GETACL, MYRIGHTS, GETQUOTAROOT…). */
export function onlyMailbox(r: ArgReader, s: Session): string {
  const name = mailboxArg(r, s);
  r.end();
  return name;
}
