/** How each command is called: kept apart so that `palabre help` loads no command's code. */

export const ALIAS_USAGE = `palabre alias add ALIAS EMAIL
       palabre alias remove ALIAS
       palabre alias list EMAIL`;

export const APP_PASSWORD_USAGE = `palabre app-password add EMAIL --label LABEL
       palabre app-password list EMAIL
       palabre app-password revoke EMAIL ID|LABEL`;

export const BACKUP_USAGE = `palabre backup DEST [--keep N]
       palabre backup verify DEST [--snapshot ID]
       palabre backup list DEST`;

export const RESTORE_USAGE = 'palabre restore SRC --data DIR [--snapshot ID] [--force]';

export const AUDIT_USAGE = 'palabre audit [--type TYPE] [--actor EMAIL] [--since ISO-DATE] [--limit N]';

export const DKIM_USAGE = `palabre dkim generate DOMAIN [--selector NAME] [--algorithm rsa|ed25519]
       palabre dkim show DOMAIN
       palabre dkim list
       palabre dkim rotate DOMAIN [--algorithm rsa|ed25519]
       palabre dkim activate DOMAIN [SELECTOR] [--force] [--resolver IP]
       palabre dkim seal
       palabre dkim remove DOMAIN SELECTOR`;

export const DOCTOR_USAGE = 'palabre doctor [--domain DOMAIN] [--resolver IP] [--dnssec-probe NAME] [--no-dns]';

export const DOMAIN_USAGE = `palabre domain add NAME [--quota SIZE] [--messages N] [--mailboxes N]
       palabre domain list
       palabre domain remove NAME
       palabre domain alias add DOMAIN ALIAS
       palabre domain alias remove ALIAS`;

export const DRIVE_USAGE = `palabre drive folder add GROUP [--access read|write] [--quota SIZE]
       palabre drive folder list
       palabre drive folder grant FOLDER EMAIL|--group GROUP read|write|none
       palabre drive folder remove FOLDER`;

export const GROUP_USAGE = `palabre group add NAME --domain DOMAIN [--address EMAIL] [--description TEXT]
       palabre group list [--domain DOMAIN]
       palabre group remove NAME
       palabre group members NAME
       palabre group member add GROUP EMAIL | --group SUBGROUP
       palabre group member remove GROUP EMAIL | --group SUBGROUP`;

export const CALENDAR_USAGE = `palabre calendar list EMAIL
       palabre calendar share EMAIL CALENDAR (ADDRESS | group:NAME) read|write
       palabre calendar unshare EMAIL CALENDAR (ADDRESS | group:NAME)
       palabre calendar delegate EMAIL (ADDRESS | group:NAME) read|write|none`;

export const MAILBOX_USAGE = `palabre mailbox list EMAIL
       palabre mailbox share EMAIL MAILBOX (ADDRESS | group:NAME | anyone) RIGHTS
       palabre mailbox unshare EMAIL MAILBOX (ADDRESS | group:NAME | anyone)`;

export const MIGRATE_MAIL_USAGE = `palabre migrate mail --from imaps://host[:port] --csv FILE [--jobs N] [--report FILE.json]
         [--master-user USER --master-password-file FILE] [--tls-ca FILE.pem] [--max-message-size 50M]`;

export const MIGRATE_DAV_USAGE = 'palabre migrate dav --from https://host[:port][/path/] --csv FILE [--jobs N] [--report FILE.json] [--max-response-size 64M]';

export const MIGRATE_DRIVE_USAGE =
  'palabre migrate drive --from https://host/path/{login}/ --csv FILE [--jobs N] [--report FILE.json] [--max-response-size 64M] [--max-entries N]';

export const MIGRATE_USAGE = `palabre migrate
       ${MIGRATE_MAIL_USAGE}
       ${MIGRATE_DAV_USAGE}
       ${MIGRATE_DRIVE_USAGE}`;

export const QUEUE_USAGE = `palabre queue list [--user EMAIL] [--limit N]
       palabre queue flush`;

export const SERVE_USAGE =
  'palabre serve [--data DIR] [--host H] [--http-port N] [--smtp-port N] [--submission-port N] [--imap-port N] [--sieve-port N] [--admin-port N] [--http-redirect-port N] [--hostname NAME] [--workers N] [--log-format human|json]';

export const USER_USAGE = `palabre user add EMAIL [--password PW | --password-stdin | --no-password] [--name NAME] [--department D] [--quota SIZE]
       palabre user list [--domain D] [--limit N]
       palabre user show EMAIL
       palabre user passwd EMAIL [--password PW | --password-stdin]
       palabre user suspend EMAIL
       palabre user unsuspend EMAIL
       palabre user quota EMAIL [SIZE] [--messages N|unlimited] [--mailboxes N|unlimited]
       palabre user remove EMAIL
       palabre user import FILE.csv [--batch N] [--update-passwords] [--separator , | ; | tab] [--encoding utf-8 | windows-1252]`;

export const VACATION_USAGE = `palabre vacation set EMAIL --subject TEXT --message TEXT [--from DATE] [--until DATE] [--days N]
       palabre vacation off EMAIL
       palabre vacation show EMAIL`;

export const SIEVE_USAGE = `palabre sieve put EMAIL NAME FILE [--activate]
       palabre sieve list EMAIL
       palabre sieve show EMAIL NAME
       palabre sieve activate EMAIL NAME
       palabre sieve deactivate EMAIL
       palabre sieve remove EMAIL NAME
       palabre sieve check FILE
       palabre sieve domain set DOMAIN FILE
       palabre sieve domain show DOMAIN
       palabre sieve domain clear DOMAIN`;
