export { createAuthenticator, PalabreAuthenticator } from './authenticator.js';
export type { AuthenticatorOptions } from './authenticator.js';
export { createCredentialService, CredentialService } from './credentials.js';
export type { CredentialServiceOptions, IssuedSecret } from './credentials.js';
export { createHttpAuthenticator, parseBasic, parseBearer } from './http.js';
export type { HttpAuthenticatorOptions } from './http.js';
export {
  decodeSaslPlain,
  decodeSaslLoginLine,
  saslAuthenticate,
  SASL_MECHANISMS,
  SASL_LOGIN_USERNAME_PROMPT,
  SASL_LOGIN_PASSWORD_PROMPT,
  MAX_SASL_RESPONSE,
} from './sasl.js';
export type { SaslMechanism } from './sasl.js';
export { hashPassword, verifyPasswordHash, needsRehash, DEFAULT_ARGON2, MAX_PASSWORD_BYTES } from './password-hash.js';
export { checkPasswordPolicy, DEFAULT_PASSWORD_POLICY } from './password-policy.js';
export type { PasswordPolicy } from './password-policy.js';
export { generateAppPassword, generateToken, secretHash, canonicalAppPassword, APP_PASSWORD_PATTERN, TOKEN_PATTERN } from './secrets.js';
export { LoginThrottle, DEFAULT_THROTTLE_POLICY, accountKey, ipKey, deviceFailureKey, knownDeviceKey, clientNetwork } from './throttle.js';
export type { ThrottlePolicy, ThrottleVerdict, ThrottleKey, LoginAttempt } from './throttle.js';
export { LdapPasswordSource, escapeFilterValue, escapeDnValue } from './ldap.js';
export type { LdapVerdict } from './ldap.js';
export { CredentialCache } from './credential-cache.js';
export { AUTH_LOG_EVENTS } from './log-events.js';
export type { AuthLogEvent } from './log-events.js';
export { createAdministration, Administration, CalendarAdministration, generatePassword } from './administration/administration.js';
export type {
  AdministrationOptions,
  FolderGrantResult,
  IssuedAppPassword,
  MailboxShareResult,
  MemberInput,
  NewAccountInput,
  PasswordResult,
} from './administration/administration.js';
export { CLI_ACTOR } from './administration/actor.js';
export type { AdminActor, DomainAdministratorCheck } from './administration/actor.js';
