export {
  PalabreError,
  InvalidInputError,
  NotFoundError,
  ConflictError,
  ForbiddenError,
  QuotaExceededError,
  TooLargeError,
  RateLimitedError,
  UnavailableError,
  isPalabreError,
  causeChain,
} from './errors.js';
export type { ErrorKind, PalabreErrorOptions } from './errors.js';
export {
  normalizeDomain,
  displayDomain,
  parseAddress,
  parseHostedAddress,
  normalizeAddress,
  isValidAddress,
} from './address.js';
export type { ParsedAddress } from './address.js';
export { toPrincipal } from './directory/directory.js';
export { MAX_SEARCH_RESULTS, MAX_SEARCH_TEXT, foldName } from './directory/directory-rules.js';
export type {
  Domain,
  Account,
  AccountStatus,
  Principal,
  Group,
  GroupMember,
  Alias,
  AppCredential,
  CredentialKind,
  AddressTarget,
} from './directory/directory.js';
export type {
  DirectoryStore,
  NewDomain,
  NewAccount,
  AccountPatch,
  AccountPage,
  ListAccountsQuery,
  AccountUpsert,
  UpsertOutcome,
  NewGroup,
  MemberRef,
  NewCredential,
} from './directory/directory-store.js';
export type { BlobStore, BlobInfo, BlobSource, PutBlobOptions, ByteRange, BlobEntry } from './ports/blob-store.js';
export type { ChangeLog, Change, ChangeKind, ChangeSet } from './system/change-log.js';
export type { Notifier, Unsubscribe } from './ports/notifier.js';
export { MAX_TOPIC_LENGTH, MAX_NOTIFY_PAYLOAD_BYTES, NOTIFIER_RECONNECT_TOPIC } from './ports/notifier.js';
export { MemoryNotifier, createMemoryNotifier } from './memory-notifier.js';
export type { Logger, LogFields, LogFn } from './ports/logger.js';
export { lazyChild, silentLogger } from './ports/logger.js';
export type { Clock } from './ports/clock.js';
export { systemClock } from './ports/clock.js';
export type { AuditLog, AuditEvent, AuditEventType, AuditQuery } from './system/audit-log.js';
export { AUDIT_EVENT_TYPES } from './system/audit-log.js';
export type { ThrottleStore, FailureWindow } from './system/throttle-store.js';
export type { UsageStore, UsageKind, AccountUsage } from './usage/usage-store.js';
export { USAGE_KINDS } from './usage/usage-store.js';
export type {
  Authenticator,
  AuthContext,
  AuthProtocol,
  AuthResult,
  AuthFailureReason,
  HttpAuthenticator,
  HttpAuthOutcome,
  HttpCredentialsRequest,
} from './ports/authenticator.js';
export type {
  DriveStore,
  DriveSpace,
  DriveSpaceKind,
  DriveNode,
  DriveNodeKind,
  DeadProperty,
  PropertyPatch,
  DriveGrant,
  GrantAccess,
  GrantPrincipal,
  SpaceFilter,
  NewGroupSpace,
  FileContent,
  WriteExpectation,
  WriteOutcome,
  TransferOptions,
  TransferOutcome,
  DescendantEntry,
  LockStore,
  DavLock,
  NewLock,
  LockScope,
} from './drive/drive-store.js';
export { DRIVE_MAX_NAME_LENGTH } from './drive/drive-store.js';
export { checkNodeName, conflictReason, lockPrefix, MAX_LOCK_TIMEOUT_SECONDS, MAX_PROPERTY_VALUE } from './drive/drive-rules.js';
export type { DriveConflictReason } from './drive/drive-rules.js';
export { configSchema, ldapConfigSchema, argon2ConfigSchema, s3ConfigSchema, parseConfig, checkConfig } from './config.js';
export type { PalabreConfig, PalabreConfigInput, LdapConfig, Argon2Config, S3Config, ConfigResult } from './config.js';
export { smtpConfigSchema } from './config.js';
export type { SmtpConfig } from './config.js';
export type { MailDelivery, MessageToDeliver, MessageAnalysis, DeliveryTarget, DeliveryResult } from './mail/mail-delivery.js';
export type {
  OutboundQueue,
  OutboundTransport,
  OutboundMessage,
  OutboundJob,
  OutboundRecipient,
  NewOutboundMessage,
  NewOutboundRecipient,
  ClaimedJob,
  JobCompletion,
  CompletionResult,
  RecipientOutcome,
  RecipientStatus,
  QueueSummary,
  DsnNotify,
  TlsPolicy,
} from './mail-transport/outbound-queue.js';
export type { MessagePart, MessageSubmission, SubmittedMessage } from './ports/message-submission.js';
export type { DkimKeyStore, DkimKey, DkimAlgorithm, NewDkimKey } from './mail-transport/dkim-key-store.js';
export { dkimKeyState } from './mail-transport/dkim-key-store.js';
export type { ServerKeys } from './ports/server-keys.js';
export type { VacationStore, VacationSettings } from './mail-transport/vacation-store.js';
export { DEFAULT_VACATION_INTERVAL_MS, MIN_VACATION_INTERVAL_MS, MAX_VACATION_BODY, MAX_VACATION_SUBJECT } from './mail-transport/vacation-rules.js';
export type { RateLimitStore } from './mail-transport/rate-limit-store.js';
export type {
  MailStore,
  Mailbox,
  MailboxCounts,
  MailboxChanges,
  MessageRecord,
  FetchMessagesOptions,
  NewMessage,
  AppendManyResult,
  AppendResult,
  FlagOperation,
  FlagChange,
  StoreFlagsOptions,
  StoreFlagsResult,
  ExpungeResult,
  CopyResult,
  MoveResult,
  UidRange,
  UidSet,
  SpecialUse,
  AclGrantee,
  AclEntry,
  SharedMailbox,
  MailQuota,
  MessageFilter,
  SearchUidsResult,
} from './mail/mail-store.js';
export { MAILBOX_DELIMITER, SPECIAL_USES, DEFAULT_MAILBOXES, MESSAGE_FILTER_LIMITS, mailboxListTopic, mailboxTopic } from './mail/mail-store.js';
export { matchesFilter, checkFilter, searchableText, utcDayOf } from './mail-filter.js';
export type { FilterSubject } from './mail-filter.js';
export {
  normalizeMailboxName,
  parentNames,
  isSpecialUse,
  parseFlags,
  SYSTEM_FLAGS,
  normalizeUidSet,
  uidSetHas,
  normalizeRights,
  effectiveRights,
  ALL_RIGHTS,
  MAX_MAILBOX_NAME_BYTES,
  MAX_KEYWORD_LENGTH,
  MAX_MAILBOX_KEYWORDS,
  MAX_INLINE_HEADER_BYTES,
  SEARCH_FIELDS,
  foldSearchText,
  searchTextOf,
  searchField,
  sentDateOf,
} from './mail/mail-rules.js';
export type { SystemFlag, ParsedFlags, SearchField } from './mail/mail-rules.js';
export { collectUnreferencedBlobs, DEFAULT_BLOB_SETTLE_MS } from './blob-gc.js';
export { isBlobId, checkBlobId, createBlobHash, blobIdOf } from './blob-id.js';
export { s3BucketProblem, s3EndpointProblem, s3RegionProblem } from './s3-location.js';
export { wholeSource, gatherSmall, verifyBlobStream, damagedBlobError } from './blob-source.js';
export type { BlobReferences, UnreferencedBlobsOptions, UnreferencedBlobsResult } from './blob-gc.js';
export type {
  CalendarStore,
  CalendarCollection,
  CalendarObject,
  CalendarObjectEntry,
  CollectionKind,
  ComponentKind,
  NewCollection,
  CollectionPatch,
  Instance,
  ObjectIndex,
  PutObjectOptions,
  PutObjectOutcome,
  TimeRange,
  ObjectQuery,
  QueriedObject,
  GetObjectsOptions,
  ListObjectsOptions,
  ShareAccess,
  ShareGrantee,
  CollectionShare,
  InviteStatus,
  ShareInvite,
  SharedCollection,
  Delegation,
  CollectionProperty,
  CollectionPropertyPatch,
  CalendarChange,
  CalendarChanges,
} from './calendar/calendar-store.js';
export { CALENDAR_COMPONENTS } from './calendar/calendar-store.js';
export {
  MAX_CALENDAR_OBJECT_BYTES,
  MAX_INSTANCES,
  MAX_UID_LENGTH,
  DEFAULT_FLOATING_SLACK_MS,
  MAX_QUERY_LIMIT,
  calendarTopic,
  checkReply,
  instanceOverlaps,
  sharedAgain,
  objectEtag,
} from './calendar/calendar-rules.js';
export type { SieveScript, SieveScriptInfo, SieveScriptStore } from './sieve/sieve-script-store.js';
export type { MailMetadataStore, MetadataChange, MetadataDepth, MetadataEntry, MetadataScope } from './mail-metadata/mail-metadata-store.js';
export { MAX_METADATA_ENTRIES, MAX_METADATA_NAME, MAX_METADATA_VALUE_BYTES, checkEntryName } from './mail-metadata/mail-metadata-rules.js';
export type { MtaStsPolicy, MtaStsPolicyStore } from './transport-security/mta-sts-policy-store.js';
export type { TlsaPolicy, TlsReportStore, TlsSessionCount, TlsSessionKey } from './transport-security/tls-report-store.js';
export { tlsaPolicyId } from './transport-security/tls-report-rules.js';
export { MAX_STS_MAX_AGE, checkStsPolicy } from './transport-security/mta-sts-policy-rules.js';
export { MAX_SIEVE_SCRIPT_BYTES, MAX_SIEVE_SCRIPTS, MAX_SIEVE_NAME, checkScriptName } from './sieve/sieve-script-rules.js';
export type { MailMigrationCopy, MailMigrationCursor, MailMigrationCursorInput, MailMigrationStore } from './mail-migration/mail-migration-store.js';
export { MAX_MIGRATION_FOLDER_LENGTH, MAX_MIGRATION_SOURCE_LENGTH } from './mail-migration/mail-migration-rules.js';
export type {
  Metrics,
  MetricDefinition,
  GaugeDefinition,
  HistogramDefinition,
  MetricLabels,
  MetricAggregation,
  Counter,
  Gauge,
  Histogram,
} from './ports/metrics.js';
export { noopMetrics, LATENCY_BUCKETS, secondsSince } from './ports/metrics.js';
export type { MalwareScanner, ScanResult } from './ports/malware-scanner.js';
export { scannerUnavailableCounter, type ScanUse } from './scanner-metrics.js';
export { ClamdScanner } from './antivirus/clamd-scanner.js';
export type { ClamdOptions } from './antivirus/clamd-scanner.js';
export { normalizeIp, networkMatcher, clientNetwork } from './network.js';
export {
  ConnectionGate,
  closeWithAnswer,
  guardServer,
  DEFAULT_CONNECTIONS_PER_ADDRESS,
  DEFAULT_CONNECTIONS_GLOBAL,
  CONNECTION_LOG_EVENTS,
} from './connection-gate.js';
export type { ConnectionGateOptions, ConnectionRefusal, GateVerdict } from './connection-gate.js';
export { BulkTurns, bulkTurns } from './bulk-turns.js';
export { createSecretBox, isSealed, parseSecretKey } from './secrets/secret-box.js';
export type { SecretBox } from './secrets/secret-box.js';
