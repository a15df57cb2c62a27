//! `CREATE TABLE` / `DROP TABLE` generated from model metadata, per backend.
//!
//! Only identifiers and types are written into the SQL; identifiers are
//! quoted for the backend, so tables named `order` or `group` work.

use diesel::connection::SimpleConnection;

use crate::backend::{AnyConnection, BackendKind};
use crate::error::Result;
use crate::meta::{Choices, ColumnMeta, ModelMeta, SqlKind};
use crate::model::Model;

/// Quotes an identifier for `backend` (`"name"`, or `` `name` `` on MySQL).
///
/// ```
/// use orm_core::{schema::quote, BackendKind};
/// assert_eq!(quote(BackendKind::Postgres, "order"), "\"order\"");
/// assert_eq!(quote(BackendKind::Mysql, "we`ird"), "`we``ird`");
/// ```
pub fn quote(backend: BackendKind, ident: &str) -> String {
    match backend {
        BackendKind::Mysql => format!("`{}`", ident.replace('`', "``")),
        BackendKind::Sqlite | BackendKind::Postgres => {
            format!("\"{}\"", ident.replace('"', "\"\""))
        }
    }
}

fn column_type(backend: BackendKind, column: &ColumnMeta) -> String {
    use BackendKind::*;
    use SqlKind::*;
    if column.auto_increment {
        return match (backend, column.kind) {
            (Sqlite, _) => "INTEGER".into(),
            (Postgres, SmallInt) => "SMALLSERIAL".into(),
            (Postgres, Integer) => "SERIAL".into(),
            (Postgres, _) => "BIGSERIAL".into(),
            (Mysql, SmallInt) => "SMALLINT".into(),
            (Mysql, Integer) => "INTEGER".into(),
            (Mysql, _) => "BIGINT".into(),
        };
    }
    // MySQL cannot index or constrain TEXT without a prefix length, so
    // keyed text columns become VARCHAR there.
    let keyed = column.primary_key || column.unique || column.index || column.references.is_some();
    match (backend, column.kind) {
        (_, SmallInt) => "SMALLINT".into(),
        (_, Integer) => "INTEGER".into(),
        (_, BigInt) => "BIGINT".into(),
        (Postgres, Float) | (Sqlite, Float) => "REAL".into(),
        (Mysql, Float) => "FLOAT".into(),
        (Postgres, Double) => "DOUBLE PRECISION".into(),
        (_, Double) => "DOUBLE".into(),
        (_, Bool) => "BOOLEAN".into(),
        (Sqlite, Text) => "TEXT".into(),
        (_, Text) => match column.max_length {
            Some(n) => format!("VARCHAR({n})"),
            None if backend == Mysql && keyed => "VARCHAR(255)".into(),
            None if backend == Mysql => "LONGTEXT".into(),
            None => "TEXT".into(),
        },
        (Postgres, Binary) => "BYTEA".into(),
        (Mysql, Binary) => "LONGBLOB".into(),
        (Sqlite, Binary) => "BLOB".into(),
        (_, Date) => "DATE".into(),
        (Mysql, Time) => "TIME(6)".into(),
        (_, Time) => "TIME".into(),
        (Mysql, Timestamp) => "DATETIME(6)".into(),
        (_, Timestamp) => "TIMESTAMP".into(),
        (Postgres, Uuid) => "UUID".into(),
        (Mysql, Uuid) => "BINARY(16)".into(),
        (Sqlite, Uuid) => "BLOB".into(),
        (Postgres, TimestampTz) => "TIMESTAMPTZ".into(),
        (Mysql, TimestampTz) => "DATETIME(6)".into(),
        (Sqlite, TimestampTz) => "TEXT".into(),
        (Postgres, Json) => "JSONB".into(),
        (Mysql, Json) => "JSON".into(),
        (Sqlite, Json) => "TEXT".into(),
        (Sqlite, Decimal) => "NUMERIC".into(),
        (_, Decimal) => match column.decimal {
            Some((digits, places)) => format!("NUMERIC({digits}, {places})"),
            // MySQL's bare NUMERIC is DECIMAL(10, 0): take its widest.
            None if backend == Mysql => "NUMERIC(65, 30)".into(),
            None => "NUMERIC".into(),
        },
    }
}

fn column_definition(backend: BackendKind, column: &ColumnMeta) -> String {
    let mut sql = format!(
        "{} {}",
        quote(backend, column.name),
        column_type(backend, column)
    );
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if column.primary_key {
        sql.push_str(" PRIMARY KEY");
        if column.auto_increment {
            match backend {
                BackendKind::Sqlite => sql.push_str(" AUTOINCREMENT"),
                BackendKind::Mysql => sql.push_str(" AUTO_INCREMENT"),
                BackendKind::Postgres => {}
            }
        }
    } else if column.unique {
        sql.push_str(" UNIQUE");
    }
    if column.choices != Choices::None {
        sql.push_str(&format!(
            " CHECK ({} IN ({}))",
            quote(backend, column.name),
            column.choices.sql_list()
        ));
    }
    sql
}

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
    let q = |ident: &str| quote(backend, ident);
    let mut parts: Vec<String> = meta
        .columns
        .iter()
        .map(|c| column_definition(backend, c))
        .collect();
    for column in meta.columns {
        if let Some(reference) = &column.references {
            let target = (reference.model)();
            parts.push(format!(
                "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                q(column.name),
                q(target.table),
                q(reference.column.unwrap_or(target.primary_key().name)),
                reference.on_delete.sql()
            ));
        }
    }
    if !meta.unique_together.is_empty() {
        let columns: Vec<String> = meta.unique_together.iter().map(|c| q(c)).collect();
        parts.push(format!("UNIQUE ({})", columns.join(", ")));
    }
    let mut statements = vec![format!(
        "CREATE TABLE {} ({})",
        q(meta.table),
        parts.join(", ")
    )];
    for column in meta
        .columns
        .iter()
        .filter(|c| c.index && !c.unique && !c.primary_key)
    {
        statements.push(format!(
            "CREATE INDEX {} ON {} ({})",
            q(&format!("{}_{}_idx", meta.table, column.name)),
            q(meta.table),
            q(column.name)
        ));
    }
    statements
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

/// The models' tables followed by the through tables of their
/// many-to-many fields.
fn with_through<'a>(metas: &[&'a ModelMeta]) -> Vec<&'a ModelMeta> {
    let through = metas
        .iter()
        .flat_map(|m| m.through.iter().map(|through| through()));
    metas.iter().copied().chain(through).collect()
}

/// Creates the tables of several models, in the order given (referenced
/// tables first), then the through tables of their many-to-many fields.
pub fn create_tables(conn: &mut AnyConnection, metas: &[&ModelMeta]) -> Result<()> {
    let backend = conn.backend();
    for meta in with_through(metas) {
        for statement in create_table_sql(meta, backend) {
            conn.batch_execute(&statement)?;
        }
    }
    Ok(())
}

/// Drops the tables of several models and their through tables, in reverse
/// order (referencing tables first).
pub fn drop_tables(conn: &mut AnyConnection, metas: &[&ModelMeta]) -> Result<()> {
    let backend = conn.backend();
    for meta in with_through(metas).iter().rev() {
        conn.batch_execute(&drop_table_sql(meta, backend))?;
    }
    Ok(())
}
