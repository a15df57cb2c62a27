//! Connecting within a time limit: a server that accepts TCP but never
//! answers must not block the caller for ever.
//!
//! PostgreSQL: libpq's own `connect_timeout` (whole seconds, at least 2),
//! added to the URL unless it sets one, and `tcp_user_timeout`, which
//! bounds how long a statement sent to a vanished server waits. MySQL/MariaDB: diesel's URL has no
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
/// whole seconds, at least 2 as libpq requires) and its
/// `tcp_user_timeout` to `timeout` too (at least 10 s), unless it sets
/// them: a statement sent to a server that vanished without a word (a
/// network cut) fails then, instead of after the kernel's retransmissions
/// (about 15 minutes), so the pool's health check replaces the
/// connection in bounded time. `tcp_user_timeout` is set only with libpq
/// 12 or later: older ones refuse it (and every connection with it).
pub(super) fn postgres_url(url: &str, timeout: Duration) -> String {
    postgres_url_for(url, timeout, libpq_version())
}

/// The version of the libpq linked (150004 for 15.4), as `PQlibVersion`
/// gives it.
#[cfg(feature = "postgres")]
#[allow(unsafe_code)]
fn libpq_version() -> i32 {
    // SAFETY: `PQlibVersion` takes no argument and returns a constant of
    // the library; it has no precondition.
    unsafe { pq_sys::PQlibVersion() }
}

/// [`postgres_url`] for a given libpq version.
#[cfg(feature = "postgres")]
fn postgres_url_for(url: &str, timeout: Duration, libpq: i32) -> String {
    // A URL ending in `?` or `&` would get an empty parameter libpq refuses.
    let mut url = url.trim_end_matches(['?', '&']).to_owned();
    let mut add = |key: &str, value: u128| {
        if !url.contains(&format!("{key}=")) {
            let separator = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{separator}{key}={value}");
        }
    };
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    add("connect_timeout", u128::from(seconds.max(2)));
    if libpq >= 120_000 {
        add(
            "tcp_user_timeout",
            timeout.max(Duration::from_secs(10)).as_millis(),
        );
    }
    url
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
    fn postgres_gets_a_connect_timeout_and_a_tcp_user_timeout() {
        let t = Duration::from_millis(25_500);
        assert_eq!(
            postgres_url("postgres://u@h/db", t),
            "postgres://u@h/db?connect_timeout=26&tcp_user_timeout=25500"
        );
        // At least 2 s to connect, 10 s for a statement's bytes.
        assert_eq!(
            postgres_url("postgres://u@h/db?sslmode=disable", Duration::from_secs(1)),
            "postgres://u@h/db?sslmode=disable&connect_timeout=2&tcp_user_timeout=10000"
        );
        for url in ["postgres://u@h/db?", "postgres://u@h/db?sslmode=disable&"] {
            assert!(!postgres_url(url, t).contains("?&") && !postgres_url(url, t).contains("&&"));
            assert!(postgres_url(url, t).ends_with("connect_timeout=26&tcp_user_timeout=25500"));
        }
        let own = "postgres://u@h/db?connect_timeout=9&tcp_user_timeout=500";
        assert_eq!(postgres_url(own, t), own);
        // libpq before 12 refuses the parameter.
        assert_eq!(
            postgres_url_for("postgres://u@h/db", t, 110_022),
            "postgres://u@h/db?connect_timeout=26"
        );
        assert_eq!(
            postgres_url_for("postgres://u@h/db", t, 150_004),
            postgres_url("postgres://u@h/db", t)
        );
        assert!(
            libpq_version() >= 120_000,
            "the test machines have libpq 15"
        );
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
