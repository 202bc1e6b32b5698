/** The closed set of events this package logs. */
export const WEB_LOG_EVENTS = {
  /** An onboarding answer (autoconfig, autodiscover, profile), with its status and the domain asked. */
  onboarding: 'web.onboarding',
  /** An unexpected failure, answered 500. */
  error: 'web.error',
} as const;

export type WebLogEvent = (typeof WEB_LOG_EVENTS)[keyof typeof WEB_LOG_EVENTS];
