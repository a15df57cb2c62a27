//! What the pool's health check costs: taking a connection from the pool
//! and giving it back, with the check (a `SELECT 1` round trip before a
//! connection is handed out, the default) and without it (the baseline),
//! on SQLite (in memory), PostgreSQL and MariaDB (localhost).
//!
//! `cargo bench -p orm-benches --bench pool_checkout`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use orm_benches::fixture;
use orm_core::Db;

fn checkout(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_checkout");
    group.measurement_time(Duration::from_secs(3));
    for &backend in fixture::BACKENDS {
        let Some(test_db) = fixture::open(backend) else {
            continue;
        };
        for (name, check) in [("unchecked", false), ("checked", true)] {
            let db = match Db::builder(&test_db.url).health_check(check).build() {
                Ok(db) => db,
                Err(e) => panic!("{backend}: {e}"),
            };
            // One connection opened before measuring.
            drop(db.get());
            let id = format!("{}/{name}", fixture::slug(backend));
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
