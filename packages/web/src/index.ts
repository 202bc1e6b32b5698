export { createOnboardingHandler, MOBILECONFIG_PATH } from './onboarding/onboarding-handler.js';
export type { OnboardingHandler, OnboardingHandlerOptions } from './onboarding/onboarding-handler.js';
export { httpOrigin, preferred } from './onboarding/endpoints.js';
export type { HttpListener, MailListener, OnboardingEndpoints, SocketType } from './onboarding/endpoints.js';
export { autoconfigXml, principalUrl } from './onboarding/autoconfig.js';
export {
  autodiscoverXml,
  autodiscoverJson,
  autodiscoverErrorXml,
  parseAutodiscoverRequest,
  AutodiscoverError,
  MAX_AUTODISCOVER_BODY,
  REQUEST_NS as AUTODISCOVER_REQUEST_NS,
  RESPONSE_NS as AUTODISCOVER_RESPONSE_NS,
  OUTLOOK_RESPONSE_NS as AUTODISCOVER_OUTLOOK_RESPONSE_NS,
} from './onboarding/autodiscover.js';
export { mobileconfigPlist } from './onboarding/mobileconfig.js';
export type { ProfileAccount, ProfileOptions } from './onboarding/mobileconfig.js';
export { plistXml } from './onboarding/plist.js';
export type { PlistValue } from './onboarding/plist.js';
export { CmsSigner, pemBlocks } from './onboarding/cms-signature.js';
export type { SigningIdentity } from './onboarding/cms-signature.js';
export { requestedAddress, domainOfHost, hostedDomain } from './onboarding/requested-address.js';
export type { DomainDirectory } from './onboarding/requested-address.js';
export { WebError, toWebError } from './errors.js';
export { WEB_LOG_EVENTS } from './log-events.js';
export type { WebLogEvent } from './log-events.js';
