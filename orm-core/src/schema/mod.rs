//! `CREATE TABLE` / `DROP TABLE` generated from model metadata, per backend.
//!
//! Only identifiers and types are written into the SQL; identifiers are
//! quoted for the backend, so tables named `order` or `group` work. For
//! changing a schema that holds data, see the `orm-migrations` crate.

pub mod ddl;
mod table;

use diesel::connection::SimpleConnection;

use crate::backend::{AnyConnection, BackendKind};
use crate::error::Result;
use crate::meta::ModelMeta;
use crate::model::Model;
use crate::registry::Models;

pub use ddl::quote;
pub use table::{ColumnDef, ForeignKeyDef, TableDef};

/// The statements creating `meta`'s table and its indexes on `backend`.
///
/// ```
/// use orm_core::prelude::*;
/// use orm_core::{schema, BackendKind};
///
/// #[derive(Model, Debug, Clone, Default)]
/// pub struct Order {
///     #[orm(primary_key)]
///     pub id: Option<i64>,
///     #[orm(index)]
///     pub total: f64,
/// }
///
/// let sql = schema::create_table_sql(Order::meta(), BackendKind::Postgres);
/// assert_eq!(sql[0], r#"CREATE TABLE "order" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "total" DOUBLE PRECISION NOT NULL)"#);
/// assert_eq!(sql[1], r#"CREATE INDEX "order_total_idx" ON "order" ("total")"#);
/// ```
pub fn create_table_sql(meta: &ModelMeta, backend: BackendKind) -> Vec<String> {
    ddl::create_table(backend, &TableDef::of(meta))
}

/// The statement dropping `meta`'s table if it exists.
///
/// ```
/// use orm_core::{schema, BackendKind};
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Group { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
/// assert_eq!(schema::drop_table_sql(Group::meta(), BackendKind::Mysql), "DROP TABLE IF EXISTS `group`");
/// ```
pub fn drop_table_sql(meta: &ModelMeta, backend: BackendKind) -> String {
    format!("DROP TABLE IF EXISTS {}", quote(backend, meta.table))
}

/// Creates `M`'s table (and its indexes) on `conn`.
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Group { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_table::<Group>(&mut conn)?;
/// assert_eq!(Group::objects().count(&mut conn)?, 0);
/// # Ok(()) }
/// ```
pub fn create_table<M: Model>(conn: &mut AnyConnection) -> Result<()> {
    create_tables(conn, &[M::meta()])
}

/// Drops `M`'s table if it exists.
pub fn drop_table<M: Model>(conn: &mut AnyConnection) -> Result<()> {
    drop_tables(conn, &[M::meta()])
}

/// Creates the tables of several models and the through tables of their
/// many-to-many fields, referenced tables first.
pub fn create_tables(conn: &mut AnyConnection, metas: &[&'static ModelMeta]) -> Result<()> {
    create_all(conn, &Models::new(metas))
}

/// Drops the tables of several models and their through tables,
/// referencing tables first.
pub fn drop_tables(conn: &mut AnyConnection, metas: &[&'static ModelMeta]) -> Result<()> {
    drop_all(conn, &Models::new(metas))
}

/// Creates every table of an app's [`Models`] (for tests and throw-away
/// databases; a database that keeps data is changed with migrations).
///
/// ```
/// # use orm_core::prelude::*;
/// # #[derive(Model, Debug, Clone, Default)]
/// # pub struct Group { #[orm(primary_key)] pub id: Option<i64>, pub name: String }
/// # fn main() -> orm_core::Result<()> {
/// let db = Db::connect("sqlite::memory:")?;
/// let mut conn = db.get()?;
/// orm_core::schema::create_all(&mut conn, &orm_core::models![Group])?;
/// assert_eq!(Group::objects().count(&mut conn)?, 0);
/// # Ok(()) }
/// ```
pub fn create_all(conn: &mut AnyConnection, models: &Models) -> Result<()> {
    let backend = conn.backend();
    let listed: Vec<&str> = models.tables().iter().map(|m| m.table).collect();
    let mut created: Vec<&str> = Vec::new();
    let mut later = Vec::new();
    for meta in models.tables() {
        // A foreign key closing a cycle goes in once its table exists
        // (tables outside the list exist already, or the user's error).
        let (now, deferred) = ddl::create_table_among(backend, &TableDef::of(meta), |t| {
            created.contains(&t) || !listed.contains(&t)
        });
        for statement in now {
            conn.batch_execute(&statement)?;
        }
        later.extend(deferred);
        created.push(meta.table);
    }
    for statement in later {
        conn.batch_execute(&statement)?;
    }
    Ok(())
}

/// Drops every table of an app's [`Models`] that exists, referencing tables
/// first.
pub fn drop_all(conn: &mut AnyConnection, models: &Models) -> Result<()> {
    let backend = conn.backend();
    let tables = models.tables();
    for (i, meta) in tables.iter().enumerate().rev() {
        // A listed table dropped after this one that references it closes
        // a cycle: its foreign key goes first.
        for other in &tables[..i] {
            for column in other.columns.iter().filter(|c| {
                c.references
                    .is_some_and(|r| (r.model)().table == meta.table)
            }) {
                drop_foreign_key_if_exists(conn, other.table, column.name)?;
            }
        }
        conn.batch_execute(&drop_table_sql(meta, backend))?;
    }
    Ok(())
}

/// Drops the foreign key of `table.column` if the table and the key exist
/// (SQLite has no constraint to drop: its tables go in any order).
fn drop_foreign_key_if_exists(conn: &mut AnyConnection, table: &str, column: &str) -> Result<()> {
    let backend = conn.backend();
    let name = ddl::names::foreign_key(table, column);
    let statement = match backend {
        BackendKind::Sqlite => return Ok(()),
        BackendKind::Postgres => format!(
            "ALTER TABLE IF EXISTS {} DROP CONSTRAINT IF EXISTS {}",
            quote(backend, table),
            quote(backend, &name)
        ),
        BackendKind::Mysql => {
            use diesel::{sql_types::Text, RunQueryDsl};
            let found: i64 = diesel::select(
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "(SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS \
                     WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'FOREIGN KEY' \
                     AND TABLE_NAME = ",
                )
                .bind::<Text, _>(table)
                .sql(" AND CONSTRAINT_NAME = ")
                .bind::<Text, _>(&name)
                .sql(")"),
            )
            .get_result(conn)?;
            if found == 0 {
                return Ok(());
            }
            ddl::drop_foreign_key(backend, table, column)
        }
    };
    conn.batch_execute(&statement)?;
    Ok(())
}
