//! `#[derive(OrmEnum)]` columns on every backend: text (`#[orm(choices)]`)
//! and integer (`#[orm(choices = "integer")]`) storage, nullable columns, filters, the `CHECK` constraint, and
//! a stored value that is no variant (a typed error, not a panic).

use diesel::connection::SimpleConnection;
use orm_core::prelude::*;
use orm_core::{schema, BackendKind, OrmError, UnknownEnumValue};
use orm_tests::backend_tests;

#[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Draft,
    InReview,
    #[orm(value = "live 'now'")]
    Published,
}

#[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    Low = -1,
    #[default]
    Normal,
    High = 10,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "en_task")]
pub struct Task {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(choices, index)]
    pub status: Status,
    #[orm(choices = "integer")]
    pub priority: Priority,
    #[orm(choices, column = "prev")]
    pub previous: Option<Status>,
}

/// Discriminants wider than an `i32`: fine as text, refused as an integer.
#[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(i64)]
pub enum Wide {
    #[default]
    Small = 1,
    Huge = 1 << 40,
}

#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "en_wide")]
pub struct Gauge {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(choices)]
    pub as_text: Wide,
    #[orm(choices = "integer")]
    pub as_int: Option<Wide>,
}

fn task(status: Status, priority: Priority, previous: Option<Status>) -> Task {
    Task {
        status,
        priority,
        previous,
        ..Default::default()
    }
}

backend_tests! {
    fn enums_round_trip_and_filter(db) {
        let mut conn = db.get()?;
        schema::create_table::<Task>(&mut conn)?;
        let rows = [
            task(Status::Draft, Priority::Low, None),
            task(Status::InReview, Priority::High, Some(Status::Draft)),
            task(Status::Published, Priority::Normal, Some(Status::Published)),
        ];
        for mut row in rows.clone() {
            row.save(&mut conn)?;
        }
        let mut loaded = Task::objects().order_by(task::id.asc()).load(&mut conn)?;
        loaded.iter_mut().for_each(|t| t.id = None);
        assert_eq!(loaded, rows);
        // The same through the typed connection (no user expression).
        let mut typed = Task::objects().unordered().load(&mut conn)?;
        typed.sort_by_key(|t| t.id);
        typed.iter_mut().for_each(|t| t.id = None);
        assert_eq!(typed, rows);
        assert_eq!(Task::objects().filter(task::status.eq(Status::Published)).count(&mut conn)?, 1);
        assert_eq!(Task::objects().filter(task::status.ne(&Status::Draft)).count(&mut conn)?, 2);
        assert_eq!(Task::objects().filter(task::priority.eq(Priority::High)).count(&mut conn)?, 1);
        assert_eq!(Task::objects().filter(task::previous.eq(Status::Draft)).count(&mut conn)?, 1);
        assert_eq!(Task::objects().filter(task::previous.eq(Some(Status::Published))).count(&mut conn)?, 1);
        assert_eq!(Task::objects().filter(task::previous.is_null()).count(&mut conn)?, 1);
        assert_eq!(
            Task::objects().filter(task::status.eq_any([Status::Draft, Status::InReview])).count(&mut conn)?,
            2
        );
        // What is stored: the text, the discriminant.
        let changed = Task::objects()
            .filter(task::priority.eq(Priority::Low))
            .update(&mut conn, (task::status.eq(Status::InReview), task::previous.eq(None::<Status>)))?;
        assert_eq!(changed, 1);
        assert_eq!(Task::objects().filter(task::status.eq(Status::InReview)).count(&mut conn)?, 2);
        Ok(())
    }

    fn wide_discriminants_are_stored_as_text_and_refused_as_integers(db) {
        let mut conn = db.get()?;
        schema::create_table::<Gauge>(&mut conn)?;
        let mut gauge = Gauge { as_text: Wide::Huge, ..Default::default() };
        gauge.save(&mut conn)?;
        assert_eq!(Gauge::get(&mut conn, gauge.id.unwrap_or_default())?.as_text, Wide::Huge);
        let mut wide = Gauge { as_int: Some(Wide::Small), ..Default::default() };
        let err = wide.save(&mut conn).unwrap_err();
        assert!(matches!(&err, OrmError::Value { field: "as_int", reason, .. } if reason.contains("wider than an i32")), "{err}");
        Ok(())
    }

    fn check_constraint_and_unknown_values(db) {
        let mut conn = db.get()?;
        schema::create_table::<Task>(&mut conn)?;
        let mut t = task(Status::Draft, Priority::Normal, None);
        t.save(&mut conn)?;
        // The CHECK constraint refuses a value that is no variant.
        let refused = conn.batch_execute("UPDATE en_task SET status = 'gone'");
        assert!(refused.is_err(), "the CHECK constraint refuses 'gone'");
        assert!(conn.batch_execute("UPDATE en_task SET priority = 5").is_err());
        // Without the constraint (a table made elsewhere), an unknown value
        // is a typed error when loading.
        match conn.backend() {
            BackendKind::Postgres => {
                conn.batch_execute("ALTER TABLE en_task DROP CONSTRAINT en_task_status_check")?;
                conn.batch_execute("UPDATE en_task SET status = 'gone'")?;
            }
            BackendKind::Mysql => {
                // A column's CHECK goes with its definition.
                conn.batch_execute("ALTER TABLE en_task MODIFY status VARCHAR(255) NOT NULL")?;
                conn.batch_execute("UPDATE en_task SET status = 'gone'")?;
            }
            BackendKind::Sqlite => {
                // SQLite cannot drop a constraint: the table again without it.
                conn.batch_execute("DROP TABLE en_task; CREATE TABLE en_task (id INTEGER PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL, prev TEXT)")?;
                conn.batch_execute("INSERT INTO en_task (id, status, priority) VALUES (1, 'gone', 0)")?;
            }
        }
        let err = Task::objects().load(&mut conn).expect_err("'gone' is no Status");
        let OrmError::Database(diesel::result::Error::DeserializationError(cause)) = &err else {
            panic!("expected a deserialization error, got {err}");
        };
        let unknown = cause.downcast_ref::<UnknownEnumValue>().expect("an UnknownEnumValue");
        assert_eq!(unknown.name, "Status");
        assert_eq!(unknown.value, "'gone'");
        assert_eq!(unknown.accepted, "'draft', 'in_review', 'live ''now'''");
        Ok(())
    }
}

#[test]
fn enum_columns_sql() {
    use orm_core::BackendKind::*;
    let sql = schema::create_table_sql(Task::meta(), Postgres);
    assert_eq!(
        sql[0],
        r#"CREATE TABLE "en_task" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "status" TEXT NOT NULL CONSTRAINT "en_task_status_check" CHECK ("status" IN ('draft', 'in_review', 'live ''now''')), "priority" INTEGER NOT NULL CONSTRAINT "en_task_priority_check" CHECK ("priority" IN (-1, 0, 10)), "prev" TEXT CONSTRAINT "en_task_prev_check" CHECK ("prev" IN ('draft', 'in_review', 'live ''now''')))"#
    );
    assert_eq!(
        sql[1],
        r#"CREATE INDEX "en_task_status_idx" ON "en_task" ("status")"#
    );
    assert!(schema::create_table_sql(Task::meta(), Mysql)[0]
        .contains("`status` VARCHAR(255) NOT NULL CHECK (`status` IN ("));
}
