//! Database URLs: which backend, which database, and how to print one
//! without its password.

use std::fmt;

use super::BackendKind;
use crate::error::{OrmError, Result};

/// A parsed database URL.
///
/// Accepted forms:
/// - `sqlite::memory:` (also `sqlite://:memory:` and `file::memory:`): a
///   private in-memory database, shared by every connection of one pool;
/// - `sqlite://path/to/file.db`, `sqlite:path` or a bare file path;
/// - `postgres://…` or `postgresql://…`;
/// - `mysql://…` or `mariadb://…` (needs the `mysql` feature), whose
///   options are diesel's: `ssl_mode`, `ssl_ca`, `ssl_cert`, `ssl_key`,
///   `unix_socket` (another key is refused: diesel would ignore it).
///
/// ```
/// use orm_core::{BackendKind, DatabaseUrl};
/// let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1/test").unwrap();
/// assert_eq!(url.backend(), BackendKind::Postgres);
/// assert!(DatabaseUrl::parse("redis://localhost").is_err());
/// assert_eq!(DatabaseUrl::parse("file::memory:").unwrap(), DatabaseUrl::SqliteMemory);
/// # #[cfg(feature = "mysql")]
/// assert!(DatabaseUrl::parse("mysql://root@db/app?sslmode=require").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An in-memory SQLite database.
    SqliteMemory,
    /// An SQLite database file.
    SqliteFile(String),
    /// A PostgreSQL connection string.
    Postgres(String),
    /// A MySQL/MariaDB connection string (`mysql://` form).
    Mysql(String),
}

/// The query options diesel's MySQL connection reads; it ignores others.
const MYSQL_OPTIONS: &[&str] = &["ssl_mode", "ssl_ca", "ssl_cert", "ssl_key", "unix_socket"];

/// The first query key of a MySQL URL (after its `://`) that diesel does
/// not read.
fn unknown_mysql_option(rest: &str) -> Option<&str> {
    let query = rest.split_once('?')?.1;
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .find(|key| !MYSQL_OPTIONS.contains(key))
}

/// Shows the URL with its password redacted.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::SqliteMemory => f.write_str("SqliteMemory"),
            DatabaseUrl::SqliteFile(path) => f.debug_tuple("SqliteFile").field(path).finish(),
            DatabaseUrl::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
            DatabaseUrl::Mysql(url) => f.debug_tuple("Mysql").field(&redact(url)).finish(),
        }
    }
}

impl DatabaseUrl {
    /// Parses a URL; see the type's documentation for the accepted forms.
    ///
    /// ```
    /// use orm_core::DatabaseUrl;
    /// assert_eq!(DatabaseUrl::parse("sqlite::memory:").unwrap(), DatabaseUrl::SqliteMemory);
    /// assert_eq!(
    ///     DatabaseUrl::parse("sqlite://data/app.db").unwrap(),
    ///     DatabaseUrl::SqliteFile("data/app.db".into())
    /// );
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |reason: &str| OrmError::InvalidUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let url = url.trim();
        if url.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        // Schemes are case-insensitive (`SQLite://:memory:` is the
        // in-memory database, not a file named `:memory:`).
        let (scheme, rest) = match url.find("://") {
            Some(i) => (url[..i].to_ascii_lowercase(), &url[i + 3..]),
            None => match url.get(..7).filter(|p| p.eq_ignore_ascii_case("sqlite:")) {
                Some(_) => ("sqlite".to_owned(), &url[7..]),
                None => (String::new(), url),
            },
        };
        match scheme.as_str() {
            "" | "sqlite" | "file" => {
                if !cfg!(feature = "sqlite") {
                    Err(invalid(
                        "SQLite support is not compiled in; enable the `sqlite` feature of orm-core",
                    ))
                } else if rest.is_empty() {
                    Err(invalid("the SQLite file path is empty"))
                } else if rest.eq_ignore_ascii_case(":memory:")
                    || rest.eq_ignore_ascii_case("file::memory:")
                {
                    // SQLite's URI form of the same private database.
                    Ok(DatabaseUrl::SqliteMemory)
                } else if in_memory(rest) {
                    Err(invalid(
                        "an in-memory SQLite URI with options would give each pooled connection its own database, or lose every table once the pool closes its idle connections; use `sqlite::memory:`, one database shared by the pool for its lifetime",
                    ))
                } else {
                    Ok(DatabaseUrl::SqliteFile(rest.to_owned()))
                }
            }
            "postgres" | "postgresql" => {
                if !cfg!(feature = "postgres") {
                    Err(invalid(
                        "PostgreSQL support is not compiled in; enable the `postgres` feature of orm-core",
                    ))
                } else if rest.is_empty() {
                    Err(invalid("the PostgreSQL URL names no host"))
                } else {
                    Ok(DatabaseUrl::Postgres(format!("{scheme}://{rest}")))
                }
            }
            "mysql" | "mariadb" => {
                if !cfg!(feature = "mysql") {
                    Err(invalid(
                        "MySQL support is not compiled in; enable the `mysql` feature of orm-core",
                    ))
                } else if rest.is_empty() {
                    Err(invalid("the MySQL URL names no host"))
                } else if let Some(key) = unknown_mysql_option(rest) {
                    Err(invalid(&format!(
                        "unknown option `{key}`: a MySQL URL takes {}, which any other key would be ignored in favour of (a misspelt `ssl_mode` would connect without TLS)",
                        MYSQL_OPTIONS.join(", ")
                    )))
                } else {
                    Ok(DatabaseUrl::Mysql(format!("mysql://{rest}")))
                }
            }
            other => Err(invalid(&format!("unknown scheme `{other}`"))),
        }
    }

    /// The backend this URL selects.
    ///
    /// ```
    /// use orm_core::{BackendKind, DatabaseUrl};
    /// assert_eq!(DatabaseUrl::SqliteMemory.backend(), BackendKind::Sqlite);
    /// ```
    pub fn backend(&self) -> BackendKind {
        match self {
            DatabaseUrl::SqliteMemory | DatabaseUrl::SqliteFile(_) => BackendKind::Sqlite,
            DatabaseUrl::Postgres(_) => BackendKind::Postgres,
            DatabaseUrl::Mysql(_) => BackendKind::Mysql,
        }
    }
}

/// Redacts the password of a URL for error messages.
pub(crate) fn redact(url: &str) -> String {
    struct Redacted<'a>(&'a str);
    impl fmt::Display for Redacted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let url = self.0;
            let Some(scheme_end) = url.find("://") else {
                return f.write_str(url);
            };
            let (scheme, rest) = url.split_at(scheme_end + 3);
            let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
            let rest = match (authority.rfind('@'), authority.find(':')) {
                (Some(at), Some(colon)) if colon < at => {
                    write!(f, "{scheme}{}:***", &authority[..colon])?;
                    &rest[at..]
                }
                _ => {
                    f.write_str(scheme)?;
                    rest
                }
            };
            // A password in the query string (`?password=...`) too.
            let Some((path, query)) = rest.split_once('?') else {
                return f.write_str(rest);
            };
            write!(f, "{path}?")?;
            for (i, pair) in query.split('&').enumerate() {
                let separator = if i > 0 { "&" } else { "" };
                match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        write!(f, "{separator}{key}=***")?
                    }
                    _ => write!(f, "{separator}{pair}")?,
                }
            }
            Ok(())
        }
    }
    Redacted(url).to_string()
}

/// Whether a SQLite path other than the plain `:memory:` forms names an
/// in-memory database: `:memory:` or `file::memory:` with options
/// (`?cache=shared`), or a `file:` URI with `mode=memory`.
fn in_memory(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    path.starts_with(":memory:")
        || path.starts_with("file::memory:")
        || (path.starts_with("file:") && path.contains("mode=memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://bob:secret@localhost/db"),
            "postgres://bob:***@localhost/db"
        );
        assert_eq!(
            redact("postgres://bob@localhost/db"),
            "postgres://bob@localhost/db"
        );
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact("mysql://bob@db/app?ssl_mode=required&password=secret"),
            "mysql://bob@db/app?ssl_mode=required&password=***"
        );
        assert_eq!(
            redact("postgres://bob:a@db/app?Password=b"),
            "postgres://bob:***@db/app?Password=***"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://:memory:").unwrap(),
            DatabaseUrl::SqliteMemory
        );
        assert_eq!(
            DatabaseUrl::parse("app.db").unwrap(),
            DatabaseUrl::SqliteFile("app.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:/tmp/x.db").unwrap(),
            DatabaseUrl::SqliteFile("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/d").unwrap().backend(),
            BackendKind::Postgres
        );
        let err = DatabaseUrl::parse("ftp://x").unwrap_err().to_string();
        assert!(err.contains("unknown scheme `ftp`"), "{err}");
        assert!(DatabaseUrl::parse("  ").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
    }

    #[test]
    fn schemes_are_case_insensitive() {
        for url in [
            "SQLite://:memory:",
            "SQLITE::memory:",
            "sqlite::MEMORY:",
            ":memory:",
        ] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::SqliteMemory,
                "{url}"
            );
        }
        for url in [
            "file::memory:?cache=shared",
            "sqlite::memory:?cache=shared",
            "sqlite://file:db?mode=memory&cache=shared",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(url), Err(OrmError::InvalidUrl { .. })),
                "{url}"
            );
        }
        assert_eq!(
            DatabaseUrl::parse("SQLite:data/app.db").unwrap(),
            DatabaseUrl::SqliteFile("data/app.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("PostgreSQL://u@h/d").unwrap().backend(),
            BackendKind::Postgres
        );
    }

    #[test]
    fn debug_output_redacts_passwords() {
        let url = DatabaseUrl::parse("postgres://bob:secret@localhost/db").unwrap();
        assert!(!format!("{url:?}").contains("secret"));
        let builder = crate::Db::builder("mysql://bob:secret@localhost/db");
        assert!(!format!("{builder:?}").contains("secret"));
    }
}
