/** Every event name the auth package logs. */
export const AUTH_LOG_EVENTS = [
  'auth.success',
  'auth.failure',
  'auth.throttled',
  'auth.locked',
  'auth.rehash',
  'auth.ldap-unavailable',
  'auth.error',
] as const;

export type AuthLogEvent = (typeof AUTH_LOG_EVENTS)[number];
