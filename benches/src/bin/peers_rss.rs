//! Peak RSS of the two-hop PEERS loop (issue 10): one process runs either
//! the ORM's loop or the hand-written typed-diesel baseline on the same
//! data set, so `/usr/bin/time -v` measures each whole process.
//!
//! ```text
//! cargo build --release -p orm-benches --bin peers_rss
//! /usr/bin/time -v target/release/peers_rss orm   100000 sqlite
//! /usr/bin/time -v target/release/peers_rss typed 100000 sqlite
//! ```
//!
//! Arguments: `orm`, `typed` or `setup` (required), N (default 100,000),
//! `sqlite` (default, in memory), `postgres` or `mysql` (the server's
//! memory is not the process's), rounds (default 3). Both `orm` and `typed`
//! build the data set with the same code (the ORM's `bulk_create`, on the
//! connection they then read from: the pool's for `orm`, a plain
//! `SqliteConnection` for `typed`; on a server the pool fills the private
//! database and `typed` reads it through the `PgConnection` /
//! `MysqlConnection` inside a pooled connection), then run the loop
//! `rounds` times, keeping
//! one result alive at a time, and print the checksum. `setup` only builds
//! the data set (what both share). Compare "Maximum resident set size" of
//! the runs. Many rounds make a profile of the loop (`perf record`).

use std::process::ExitCode;

use orm_benches::{fixture, two_hop, typed};
use orm_core::BackendKind;

/// Loop runs per process by default (the peak is that of one result;
/// more rounds show whether it grows).
const ROUNDS: usize = 3;

fn usage() -> ExitCode {
    eprintln!("usage: peers_rss orm|typed|setup [N] [sqlite|postgres|mysql] [rounds]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        return usage();
    };
    let n = match args.get(1).map(|s| s.parse::<usize>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return usage(),
    };
    let backend = match args.get(2).map(String::as_str) {
        None | Some("sqlite") => BackendKind::Sqlite,
        Some("postgres") => BackendKind::Postgres,
        Some("mysql") => BackendKind::Mysql,
        Some(_) => return usage(),
    };
    let rounds = match args.get(3).map(|s| s.parse::<usize>()) {
        None => ROUNDS,
        Some(Ok(r)) => r,
        Some(Err(_)) => return usage(),
    };
    let Some(db) = fixture::open(backend) else {
        return ExitCode::FAILURE;
    };
    let mut sums = Vec::with_capacity(rounds);
    match mode.as_str() {
        "orm" => {
            let mut conn = db.get().expect("take a connection from the pool");
            two_hop::setup(&mut conn, n);
            for _ in 0..rounds {
                sums.push(two_hop::orm_peers(&mut conn));
            }
        }
        "typed" => {
            // On SQLite the typed connection's own database is filled; on
            // a server the typed code reads through the `PgConnection` /
            // `MysqlConnection` inside a pooled connection (see
            // `typed::TypedConn`), which the pool's setup filled.
            let mut pooled = (backend != BackendKind::Sqlite).then(|| {
                let mut conn = db.get().expect("take a connection from the pool");
                two_hop::setup(&mut conn, n);
                conn
            });
            let mut typed = typed::typed_copy(&db, |c| two_hop::setup(c, n));
            for _ in 0..rounds {
                let conn = match pooled.as_deref_mut() {
                    Some(pooled) => typed.on(pooled),
                    None => typed
                        .own()
                        .expect("on SQLite the typed code has its own database"),
                };
                sums.push(two_hop::typed(conn));
            }
        }
        "setup" => {
            let mut conn = db.get().expect("take a connection from the pool");
            two_hop::setup(&mut conn, n);
        }
        _ => return usage(),
    }
    println!("peers_rss {mode} {backend} N = {n}: checksums {sums:?}");
    ExitCode::SUCCESS
}
