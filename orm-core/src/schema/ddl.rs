//! The SQL that creates tables, per backend, written from [`TableDef`]s.
//!
//! Constraints and indexes get names derived from the table and columns
//! (PostgreSQL's own scheme), so a later migration can drop them by name on
//! every backend.

use crate::backend::BackendKind;
use crate::meta::SqlKind;

use super::table::{ColumnDef, TableDef};

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

/// The names given to a table's constraints and indexes. A name longer
/// than PostgreSQL's 63 bytes (MySQL refuses more than 64, PostgreSQL
/// cuts them, so two could collide) keeps its first 54 bytes and ends
/// with a hash of the whole name.
///
/// ```
/// use orm_core::schema::ddl::names;
/// assert_eq!(names::unique("tag", "name"), "tag_name_key");
/// assert_eq!(names::foreign_key("book", "author_id"), "book_author_id_fkey");
/// assert_eq!(names::index("book", "title"), "book_title_idx");
/// assert_eq!(names::unique_together("link", &["a".into(), "b".into()]), "link_a_b_uniq");
/// let long = names::unique_together(
///     "a_table_with_quite_a_long_name",
///     &["first_long_column".into(), "second_long_column".into()],
/// );
/// assert_eq!(long.len(), 63);
/// assert!(long.starts_with("a_table_with_quite_a_long_name_first_long_column_secon_"));
/// ```
pub mod names {
    /// PostgreSQL's longest identifier, in bytes (MySQL's is 64).
    const MAX: usize = 63;

    /// A single-column unique constraint.
    pub fn unique(table: &str, column: &str) -> String {
        bounded(format!("{table}_{column}_key"))
    }

    /// A foreign-key constraint.
    pub fn foreign_key(table: &str, column: &str) -> String {
        bounded(format!("{table}_{column}_fkey"))
    }

    /// A plain index.
    pub fn index(table: &str, column: &str) -> String {
        bounded(format!("{table}_{column}_idx"))
    }

    /// The `unique_together` constraint.
    pub fn unique_together(table: &str, columns: &[String]) -> String {
        bounded(format!("{table}_{}_uniq", columns.join("_")))
    }

    /// The `CHECK` of an enum column's values (PostgreSQL's own name for
    /// it when that fits, which databases made before it was given keep).
    pub fn check(table: &str, column: &str) -> String {
        bounded(format!("{table}_{column}_check"))
    }

    /// `name` if it fits; else its first bytes (on a character boundary)
    /// and eight hex digits of its FNV-1a hash, 63 bytes at most.
    fn bounded(name: String) -> String {
        if name.len() <= MAX {
            return name;
        }
        let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let mut end = MAX - 9;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}_{hash:08x}", &name[..end])
    }
}

/// The column's SQL type on `backend`.
///
/// ```
/// use orm_core::schema::{ddl::column_type, ColumnDef};
/// use orm_core::{BackendKind, SqlKind};
/// let mut name = ColumnDef::new("name", SqlKind::Text);
/// assert_eq!(column_type(BackendKind::Mysql, &name), "LONGTEXT");
/// name.max_length = Some(80);
/// assert_eq!(column_type(BackendKind::Mysql, &name), "VARCHAR(80)");
/// ```
pub fn column_type(backend: BackendKind, column: &ColumnDef) -> String {
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
        // MySQL cannot index or constrain TEXT without a prefix length, so
        // keyed text columns become VARCHAR there.
        (_, Text) => match column.max_length {
            Some(n) => format!("VARCHAR({n})"),
            None if backend == Mysql && column.keyed() => "VARCHAR(255)".into(),
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

/// The definition of a column of `table` inside `CREATE TABLE` or `ADD
/// COLUMN`: name, type, NOT NULL, default, primary key and `CHECK` (named
/// on PostgreSQL, so a migration can drop it whatever the names' length).
/// Unique and foreign-key constraints are separate, named ones
/// ([`constraints`]).
///
/// ```
/// use orm_core::schema::{ddl::column_definition, ColumnDef};
/// use orm_core::{BackendKind, SqlKind};
/// let mut votes = ColumnDef::new("votes", SqlKind::Integer);
/// votes.default = Some("0".into());
/// assert_eq!(column_definition(BackendKind::Postgres, "choice", &votes), r#""votes" INTEGER NOT NULL DEFAULT 0"#);
/// ```
pub fn column_definition(backend: BackendKind, table: &str, column: &ColumnDef) -> String {
    let mut sql = format!(
        "{} {}",
        quote(backend, &column.name),
        column_type(backend, column)
    );
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&literal(backend, default));
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
    }
    if let Some((min, max)) = sqlite_int_range(backend, column) {
        sql.push_str(&format!(
            " CHECK ({} BETWEEN {min} AND {max})",
            quote(backend, &column.name)
        ));
    }
    if let Some(choices) = &column.choices {
        if backend == BackendKind::Postgres {
            sql.push_str(&format!(
                " CONSTRAINT {}",
                quote(backend, &names::check(table, &column.name))
            ));
        }
        sql.push_str(&format!(
            " CHECK ({} IN ({}))",
            quote(backend, &column.name),
            literal(backend, choices)
        ));
    }
    sql
}

/// The range of a narrow integer column (`i16`, `i32`) on SQLite, whose
/// integers are 64 bits wide: past it a write would succeed (an
/// auto-increment key, `QuerySet::update` with `votes + 1`) with a value
/// the field cannot hold, read back wrapped, so the table refuses it as
/// PostgreSQL's and MySQL's columns do. An integer enum's column has its
/// list of values checked instead.
fn sqlite_int_range(backend: BackendKind, column: &ColumnDef) -> Option<(i64, i64)> {
    if backend != BackendKind::Sqlite || column.choices.is_some() {
        return None;
    }
    match column.kind {
        SqlKind::SmallInt => Some((i16::MIN.into(), i16::MAX.into())),
        SqlKind::Integer => Some((i32::MIN.into(), i32::MAX.into())),
        _ => None,
    }
}

/// SQL holding standard string literals (a default, a list of choices),
/// as `backend` reads them: MySQL takes a backslash in a string literal
/// as an escape, so it is doubled there (`'C:\temp'` would store a tab).
///
/// ```
/// use orm_core::schema::ddl::literal;
/// use orm_core::BackendKind;
/// assert_eq!(literal(BackendKind::Mysql, r"'C:\temp'"), r"'C:\\temp'");
/// assert_eq!(literal(BackendKind::Postgres, r"'C:\temp'"), r"'C:\temp'");
/// ```
pub fn literal(backend: BackendKind, sql: &str) -> std::borrow::Cow<'_, str> {
    if backend == BackendKind::Mysql && sql.contains('\\') {
        sql.replace('\\', "\\\\").into()
    } else {
        sql.into()
    }
}

/// The named table constraints a column carries: its unique constraint and
/// its foreign key (as they appear in `CREATE TABLE` or after `ADD`).
pub fn constraints(backend: BackendKind, table: &str, column: &ColumnDef) -> Vec<String> {
    unique_constraint(backend, table, column)
        .into_iter()
        .chain(foreign_key_constraint(backend, table, column))
        .collect()
}

/// The column's single-column unique constraint, if it has one (a primary
/// key is unique already).
pub fn unique_constraint(backend: BackendKind, table: &str, column: &ColumnDef) -> Option<String> {
    (column.unique && !column.primary_key).then(|| {
        format!(
            "CONSTRAINT {} UNIQUE ({})",
            quote(backend, &names::unique(table, &column.name)),
            quote(backend, &column.name)
        )
    })
}

/// The column's foreign-key constraint, if it references another table.
pub fn foreign_key_constraint(
    backend: BackendKind,
    table: &str,
    column: &ColumnDef,
) -> Option<String> {
    let q = |ident: &str| quote(backend, ident);
    column.references.as_ref().map(|reference| {
        format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
            q(&names::foreign_key(table, &column.name)),
            q(&column.name),
            q(&reference.table),
            q(&reference.column),
            reference.on_delete.sql()
        )
    })
}

/// `ALTER TABLE table DROP` the foreign key of `column` (MySQL's `DROP
/// FOREIGN KEY`, PostgreSQL's `DROP CONSTRAINT`).
///
/// ```
/// use orm_core::{schema::ddl::drop_foreign_key, BackendKind};
/// assert_eq!(drop_foreign_key(BackendKind::Mysql, "book", "author_id"), "ALTER TABLE `book` DROP FOREIGN KEY `book_author_id_fkey`");
/// ```
pub fn drop_foreign_key(backend: BackendKind, table: &str, column: &str) -> String {
    let name = quote(backend, &names::foreign_key(table, column));
    let change = if backend == BackendKind::Mysql {
        format!("DROP FOREIGN KEY {name}")
    } else {
        format!("DROP CONSTRAINT {name}")
    };
    format!("ALTER TABLE {} {change}", quote(backend, table))
}

/// The `unique_together` constraint of `table`, if it has one.
pub fn unique_together(backend: BackendKind, table: &TableDef) -> Option<String> {
    if table.unique_together.is_empty() {
        return None;
    }
    let columns: Vec<String> = table
        .unique_together
        .iter()
        .map(|c| quote(backend, c))
        .collect();
    Some(format!(
        "CONSTRAINT {} UNIQUE ({})",
        quote(
            backend,
            &names::unique_together(&table.name, &table.unique_together)
        ),
        columns.join(", ")
    ))
}

/// `CREATE INDEX` for a column marked `index` (a unique or key column has
/// its constraint's index instead).
pub fn create_index(backend: BackendKind, table: &str, column: &ColumnDef) -> Option<String> {
    indexed(column).then(|| {
        format!(
            "CREATE INDEX {} ON {} ({})",
            quote(backend, &names::index(table, &column.name)),
            quote(backend, table),
            quote(backend, &column.name)
        )
    })
}

/// The `CREATE TABLE` statement of `table` on `backend`, under the name
/// `name` (the table's own, or a temporary one while SQLite rebuilds it).
pub fn create_table_statement(backend: BackendKind, table: &TableDef, name: &str) -> String {
    table_statement(backend, table, name, |_| true)
}

/// [`create_table_statement`] with the foreign keys of the columns `keep`
/// refuses left out.
fn table_statement(
    backend: BackendKind,
    table: &TableDef,
    name: &str,
    keep: impl Fn(&ColumnDef) -> bool,
) -> String {
    let mut parts: Vec<String> = table
        .columns
        .iter()
        .map(|c| column_definition(backend, &table.name, c))
        .collect();
    if backend == BackendKind::Mysql {
        // Declared before the foreign keys, which then use them instead of
        // creating an index of their own.
        parts.extend(table.columns.iter().filter(|c| indexed(c)).map(|c| {
            format!(
                "INDEX {} ({})",
                quote(backend, &names::index(&table.name, &c.name)),
                quote(backend, &c.name)
            )
        }));
    }
    for column in &table.columns {
        parts.extend(unique_constraint(backend, &table.name, column));
        if keep(column) {
            parts.extend(foreign_key_constraint(backend, &table.name, column));
        }
    }
    parts.extend(unique_together(backend, table));
    format!(
        "CREATE TABLE {} ({})",
        quote(backend, name),
        parts.join(", ")
    )
}

/// The `CREATE INDEX` statements of `table`'s indexed columns (none on
/// MySQL, where [`create_table_statement`] declares them).
pub fn create_indexes(backend: BackendKind, table: &TableDef) -> Vec<String> {
    if backend == BackendKind::Mysql {
        return Vec::new();
    }
    table
        .columns
        .iter()
        .filter_map(|c| create_index(backend, &table.name, c))
        .collect()
}

/// Whether the column gets an index of its own.
fn indexed(column: &ColumnDef) -> bool {
    column.index && !column.unique && !column.primary_key
}

/// The statements creating `table` and its indexes on `backend`.
///
/// ```
/// use orm_core::schema::{ddl::create_table, ColumnDef, TableDef};
/// use orm_core::{BackendKind, SqlKind};
/// let mut id = ColumnDef::new("id", SqlKind::BigInt);
/// id.primary_key = true;
/// let mut name = ColumnDef::new("name", SqlKind::Text);
/// name.unique = true;
/// let table = TableDef { name: "tag".into(), columns: vec![id, name], unique_together: vec![] };
/// assert_eq!(
///     create_table(BackendKind::Sqlite, &table),
///     [r#"CREATE TABLE "tag" ("id" BIGINT NOT NULL PRIMARY KEY, "name" TEXT NOT NULL, CONSTRAINT "tag_name_key" UNIQUE ("name"))"#]
/// );
/// ```
pub fn create_table(backend: BackendKind, table: &TableDef) -> Vec<String> {
    let mut statements = vec![create_table_statement(backend, table, &table.name)];
    statements.extend(create_indexes(backend, table));
    statements
}

/// [`create_table`] among tables created together, whose foreign keys may
/// reference one another in a cycle: on PostgreSQL and MySQL a foreign key
/// to a table `exists` says is not there yet (other than `table` itself)
/// is left out of `CREATE TABLE` and returned second, as an `ALTER TABLE
/// … ADD CONSTRAINT` to run once it is. SQLite checks references only when
/// rows are written: everything is in its `CREATE TABLE`.
///
/// ```
/// use orm_core::schema::{ddl::create_table_among, ColumnDef, ForeignKeyDef, TableDef};
/// use orm_core::{BackendKind, OnDelete, SqlKind};
/// let mut id = ColumnDef::new("id", SqlKind::BigInt);
/// id.primary_key = true;
/// let mut captain = ColumnDef::new("captain_id", SqlKind::BigInt);
/// captain.references = Some(ForeignKeyDef { table: "player".into(), column: "id".into(), on_delete: OnDelete::Cascade });
/// let team = TableDef { name: "team".into(), columns: vec![id, captain], unique_together: vec![] };
/// let (now, later) = create_table_among(BackendKind::Postgres, &team, |_| false);
/// assert!(!now[0].contains("FOREIGN KEY"));
/// assert_eq!(later, [r#"ALTER TABLE "team" ADD CONSTRAINT "team_captain_id_fkey" FOREIGN KEY ("captain_id") REFERENCES "player" ("id") ON DELETE CASCADE"#]);
/// ```
pub fn create_table_among(
    backend: BackendKind,
    table: &TableDef,
    exists: impl Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let ahead = |c: &ColumnDef| {
        backend != BackendKind::Sqlite
            && c.references
                .as_ref()
                .is_some_and(|r| r.table != table.name && !exists(&r.table))
    };
    let later = table
        .columns
        .iter()
        .filter(|c| ahead(c))
        .filter_map(|c| foreign_key_constraint(backend, &table.name, c))
        .map(|fk| format!("ALTER TABLE {} ADD {fk}", quote(backend, &table.name)))
        .collect();
    // The column keeps its type (a MySQL text key stays a VARCHAR the
    // constraint can use): only the constraint waits.
    let mut now = vec![table_statement(backend, table, &table.name, |c| !ahead(c))];
    now.extend(create_indexes(backend, table));
    (now, later)
}
