//! What the pool's health check costs: taking a connection from the pool
//! and giving it back, with the check (a `SELECT 1` round trip before a
//! connection is handed out, the default) and without it, on SQLite (in
//! memory), PostgreSQL and MariaDB (localhost).
//!
//! The baseline is what a user of plain diesel would write instead: an
//! r2d2 pool of the typed connection (`diesel::r2d2::Pool<ConnectionManager
//! <SqliteConnection>>`, `PgConnection`, `MysqlConnection`), with r2d2's
//! own check on checkout (`test_on_check_out`, r2d2's default, which runs
//! the same `SELECT 1`) and without it. Variants, per backend:
//! `typed/unchecked`, `typed/checked`, `orm/unchecked`, `orm/checked`.
//!
//! `cargo bench -p orm-benches --bench pool_checkout`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use orm_benches::fixture;
use orm_core::{BackendKind, Db};

const CHECKS: [(&str, bool); 2] = [("unchecked", false), ("checked", true)];

/// Checkouts from an r2d2 pool of the typed connection `C` on `url`, with
/// and without r2d2's check on checkout.
fn typed<C: R2D2Connection + 'static>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    backend: BackendKind,
    url: &str,
) {
    for (name, check) in CHECKS {
        let pool = Pool::builder()
            .max_size(2)
            .test_on_check_out(check)
            .build(ConnectionManager::<C>::new(url))
            .unwrap_or_else(|e| panic!("{backend}: a typed r2d2 pool: {e}"));
        let id = format!("{}/typed/{name}", fixture::slug(backend));
        group.bench_function(id, |b| {
            b.iter(|| match pool.get() {
                Ok(conn) => drop(conn),
                Err(e) => panic!("{e}"),
            })
        });
    }
}

fn checkout(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_checkout");
    group.measurement_time(Duration::from_secs(3));
    for &backend in fixture::BACKENDS {
        let Some(test_db) = fixture::open(backend) else {
            continue;
        };
        match backend {
            BackendKind::Sqlite => {
                typed::<diesel::SqliteConnection>(&mut group, backend, ":memory:")
            }
            BackendKind::Postgres => {
                typed::<diesel::PgConnection>(&mut group, backend, &test_db.url)
            }
            #[cfg(feature = "mysql")]
            BackendKind::Mysql => {
                typed::<diesel::MysqlConnection>(&mut group, backend, &test_db.url)
            }
            #[cfg(not(feature = "mysql"))]
            BackendKind::Mysql => {}
        }
        for (name, check) in CHECKS {
            let db = match Db::builder(&test_db.url).health_check(check).build() {
                Ok(db) => db,
                Err(e) => panic!("{backend}: {e}"),
            };
            // One connection opened before measuring.
            drop(db.get());
            let id = format!("{}/orm/{name}", fixture::slug(backend));
            group.bench_function(id, |b| {
                b.iter(|| match db.get() {
                    Ok(conn) => drop(conn),
                    Err(e) => panic!("{e}"),
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, checkout);
criterion_main!(benches);
