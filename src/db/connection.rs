//! What a database URL means beyond what the driver reads from it: bounded waits, a
//! password kept out of the URL, and the secrets a URL can carry, which must never be
//! shown. Every URL that is logged or printed goes through [`redact_url`]; every message
//! built from a driver's error goes through [`Secrets::scrub`].

use std::future::Future;
use std::time::Duration;

use super::{Backend, DataError, Db};

/// How long modcon waits for the database (`[database] connect_timeout_secs` and
/// `statement_timeout_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection, or getting one from the pool.
    pub connect: Duration,
    /// One statement, enforced by the server where it can (PostgreSQL's
    /// `statement_timeout`); `None` waits as long as the statement runs.
    pub statement: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            statement: Some(Duration::from_secs(30)),
        }
    }
}

impl Timeouts {
    /// The client's own bound on one request (one transaction, one batch of at most
    /// 100): the server's statement bound plus the time to get a connection. A server
    /// that stopped answering cannot cancel anything, so this is what reports it.
    pub fn request(&self) -> Option<Duration> {
        self.statement.map(|statement| statement + self.connect)
    }
}

/// How modcon connects, beyond the URL: the configuration's timeouts, and a password
/// read from `[database] password_file`.
#[derive(Clone, Default)]
pub struct ConnectOptions {
    pub timeouts: Timeouts,
    /// Used when the URL carries no password of its own.
    pub password: Option<String>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeouts", &self.timeouts)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Query parameters whose value is a secret.
const SECRET_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// Hides every secret a database URL can carry (the password in `user:password@`,
/// `?password=`, `?sslpassword=`) so the URL can be shown or logged.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut shown = redact_userinfo(head);
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (query, None),
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
        if let Some(fragment) = fragment {
            shown.push('#');
            shown.push_str(fragment);
        }
    }
    shown
}

fn is_secret_param(key: &str) -> bool {
    let key = percent_decode(key).to_ascii_lowercase();
    SECRET_PARAMS.contains(&key.as_str())
}

fn redact_userinfo(head: &str) -> String {
    let Some(scheme_end) = head.find("://") else {
        return head.to_string();
    };
    let rest = &head[scheme_end + 3..];
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return head.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return head.to_string();
    };
    format!(
        "{}://{}:***{}",
        &head[..scheme_end],
        &userinfo[..colon],
        &rest[at..]
    )
}

/// `%XX` decoded, as the driver decodes a URL's parts; malformed escapes are kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The secrets one connection uses, as typed and as decoded, to be cut out of any
/// message a driver or server sends back (a driver's error can echo its URL).
#[derive(Clone, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, secret: &str) {
        for form in [secret.to_string(), percent_decode(secret)] {
            // A one-letter password would blank out half of every message.
            if form.len() >= 3 && !self.0.contains(&form) {
                self.0.push(form);
            }
        }
    }

    /// `text` with every secret replaced by `***` and every URL in it redacted.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = redact_urls_in(text);
        for secret in &self.0 {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }
}

fn redact_urls_in(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_url(word)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A URL as the driver gets it: the parameters modcon handles itself taken out, the
/// secrets noted for scrubbing.
pub(crate) struct DriverUrl {
    pub url: String,
    pub secrets: Secrets,
    /// libpq's `connect_timeout` (seconds), which overrides the configuration's.
    pub connect_timeout: Option<Duration>,
    /// The URL names its own password (in the user part or as `?password=`).
    pub has_password: bool,
}

impl DriverUrl {
    pub(crate) fn parse(url: &str, options: &ConnectOptions) -> Result<DriverUrl, DataError> {
        let mut secrets = Secrets::default();
        if let Ok(env) = std::env::var("PGPASSWORD") {
            secrets.add(&env);
        }
        if let Some(password) = &options.password {
            secrets.add(password);
        }
        let (head, query) = match url.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (url, None),
        };
        let mut has_password = false;
        if let Some(password) = userinfo_password(head) {
            secrets.add(password);
            has_password = true;
        }
        let mut kept = Vec::new();
        let mut connect_timeout = None;
        let mut ssl_password = false;
        let mut ssl_key = false;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(key).to_ascii_lowercase().as_str() {
                "password" => {
                    secrets.add(value);
                    has_password = true;
                    kept.push(pair);
                }
                // rustls reads no encrypted keys; the driver would log the value as an
                // unknown parameter, so it never reaches the driver.
                "sslpassword" => {
                    secrets.add(value);
                    ssl_password = true;
                }
                "connect_timeout" => {
                    let seconds = percent_decode(value).parse::<u64>().map_err(|_| {
                        DataError::BadDatabaseUrl(format!(
                            "connect_timeout must be a number of seconds, not {:?}",
                            percent_decode(value)
                        ))
                    })?;
                    connect_timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
                }
                "sslkey" | "ssl-key" => {
                    ssl_key = true;
                    kept.push(pair);
                }
                _ => kept.push(pair),
            }
        }
        if ssl_password && ssl_key {
            return Err(DataError::BadDatabaseUrl(
                "sslpassword: encrypted client keys are not supported; give sslkey an \
                 unencrypted key file readable only by you (the password was not used)"
                    .into(),
            ));
        }
        let url = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        Ok(DriverUrl {
            url,
            secrets,
            connect_timeout,
            has_password,
        })
    }
}

/// A query parameter's value, percent-decoded (the last one if named twice).
pub(crate) fn query_param(url: &str, key: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| percent_decode(k).eq_ignore_ascii_case(key))
        .map(|(_, v)| percent_decode(v))
        .next_back()
}

fn userinfo_password(head: &str) -> Option<&str> {
    let rest = &head[head.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, password)| password)
}

/// Why a connection failed, in words an operator can act on, with the driver's own
/// text after it and every secret cut out.
pub(crate) fn connect_failure(error: &sqlx::Error, secrets: &Secrets, backend: Backend) -> String {
    let raw = match error.as_database_error() {
        Some(db) => db.message().to_string(),
        None => error.to_string(),
    };
    // rustls' refusals reach us as I/O errors; their wording is stable enough to name.
    let certificate = raw.contains("invalid peer certificate");
    // The URL parameters the operator wrote, named in their own backend's spelling.
    let (ca_file, verify_host) = match backend {
        Backend::Postgres => ("sslrootcert", "sslmode=verify-full"),
        Backend::Mysql => ("ssl-ca", "ssl-mode=VERIFY_IDENTITY"),
        Backend::Sqlite => ("the given CA file", "host verification"),
    };
    let hint = if !certificate {
        None
    } else if raw.contains("UnknownIssuer") {
        Some(format!(
            "the server's certificate is not signed by a certificate authority in \
             {ca_file} (or the common public ones)"
        ))
    } else if raw.contains("not valid for name") || raw.contains("NotValidForName") {
        Some(format!(
            "the server's certificate does not name the host in the URL ({verify_host})"
        ))
    } else if raw.contains("Expired") {
        Some("the server's certificate has expired".to_string())
    } else {
        Some("the server's certificate was refused".to_string())
    };
    let text = match hint {
        Some(hint) => format!("{hint} ({raw})"),
        None => raw,
    };
    secrets.scrub(&text)
}

impl Db {
    /// Runs one request (one transaction, one batch) within the client's bound: a
    /// server that stopped answering is reported as unreachable, never waited on for
    /// ever.
    pub async fn bounded<T, E: From<DataError>>(
        &self,
        request: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let Some(limit) = self.options.timeouts.request() else {
            return request.await;
        };
        match tokio::time::timeout(limit, request).await {
            Ok(result) => result,
            Err(_) => Err(DataError::Unavailable(format!(
                "no answer from {} within {} s",
                self.display_url(),
                limit.as_secs()
            ))
            .into()),
        }
    }

    /// The timeouts this handle was opened with.
    pub fn timeouts(&self) -> Timeouts {
        self.options.timeouts
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_every_secret_and_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://mod:s3cr@t@db.example:5432/platform?sslmode=require"),
            "postgres://mod:***@db.example:5432/platform?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("sqlite:demo.db"), "sqlite:demo.db");
        assert_eq!(
            redact_url("postgres://u@h/db?password=pw1&sslmode=verify-full&SSLPassword=pw2"),
            "postgres://u@h/db?password=***&sslmode=verify-full&SSLPassword=***"
        );
        assert_eq!(
            redact_url("postgres:///db?host=/run/pg&pass%77ord=x%26y"),
            "postgres:///db?host=/run/pg&pass%77ord=***"
        );
        assert_eq!(
            redact_url("mysql://root:pw@h/db?ssl-mode=VERIFY_CA"),
            "mysql://root:***@h/db?ssl-mode=VERIFY_CA"
        );
    }

    #[test]
    fn the_driver_never_sees_sslpassword_or_connect_timeout() {
        let options = ConnectOptions::default();
        let parsed = DriverUrl::parse(
            "postgres://u:p%40ss@h/db?sslpassword=keypw&connect_timeout=3&sslmode=require",
            &options,
        )
        .unwrap();
        assert_eq!(parsed.url, "postgres://u:p%40ss@h/db?sslmode=require");
        assert_eq!(parsed.connect_timeout, Some(Duration::from_secs(3)));
        assert!(parsed.has_password);
        let scrubbed = parsed.secrets.scrub("failed: p@ss p%40ss keypw");
        assert_eq!(scrubbed, "failed: *** *** ***");
        assert!(DriverUrl::parse("postgres://h/db?sslpassword=k&sslkey=/k.pem", &options).is_err());
        assert!(DriverUrl::parse("postgres://h/db?connect_timeout=soon", &options).is_err());
    }

    #[test]
    fn a_url_inside_a_driver_message_is_redacted() {
        let secrets = Secrets::default();
        assert_eq!(
            secrets.scrub("bad url postgres://a:b@h/x?password=c here"),
            "bad url postgres://a:***@h/x?password=*** here"
        );
    }

    #[test]
    fn the_request_bound_is_the_statement_bound_plus_the_connect_bound() {
        let t = Timeouts {
            connect: Duration::from_secs(2),
            statement: Some(Duration::from_secs(3)),
        };
        assert_eq!(t.request(), Some(Duration::from_secs(5)));
        let off = Timeouts {
            statement: None,
            ..t
        };
        assert_eq!(off.request(), None);
    }
}
