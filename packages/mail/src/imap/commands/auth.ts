import type { AuthResult } from '@palabre/core';
import { ImapError, no, bad } from '../errors.js';
import { NOT_AUTHENTICATED, defineCommand } from '../command.js';
import { LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT, decodeLoginLine, decodePlain } from '../sasl.js';
import type { Session } from '../session.js';

/** Verify, then become authenticated: groups loaded once, default mailboxes made on first login. */
async function authenticate(s: Session, username: string, password: string, mechanism: string): Promise<{ code: string; text: string }> {
  if (!s.passwordsAllowed) throw no('PRIVACYREQUIRED', 'Use STARTTLS first');
  let result: AuthResult;
  try {
    result = await s.ctx.authenticator.verifyPassword(username, password, { protocol: 'imap', ip: s.ip, mechanism, secure: s.passwordsAllowed });
  } catch (error) {
    throw no('UNAVAILABLE', 'Authentication is temporarily unavailable', error);
  }
  if (!result.ok) {
    s.authFailures++;
    s.log.info({ reason: result.reason, mechanism, failures: s.authFailures }, 'imap.login-failed');
    if (s.authFailures >= s.ctx.limits.maxAuthFailures) throw new ImapError('BYE', null, 'Too many authentication failures');
    switch (result.reason) {
      case 'throttled':
        throw no('UNAVAILABLE', 'Too many failed attempts, try again later');
      case 'account-suspended':
        throw no('AUTHORIZATIONFAILED', 'Account suspended, contact your administrator');
      case 'insecure-channel':
        throw no('PRIVACYREQUIRED', 'Use STARTTLS first');
      case 'unavailable':
        throw no('UNAVAILABLE', 'Authentication is temporarily unavailable');
      default:
        throw no('AUTHENTICATIONFAILED', 'Authentication failed');
    }
  }
  const principal = result.principal;
  const groups = await s.ctx.directory.groupsOfAccount(principal.accountId).catch(() => []);
  await s.store.ensureMailboxes(principal.accountId);
  s.principal = principal;
  s.groupIds = groups.map((g) => g.id);
  s.state = 'authenticated';
  s.log.info({ accountId: principal.accountId, method: result.method, mechanism, secure: s.secure }, 'imap.login');
  return { code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
}

export const loginCommand = defineCommand({
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  parse(r, s) {
    if (!s.passwordsAllowed) throw no('PRIVACYREQUIRED', 'LOGIN is disabled until STARTTLS');
    r.sp();
    const user = r.astring('user name');
    r.sp();
    const pass = r.astring('password');
    r.end();
    return { user, pass };
  },
  run: (s, { user, pass }) => authenticate(s, user, pass, 'LOGIN'),
});

async function saslResponse(s: Session, prompt: string): Promise<string> {
  await s.continuation(prompt);
  const line = await s.readLine();
  if (line === null) throw new ImapError('BYE', null, 'Connection closed during authentication');
  if (line === '*') throw bad('Authentication cancelled');
  return line;
}

export const authenticateCommand = defineCommand({
  name: 'AUTHENTICATE',
  states: NOT_AUTHENTICATED,
  parse(r) {
    r.sp();
    const mechanism = r.atom('mechanism').toUpperCase();
    let initial: string | null = null;
    if (r.maybeSp()) initial = r.atom('initial response');
    r.end();
    return { mechanism, initial };
  },
  async run(s, { mechanism, initial }) {
    if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') throw no('CANNOT', 'Unsupported authentication mechanism');
    if (!s.passwordsAllowed) throw no('PRIVACYREQUIRED', 'Use STARTTLS first');
    const ir = initial === '=' ? '' : initial;
    if (mechanism === 'PLAIN') {
      const response = ir ?? (await saslResponse(s, ''));
      const creds = decodePlain(response);
      if (!creds) throw bad('Invalid SASL PLAIN response');
      return authenticate(s, creds.username, creds.password, 'PLAIN');
    }
    const username = decodeLoginLine(ir ?? (await saslResponse(s, LOGIN_USERNAME_PROMPT)));
    if (username === null || username === '') throw bad('Invalid SASL LOGIN response');
    const password = decodeLoginLine(await saslResponse(s, LOGIN_PASSWORD_PROMPT));
    if (password === null) throw bad('Invalid SASL LOGIN response');
    return authenticate(s, username, password, 'LOGIN');
  },
});
