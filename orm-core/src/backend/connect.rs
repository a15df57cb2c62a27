//! Connecting within a time limit: a server that accepts TCP but never
//! answers must not block the caller for ever.
//!
//! PostgreSQL: libpq's own `connect_timeout` (whole seconds, at least 2),
//! added to the URL unless it sets one. MySQL/MariaDB: diesel's URL has no
//! such option, so a TCP probe first waits (bounded) for the greeting the
//! server sends as soon as it accepts; the probe then hangs up, which the
//! server counts in `Aborted_connects`.

#[cfg(feature = "mysql")]
use std::io::Read;
#[cfg(feature = "mysql")]
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[cfg(feature = "postgres")]
/// `url` with libpq's `connect_timeout` set to `timeout` (rounded up to
/// whole seconds, at least 2 as libpq requires), unless it has one.
pub(super) fn postgres_url(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    // A URL ending in `?` or `&` would get an empty parameter libpq refuses.
    let url = url.trim_end_matches(['?', '&']);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={}", seconds.max(2))
}

#[cfg(feature = "mysql")]
/// Waits up to `timeout` for the greeting of the MySQL server `url` names;
/// `Err` says why none came. A URL that connects through a socket
/// (`localhost`, `unix_socket=`) is not probed.
pub(super) fn probe_mysql(url: &str, timeout: Duration) -> Result<(), String> {
    let Some((host, port)) = mysql_host(url) else {
        return Ok(());
    };
    let addresses = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(mut stream) => {
                stream
                    .set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                let mut first = [0u8; 1];
                return match stream.read(&mut first) {
                    Ok(1) => Ok(()),
                    Ok(_) => Err(format!("{address} closed the connection without a greeting")),
                    Err(e) => Err(format!(
                        "{address} accepted the connection but sent no greeting within {timeout:?} ({e}); is it a MySQL server, and is it overloaded?"
                    )),
                };
            }
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(last)
}

/// Whether the MySQL server behind `conn` logs statements (`log_bin` with
/// `binlog_format = STATEMENT`): it refuses InnoDB writes at `READ
/// COMMITTED`, so the crate's own writes begin at its level there (see
/// `transaction::begin`). One query, when the pool opens the connection.
#[cfg(feature = "mysql")]
pub(super) fn logs_statements(conn: &mut diesel::MysqlConnection) -> diesel::QueryResult<bool> {
    use diesel::RunQueryDsl;
    let logs: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "CAST(@@log_bin = 1 AND @@binlog_format = 'STATEMENT' AS SIGNED)",
    ))
    .get_result(conn)?;
    Ok(logs == 1)
}

#[cfg(feature = "mysql")]
/// The TCP host and port of a `mysql://user:pass@host:port/db?…` URL;
/// `None` when the client would use a Unix socket.
fn mysql_host(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map_or("", |(_, q)| q)),
        None => rest.split_once('?').unwrap_or((rest, "")),
    };
    if query
        .split('&')
        .any(|pair| pair.starts_with("unix_socket="))
    {
        return None;
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]:3306`.
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 3306,
    };
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_gets_a_connect_timeout() {
        let t = Duration::from_millis(2500);
        assert_eq!(
            postgres_url("postgres://u@h/db", t),
            "postgres://u@h/db?connect_timeout=3"
        );
        assert_eq!(
            postgres_url("postgres://u@h/db?sslmode=disable", Duration::from_secs(1)),
            "postgres://u@h/db?sslmode=disable&connect_timeout=2"
        );
        for url in ["postgres://u@h/db?", "postgres://u@h/db?sslmode=disable&"] {
            assert!(!postgres_url(url, t).contains("?&") && !postgres_url(url, t).contains("&&"));
            assert!(postgres_url(url, t).ends_with("connect_timeout=3"));
        }
        let own = "postgres://u@h/db?connect_timeout=9";
        assert_eq!(postgres_url(own, t), own);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_hosts() {
        let host = |url| mysql_host(url);
        assert_eq!(
            host("mysql://root:pw@127.0.0.1:3307/test"),
            Some(("127.0.0.1".into(), 3307))
        );
        assert_eq!(
            host("mysql://root@db.example/test"),
            Some(("db.example".into(), 3306))
        );
        assert_eq!(
            host("mysql://root@[::1]:3310/test"),
            Some(("::1".into(), 3310))
        );
        assert_eq!(host("mysql://root@localhost/test"), None);
        assert_eq!(host("mysql://root@h/test?unix_socket=/run/m.sock"), None);
    }
}
