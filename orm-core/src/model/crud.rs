//! The writes and reads of one instance (and of a batch of new ones),
//! generic over [`Model`].

use diesel::query_builder::QueryFragment;
use diesel::RunQueryDsl;

use super::write::{BulkUpdate, Insert, KeyEq, OnConflict, UpdateRow};
use super::Model;
use crate::backend::row::{load, load_any, load_into_any, read, Collect, RawRow};
use crate::backend::{AnyConnection, BackendKind, MultiBackend};
use crate::error::{OrmError, Result};
use crate::meta::{ColumnMeta, Key, KeyColumn, KeyType};
use crate::sql::{self, Fragment, Order, Select};

/// The instance's key, or `Unsaved`.
pub(crate) fn key_of<M: Model>(instance: &M) -> Result<M::Key> {
    instance.pk().ok_or(OrmError::Unsaved {
        model: M::meta().name,
    })
}

/// A foreign key must not hold an unsaved object, and one that may not be
/// NULL must be set, before a write.
fn check_relations<M: Model>(instance: &M) -> Result<()> {
    let meta = M::meta();
    let mut index = 0;
    while let Some(r) = instance.relation(index) {
        if let Some(column) = r.column.map(|c| &meta.columns[c]) {
            if let Some(target) = r.field.unsaved_target() {
                return Err(OrmError::UnsavedRelated {
                    model: meta.name,
                    field: column.field,
                    target,
                });
            }
            if let Some(to_field) = by_other_field(column).filter(|_| r.field.key_is_target_pk()) {
                return Err(OrmError::InvalidQuery {
                    model: meta.name,
                    reason: format!(
                        "{}.{} refers to its target by `{to_field}`, but was set with `ForeignKey::set`, which stores the primary key; use the generated `set_{}(target)` (or `set_key` with the `{to_field}` value)",
                        meta.name, column.field, column.field.trim_start_matches("r#"),
                    ),
                });
            }
            if !column.nullable && !r.field.has_key() {
                return Err(OrmError::RelationUnset {
                    model: meta.name,
                    field: column.field,
                });
            }
        }
        index += 1;
    }
    Ok(())
}

/// The field a foreign-key column refers to its target by, when that is
/// not the target's primary key (`to_field`).
fn by_other_field(column: &ColumnMeta) -> Option<&'static str> {
    let references = column.references.as_ref()?;
    let to_field = references.column?;
    (to_field != (references.model)().primary_key().field).then_some(to_field)
}

/// The filter `pk IN (key)`.
fn key_filter<M: Model>(key: &M::Key) -> Fragment {
    let meta = M::meta();
    sql::key_in(
        meta.table,
        meta.primary_key().name,
        std::slice::from_ref(&key.to_key()),
    )
}

/// The rows (none or one) with primary key `key`.
fn load_by_key<M: Model>(conn: &mut AnyConnection, key: &M::Key) -> Result<Vec<M>> {
    let filters = [key_filter::<M>(key)];
    load(
        conn,
        Select::new(M::meta(), &[], &filters, Order::Terms(&[])),
    )
}

pub(super) fn get<M: Model>(conn: &mut AnyConnection, key: &M::Key) -> Result<M> {
    let mut rows = load_by_key::<M>(conn, key)?;
    M::link_peers(rows.iter());
    rows.pop().ok_or(OrmError::NotFound {
        model: M::meta().name,
    })
}

/// The positions of the columns an INSERT writes: all, or all but an
/// auto-increment key the database assigns.
fn insert_columns<M: Model>(assigned_key: bool) -> Vec<usize> {
    let meta = M::meta();
    (0..meta.columns.len())
        .filter(|&i| !(assigned_key && meta.columns[i].auto_increment))
        .collect()
}

/// Readies a row for writing: an unset key generated in Rust
/// (`Option<Uuid>`) gets its value, and a decimal with more places than
/// its column keeps is rounded to them, half away from zero, as
/// PostgreSQL and MySQL round when they store it: the instance then holds
/// what the database holds, and SQLite (which stores a decimal as written)
/// holds what the others do, so filters and unique constraints see it.
fn prepare<M: Model>(instance: &mut M) {
    if instance.pk().is_none() {
        if let Some(version) = M::meta().primary_key().generated {
            instance.set_pk(M::Key::generate(version));
        }
    }
    #[cfg(feature = "bigdecimal")]
    round_decimals(instance);
}

#[cfg(feature = "bigdecimal")]
fn round_decimals<M: Model>(instance: &mut M) {
    use crate::types::decimal::round_for_write;
    use bigdecimal::BigDecimal;

    for (i, column) in M::meta().columns.iter().enumerate() {
        let Some((_, places)) = column.decimal else {
            continue;
        };
        let Some(field) = instance.field_mut(i) else {
            continue;
        };
        if let Some(value) = field.downcast_mut::<BigDecimal>() {
            *value = round_for_write(std::mem::take(value), places);
        } else if let Some(value) = field.downcast_mut::<Option<BigDecimal>>() {
            *value = value.take().map(|v| round_for_write(v, places));
        }
    }
}

pub(super) fn insert<M: Model>(instance: &mut M, conn: &mut AnyConnection) -> Result<()> {
    check_relations(instance)?;
    prepare(instance);
    if M::meta().primary_key().auto_increment && instance.pk().is_none() {
        return insert_new(conn, &mut [instance]);
    }
    write_one(conn, instance, OnConflict::Fail)?;
    Ok(())
}

pub(super) fn save<M: Model>(instance: &mut M, conn: &mut AnyConnection) -> Result<()> {
    let Some(key) = instance.pk() else {
        return insert(instance, conn);
    };
    check_relations(instance)?;
    prepare(instance);
    // MySQL: UPDATE, then INSERT if no row had the key. Its upsert fires on
    // any unique column, not only the key, and takes gap locks that make
    // concurrent saves of neighbouring rows deadlock; the UPDATE locks the
    // one row. (Rows matched count, not rows changed: diesel connects with
    // CLIENT_FOUND_ROWS.)
    if conn.backend() == BackendKind::Mysql {
        if update(instance, &key, conn)? == 0 {
            write_one(conn, instance, OnConflict::Fail)?;
        }
        return Ok(());
    }
    write_one(conn, instance, OnConflict::Update)?;
    Ok(())
}

/// `UPDATE … WHERE key = …`: how many rows had the key.
fn update<M: Model>(instance: &M, key: &M::Key, conn: &mut AnyConnection) -> Result<usize> {
    if M::meta().columns.len() == 1 {
        // Nothing to set: whether the row exists.
        return Ok(load_by_key::<M>(conn, key)?.len());
    }
    let statement = UpdateRow {
        row: instance,
        key: KeyEq::new(key),
    };
    Ok(statement.execute(conn)?)
}

pub(super) fn delete<M: Model>(instance: &mut M, conn: &mut AnyConnection) -> Result<usize> {
    let key = key_of(instance)?;
    let filters = [key_filter::<M>(&key)];
    let deleted = sql::Delete {
        table: M::meta().table,
        filters: &filters,
    }
    .execute(conn)?;
    instance.set_pk(None);
    // Its related rows went with it (cascaded, set NULL): a to-many cache
    // bound to a key that outlives the row (a manual key, a `to_field`)
    // would match it again after a save, and the rows of a many-to-many
    // it cached list it on their other side.
    let mut index = 0;
    while let Some(relation) = instance.relation(index) {
        if let Some(side) = relation.links {
            relation.field.forget_linked(side);
        }
        relation.field.forget();
        index += 1;
    }
    Ok(deleted)
}

/// One INSERT of `instance` writing every column.
fn write_one<M: Model>(
    conn: &mut AnyConnection,
    instance: &M,
    on_conflict: OnConflict,
) -> Result<usize> {
    write(conn, &[instance], &insert_columns::<M>(false), on_conflict)
}

/// Runs one INSERT of `rows` writing `columns`.
fn write<M: Model>(
    conn: &mut AnyConnection,
    rows: &[&M],
    columns: &[usize],
    on_conflict: OnConflict,
) -> Result<usize> {
    let statement = Insert {
        backend: conn.backend(),
        rows,
        columns,
        returning_key: false,
        on_conflict,
    };
    Ok(statement.execute(conn)?)
}

/// Inserts `rows` (new rows with an auto-increment key) and gives each
/// the key the database assigned: one statement, or one per row for a
/// model with nothing but its key (`DEFAULT VALUES`).
fn insert_new<M: Model>(conn: &mut AnyConnection, rows: &mut [&mut M]) -> Result<()> {
    let columns = insert_columns::<M>(true);
    let backend = conn.backend();
    let refs: Vec<&M> = rows.iter().map(|r| &**r).collect();
    let keys = if columns.is_empty() {
        let mut keys = Vec::with_capacity(refs.len());
        for row in &refs {
            keys.extend(insert_returning(
                conn,
                backend,
                std::slice::from_ref(row),
                &columns,
            )?);
        }
        keys
    } else {
        insert_returning(conn, backend, &refs, &columns)?
    };
    if keys.len() != rows.len() {
        return Err(OrmError::Value {
            model: M::meta().name,
            field: M::meta().primary_key().field,
            reason: format!(
                "the database returned {} keys for {} inserted rows",
                keys.len(),
                rows.len()
            ),
        });
    }
    for (row, key) in rows.iter_mut().zip(keys) {
        row.set_pk(Some(key));
    }
    Ok(())
}

/// One INSERT of `rows`, returning their keys in order: `RETURNING` on
/// SQLite and PostgreSQL. On MySQL one multi-row INSERT gets evenly spaced
/// keys (InnoDB allocates them in one block for an INSERT whose row count
/// is known): the first is `LAST_INSERT_ID()`, the step the session's
/// `auto_increment_increment` (2 and more on Galera and multi-primary
/// setups), read in the same query.
fn insert_returning<M: Model>(
    conn: &mut AnyConnection,
    backend: BackendKind,
    rows: &[&M],
    columns: &[usize],
) -> Result<Vec<M::Key>> {
    let statement = Insert {
        backend,
        rows,
        columns,
        returning_key: backend != BackendKind::Mysql,
        on_conflict: OnConflict::Fail,
    };
    if backend != BackendKind::Mysql {
        let keys = load_any::<KeyColumn<M::Key>, _>(conn, statement)?;
        return Ok(keys.into_iter().filter_map(|KeyColumn(key)| key).collect());
    }
    let inserted = statement.execute(conn)? as i64;
    let (first, step) = mysql_assigned_keys(conn)?;
    (0..inserted)
        .map(|i| {
            let id = first + i * step;
            M::Key::from_key(&Key::Int(id)).ok_or_else(|| OrmError::Value {
                model: M::meta().name,
                field: M::meta().primary_key().field,
                reason: format!(
                    "the database assigned key {id}, which does not fit the key type; widen it to i64"
                ),
            })
        })
        .collect()
}

/// `LAST_INSERT_ID()` and the session's `auto_increment_increment` on
/// MySQL, in one round trip (diesel's MySQL connection does not expose the
/// client's insert id).
fn mysql_assigned_keys(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    let query = diesel::sql_query(
        "SELECT CAST(LAST_INSERT_ID() AS SIGNED), CAST(@@SESSION.auto_increment_increment AS SIGNED)",
    );
    let ids = Collect::new(|row: &dyn RawRow| {
        let first = read::<diesel::sql_types::BigInt, i64, _>(row, 0)?;
        let step = read::<diesel::sql_types::BigInt, i64, _>(row, 1)?;
        Ok(Some((first, step.max(1))))
    });
    load_into_any(conn, query, ids)?
        .rows
        .pop()
        .ok_or_else(|| OrmError::Database(diesel::result::Error::NotFound))
}

/// Inserts `rows` with one statement per chunk that fits the backend's
/// bind limit and fills in their auto-increment keys; the caller provides
/// the transaction.
pub(crate) fn insert_chunked<M: Model>(conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
    rows.iter().try_for_each(check_relations)?;
    rows.iter_mut().for_each(prepare);
    let per_row = M::meta().columns.len().max(1);
    let chunk = (conn.backend().max_binds() / per_row).max(1);
    let auto = M::meta().primary_key().auto_increment;
    let (mut new, keyed): (Vec<&mut M>, Vec<&mut M>) =
        rows.iter_mut().partition(|r| auto && r.pk().is_none());
    let columns = insert_columns::<M>(false);
    let keyed: Vec<&M> = keyed.into_iter().map(|r| &*r).collect();
    for rows in keyed.chunks(chunk) {
        write(conn, rows, &columns, OnConflict::Fail)?;
    }
    new.chunks_mut(chunk)
        .try_for_each(|rows| insert_new(conn, rows))
}

/// Inserts `rows` (new rows: an auto key is left to the database and not
/// read back, a generated one is made), skipping those that would break a
/// unique constraint: one statement per chunk.
pub(crate) fn insert_ignoring<M: Model>(conn: &mut AnyConnection, rows: &mut [M]) -> Result<()> {
    rows.iter().try_for_each(check_relations)?;
    rows.iter_mut().for_each(prepare);
    let columns = insert_columns::<M>(M::meta().primary_key().auto_increment);
    let chunk = (conn.backend().max_binds() / columns.len().max(1)).max(1);
    let refs: Vec<&M> = rows.iter().collect();
    for rows in refs.chunks(chunk) {
        write(conn, rows, &columns, OnConflict::Ignore)?;
    }
    Ok(())
}

/// Saves `fields` (field names) of `rows` (saved rows): one UPDATE per
/// chunk that fits the bind limit, in the caller's transaction. Returns how
/// many rows matched.
pub(crate) fn update_fields<M: Model>(
    conn: &mut AnyConnection,
    rows: &[M],
    fields: &[&str],
) -> Result<usize> {
    let meta = M::meta();
    let mut columns = Vec::with_capacity(fields.len());
    for field in fields {
        match meta
            .columns
            .iter()
            .position(|c| c.field == *field && !c.primary_key)
        {
            Some(position) => columns.push(position),
            None => {
                let accepted: Vec<&str> = meta
                    .columns
                    .iter()
                    .filter(|c| !c.primary_key)
                    .map(|c| c.field)
                    .collect();
                return Err(OrmError::InvalidQuery {
                    model: meta.name,
                    reason: format!(
                        "bulk_update() cannot set `{field}`; name fields among: {}",
                        accepted.join(", ")
                    ),
                });
            }
        }
    }
    let keys: Vec<Key> = rows
        .iter()
        .map(|r| key_of(r).map(|k| k.to_key()))
        .collect::<Result<_>>()?;
    rows.iter().try_for_each(check_relations)?;
    if columns.is_empty() || rows.is_empty() {
        return Ok(0);
    }
    // Per row: a key and a value per column, and the key in the IN list.
    let per_row = 2 * columns.len() + 1;
    let chunk = (conn.backend().max_binds() / per_row).max(1);
    let refs: Vec<&M> = rows.iter().collect();
    let mut matched = 0;
    for (rows, keys) in refs.chunks(chunk).zip(keys.chunks(chunk)) {
        matched += BulkUpdate {
            rows,
            keys,
            columns: &columns,
        }
        .execute(conn)?;
    }
    Ok(matched)
}

/// `UPDATE table SET column = key WHERE filters`: points the foreign key
/// `column` of the matching rows of `M` at `key` (or NULL).
pub(crate) fn update_relation_column<M: Model>(
    conn: &mut AnyConnection,
    column: &'static str,
    key: Option<Key>,
    filters: &[Fragment],
) -> Result<usize> {
    let kind = M::meta()
        .columns
        .iter()
        .find(|c| c.name == column)
        .map_or(crate::meta::SqlKind::BigInt, |c| c.kind);
    let changes = sql::SetKey { column, kind, key };
    let changes: &(dyn QueryFragment<MultiBackend> + Send + Sync) = &changes;
    Ok(sql::Update {
        table: M::meta().table,
        changes,
        filters,
    }
    .execute(conn)?)
}
