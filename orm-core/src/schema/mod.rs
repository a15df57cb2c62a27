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
    let mut created: Vec<&str> = Vec::new();
    let mut later = Vec::new();
    for meta in models.tables() {
        // A foreign key closing a cycle goes in once its table exists.
        let (now, deferred) =
            ddl::create_table_among(backend, &TableDef::of(meta), |t| created.contains(&t));
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
    // Tables whose foreign keys form a cycle reference each other whatever
    // the order: their constraints go with them (PostgreSQL's CASCADE, and
    // MySQL's checks off for these statements).
    let cascade = match backend {
        BackendKind::Postgres => " CASCADE",
        _ => "",
    };
    if backend == BackendKind::Mysql {
        conn.batch_execute("SET FOREIGN_KEY_CHECKS = 0")?;
    }
    let mut result = Ok(());
    for meta in models.tables().iter().rev() {
        result = conn.batch_execute(&format!("{}{cascade}", drop_table_sql(meta, backend)));
        if result.is_err() {
            break;
        }
    }
    if backend == BackendKind::Mysql {
        conn.batch_execute("SET FOREIGN_KEY_CHECKS = 1")?;
    }
    Ok(result?)
}
