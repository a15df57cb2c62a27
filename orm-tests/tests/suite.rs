//! The integration tests of orm-core, run on SQLite, PostgreSQL and
//! MariaDB: one test binary, one module per file of `tests/`.
//!
//! One binary instead of one per file: orm-core's generic code is
//! instantiated for the polls models once, and linked once, which makes
//! the suite build in much less time. Each test still runs in a process
//! of its own under nextest (`scripts/test.sh`).

mod aborted_transactions;
mod bad_values;
mod cache_order;
mod column_types;
mod concurrency;
mod crud;
mod distinct;
mod dropped_connection;
mod eager_loading;
mod enums;
mod exact_writes;
mod faults;
mod fetch_mode_inheritance;
mod fetch_mode_levels;
mod fetch_modes;
mod fetch_modes_prop;
mod forms;
mod json_columns;
mod large_peer_groups;
mod large_prefetch;
mod locking;
mod long_names;
mod lookups;
mod many_to_many;
mod migration_data;
mod migration_order;
mod migrations;
mod narrow_keys;
mod order_related;
mod peers_threads;
mod prefetch_query;
mod raw_identifiers;
mod relations;
mod select_related;
mod serde;
mod shortcuts;
mod streaming;
mod to_field_columns;
mod transactions;
mod uuid_keys;
