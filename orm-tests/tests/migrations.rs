//! Migrations on every backend: a model set with data goes through a
//! sequence of changes (add a nullable column, a column with a default,
//! rename a column, widen a text, add a foreign key, add a many-to-many,
//! drop a column, rename the table); after each `makemigrations` +
//! `migrate` the rows are intact and the ORM reads them, `down` returns to
//! the previous schema, `check` notices a model changed without a
//! migration, and a failed migration leaves the previous version.

use std::path::PathBuf;

use orm_core::prelude::*;
use orm_core::{Models, OrmError};
use orm_migrations::{check, migrate, MigrationsDir, Target};
use orm_tests::backend_tests;
use orm_tests::harness::TestDb;

/// Version 1: an author and a book.
mod v1 {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_author")]
    pub struct Author {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 50)]
        pub name: String,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 100)]
        pub title: String,
        pub author: ForeignKey<Author>,
    }
}

/// Version 2: a nullable column.
mod v2 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 100)]
        pub title: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
    }
}

/// Version 3: a NOT NULL column with a default.
mod v3 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 100)]
        pub title: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
        #[orm(default = 0)]
        pub pages: i32,
    }
}

/// Version 4: `title` renamed `heading`.
mod v4 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 100, renamed_from = "title")]
        pub heading: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
        #[orm(default = 0)]
        pub pages: i32,
    }
}

/// Version 5: `heading` up to 200 characters.
mod v5 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
        #[orm(default = 0)]
        pub pages: i32,
    }
}

/// Version 6: a second, nullable foreign key.
mod v6 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
        #[orm(default = 0)]
        pub pages: i32,
        #[orm(null, on_delete = "set_null")]
        pub editor: ForeignKey<Author>,
    }
}

/// Version 7: a new model and a many-to-many to it.
mod v7 {
    use orm_core::prelude::*;

    pub use super::v1::Author;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_tag")]
    pub struct Tag {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 30, unique)]
        pub name: String,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        pub subtitle: Option<String>,
        #[orm(default = 0)]
        pub pages: i32,
        #[orm(null, on_delete = "set_null")]
        pub editor: ForeignKey<Author>,
        pub tags: ManyToMany<Tag>,
    }
}

/// Version 8: `subtitle` dropped.
mod v8 {
    use orm_core::prelude::*;

    pub use super::v1::Author;
    pub use super::v7::Tag;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        #[orm(default = 0)]
        pub pages: i32,
        #[orm(null, on_delete = "set_null")]
        pub editor: ForeignKey<Author>,
        pub tags: ManyToMany<Tag>,
    }
}

/// Version 9: the table renamed (its through table follows).
mod v9 {
    use orm_core::prelude::*;

    pub use super::v1::Author;
    pub use super::v7::Tag;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_volume", renamed_from = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        #[orm(default = 0)]
        pub pages: i32,
        #[orm(null, on_delete = "set_null")]
        pub editor: ForeignKey<Author>,
        pub tags: ManyToMany<Tag>,
    }
}

/// Version 10: a column's type, default and index change; another column
/// becomes nullable and unique.
mod v10 {
    use orm_core::prelude::*;

    pub use super::v7::Tag;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_author")]
    pub struct Author {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 50, unique)]
        pub name: Option<String>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_volume", renamed_from = "mig_book")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        #[orm(default = 1, index)]
        pub pages: i64,
        #[orm(null, on_delete = "set_null")]
        pub editor: ForeignKey<Author>,
        pub tags: ManyToMany<Tag>,
    }
}

/// Version 11: `unique_together`, and the editor's `on_delete` changes.
mod v11 {
    use orm_core::prelude::*;

    pub use super::v10::{Author, Tag};

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_volume", unique_together = "heading, author")]
    pub struct Book {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 200)]
        pub heading: String,
        pub author: ForeignKey<Author>,
        #[orm(default = 1, index)]
        pub pages: i64,
        #[orm(null, on_delete = "cascade")]
        pub editor: ForeignKey<Author>,
        pub tags: ManyToMany<Tag>,
    }
}

/// A migrations folder of its own, removed at the end.
pub(crate) struct Folder(PathBuf);

impl Folder {
    pub(crate) fn new(db: &TestDb) -> Self {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Folder(std::env::temp_dir().join(format!(
            "orm-migrations-{}-{}-{n}",
            std::process::id(),
            db.backend().name()
        )))
    }

    pub(crate) fn dir(&self) -> MigrationsDir {
        MigrationsDir::new(&self.0)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migration error as a test failure.
pub(crate) fn ok<T>(result: orm_migrations::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Makes the migration to `models` (for this backend only) and applies it;
/// returns its version.
pub(crate) fn step(
    db: &TestDb,
    folder: &Folder,
    models: &Models,
    name: &str,
) -> orm_core::Result<String> {
    let made = ok(folder.dir().make(models, Some(name), &[db.backend()]))
        .unwrap_or_else(|| panic!("{name}: no changes detected"));
    let mut conn = db.get()?;
    let steps = ok(migrate(&mut conn, &folder.dir(), &Target::Latest));
    assert_eq!(steps.len(), 1, "{name}: {steps:?}");
    assert!(ok(check(&folder.dir(), models)).is_empty(), "{name}");
    Ok(made.name)
}

/// A pool whose connections have not seen the old schema: PostgreSQL's
/// prepared statements fail ("cached plan must not change result type")
/// when a migration changed a column they return. SQLite re-prepares by
/// itself (and a new in-memory pool would be a new database).
pub(crate) fn reopen(db: &TestDb) -> orm_core::Result<orm_core::Conn> {
    match db.backend() {
        orm_core::BackendKind::Sqlite => db.get(),
        _ => Db::connect(&db.url)?.get(),
    }
}

fn to(db: &TestDb, folder: &Folder, version: &str) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    ok(migrate(
        &mut conn,
        &folder.dir(),
        &Target::parse(Some(version)),
    ));
    Ok(())
}

backend_tests! {
    fn model_changes_keep_the_data(db) {
        let folder = Folder::new(db);
        let mut conn = db.get()?;

        let v1 = step(db, &folder, &orm_core::models![v1::Author, v1::Book], "initial")?;
        let mut ann = v1::Author { name: "Ann".into(), ..Default::default() };
        ann.save(&mut conn)?;
        let mut dune = v1::Book { title: "Dune".into(), ..Default::default() };
        dune.author.set(ann.clone());
        dune.save(&mut conn)?;

        step(db, &folder, &orm_core::models![v2::Author, v2::Book], "subtitle")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let mut book = v2::Book::objects().get(&mut conn)?;
        assert_eq!((book.title.as_str(), book.subtitle.as_deref()), ("Dune", None));
        book.subtitle = Some("Part one".into());
        book.save(&mut conn)?;

        let v3 = step(db, &folder, &orm_core::models![v3::Author, v3::Book], "pages")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let book = v3::Book::objects().get(&mut conn)?;
        assert_eq!((book.pages, book.subtitle.as_deref()), (0, Some("Part one")));

        let v4 = step(db, &folder, &orm_core::models![v4::Author, v4::Book], "heading")?;
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(v4::Book::objects().get(&mut conn)?.heading, "Dune");

        step(db, &folder, &orm_core::models![v5::Author, v5::Book], "longer_heading")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let mut book = v5::Book::objects().get(&mut conn)?;
        book.heading = "D".repeat(150);
        book.save(&mut conn)?;

        step(db, &folder, &orm_core::models![v6::Author, v6::Book], "editor")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let mut book = v6::Book::objects().get(&mut conn)?;
        assert_eq!(book.editor.key(), None);
        book.editor.set(ann.clone());
        book.save(&mut conn)?;
        assert_eq!(v6::Book::objects().get(&mut conn)?.editor.key().copied(), ann.id);

        step(db, &folder, &orm_core::models![v7::Author, v7::Book, v7::Tag], "tags")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let book = v7::Book::objects().get(&mut conn)?;
        let mut classic = v7::Tag { name: "classic".into(), ..Default::default() };
        classic.save(&mut conn)?;
        book.tags().add(&mut conn, &[classic])?;

        step(db, &folder, &orm_core::models![v8::Author, v8::Book, v8::Tag], "no_subtitle")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let book = v8::Book::objects().get(&mut conn)?;
        assert_eq!(book.heading, "D".repeat(150));
        assert_eq!(book.tags().all(&mut conn)?.len(), 1);

        step(db, &folder, &orm_core::models![v9::Author, v9::Book, v9::Tag], "volume")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let book = v9::Book::objects().get(&mut conn)?;
        assert_eq!((book.pages, book.editor.key().copied()), (0, ann.id));
        assert_eq!(book.tags().all(&mut conn)?[0].name, "classic");
        assert_eq!(v9::Author::objects().count(&mut conn)?, 1);

        step(db, &folder, &orm_core::models![v10::Author, v10::Book, v10::Tag], "types")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let mut book = v10::Book::objects().get(&mut conn)?;
        assert_eq!((book.pages, book.heading.len()), (0, 150));
        book.pages = 5_000_000_000;
        book.save(&mut conn)?;
        let mut nobody = v10::Author { name: None, ..Default::default() };
        nobody.save(&mut conn)?;
        let twin = v10::Author { name: Some("Ann".into()), ..Default::default() }.save(&mut conn);
        assert!(matches!(twin, Err(OrmError::Database(_))), "name is unique now: {twin:?}");
        nobody.delete(&mut conn)?;
        book.pages = 7;
        book.save(&mut conn)?;

        step(db, &folder, &orm_core::models![v11::Author, v11::Book, v11::Tag], "constraints")?;
        drop(conn);
        let mut conn = reopen(db)?;
        let book = v11::Book::objects().get(&mut conn)?;
        // SQLite rebuilt the table: the links to it survived.
        assert_eq!(book.tags().all(&mut conn)?.len(), 1);
        let mut twin = v11::Book { heading: book.heading.clone(), ..Default::default() };
        twin.author.set_key(book.author.key().copied());
        let err = twin.save(&mut conn);
        assert!(matches!(err, Err(OrmError::Database(_))), "unique together: {err:?}");
        // Deleting the editor now deletes the book with it.
        let mut editor = v11::Author { name: Some("Ed".into()), ..Default::default() };
        editor.save(&mut conn)?;
        let mut edited = v11::Book { heading: "Edited".into(), ..Default::default() };
        edited.author.set_key(book.author.key().copied());
        edited.editor.set_key(editor.id);
        edited.save(&mut conn)?;
        editor.delete(&mut conn)?;
        assert_eq!(v11::Book::objects().count(&mut conn)?, 1);

        // Down to the rename of `title`: the table, the column and the rows
        // of version 4 are back (the dropped subtitle comes back empty).
        // The heading is shortened first: version 4 holds 100 characters.
        let mut book = v11::Book::objects().get(&mut conn)?;
        book.heading = "Dune".into();
        book.save(&mut conn)?;
        drop(conn);
        to(db, &folder, &v4)?;
        let mut conn = reopen(db)?;
        let book = v4::Book::objects().get(&mut conn)?;
        assert_eq!((book.heading.as_str(), book.subtitle, book.pages), ("Dune", None, 7));
        to(db, &folder, &v3)?;
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(v3::Book::objects().get(&mut conn)?.title, "Dune");
        to(db, &folder, &v1)?;
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(v1::Book::objects().get(&mut conn)?.title, "Dune");
        // And up again to the newest.
        let steps = ok(migrate(&mut conn, &folder.dir(), &Target::Latest));
        assert_eq!(steps.len(), 10);
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(v11::Book::objects().get(&mut conn)?.heading, "Dune");
        Ok(())
    }

    fn check_fails_when_a_model_changed_without_a_migration(db) {
        let folder = Folder::new(db);
        step(db, &folder, &orm_core::models![v1::Author, v1::Book], "initial")?;
        let changes = ok(check(&folder.dir(), &orm_core::models![v2::Author, v2::Book]));
        assert_eq!(changes, ["add column mig_book.subtitle"]);
        // The command line says so with exit status 1.
        let mut out = Vec::new();
        let args = ["manage", "--migrations", folder.0.to_str().unwrap_or_default(), "check"];
        let code = orm_migrations::manage::run(&orm_core::models![v2::Author, v2::Book], args, &mut out);
        assert_eq!(code, std::process::ExitCode::FAILURE);
        assert!(String::from_utf8_lossy(&out).contains("mig_book.subtitle"));
        let mut out = Vec::new();
        let code = orm_migrations::manage::run(&orm_core::models![v1::Author, v1::Book], args, &mut out);
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        Ok(())
    }

    fn two_branches_migrations_out_of_order_are_refused_until_remade(db) {
        let folder = Folder::new(db);
        let (v1, v2) = (orm_core::models![v1::Author, v1::Book], orm_core::models![v2::Author, v2::Book]);
        let initial = step(db, &folder, &v1, "initial")?;
        let dir = folder.dir();
        let made = |name: &str| ok(dir.make(&v2, Some(name), &[db.backend()])).unwrap_or_else(|| panic!("no changes"));
        let moved = |from: &std::path::Path, to: &std::path::Path| {
            std::fs::rename(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        };
        // Branch A makes a migration; branch B makes one without it, and
        // A's lands after B's when the branches merge.
        let a = made("branch_a");
        let aside = folder.0.join("aside");
        let backend_path = dir.backend_path(db.backend());
        moved(&backend_path.join(&a.name), &aside);
        let b = made("branch_b");
        let b_version: u64 = b.name[..17].replace('-', "").parse().unwrap_or_default();
        let digits = format!("{:014}", b_version + 1);
        let a_later = format!("{}-{}-{}-{}_branch_a", &digits[..4], &digits[4..6], &digits[6..8], &digits[8..]);
        moved(&aside, &backend_path.join(&a_later));
        // Refused by makemigrations, check and migrate (which applies none).
        let conflict = |e: orm_migrations::MigrationError| match e {
            orm_migrations::MigrationError::Conflict { migration, after, between } => {
                assert_eq!((migration, after, between), (a_later.clone(), Some(initial.clone()), b.name.clone()));
            }
            other => panic!("expected Conflict, got {other}"),
        };
        conflict(dir.make(&v2, None, &[db.backend()]).unwrap_err());
        conflict(check(&dir, &v2).unwrap_err());
        let mut conn = db.get()?;
        conflict(migrate(&mut conn, &dir, &Target::Latest).unwrap_err());
        assert_eq!(ok(orm_migrations::applied(&mut conn)).len(), 1);
        // Remade after B: nothing left to change, and B applies.
        std::fs::remove_dir_all(backend_path.join(&a_later)).unwrap_or_else(|e| panic!("{e}"));
        assert!(ok(dir.make(&v2, None, &[db.backend()])).is_none());
        assert_eq!(ok(migrate(&mut conn, &dir, &Target::Latest)).len(), 1);
        Ok(())
    }

    fn a_failed_migration_leaves_the_previous_version(db) {
        let folder = Folder::new(db);
        let v1 = step(db, &folder, &orm_core::models![v1::Author, v1::Book], "initial")?;
        let mut conn = db.get()?;
        let mut ann = v1::Author { name: "Ann".into(), ..Default::default() };
        ann.save(&mut conn)?;
        // A migration whose last statement fails (the column it renames
        // does not exist): nothing of it stays where DDL is transactional,
        // and it is not recorded as applied anywhere.
        let made = ok(folder.dir().make(&orm_core::models![v2::Author, v2::Book], Some("broken"), &[db.backend()]))
            .unwrap_or_else(|| panic!("no changes"));
        let path = folder.dir().backend_path(db.backend()).join(&made.name).join("up.sql");
        let up = std::fs::read_to_string(&path).unwrap_or_default();
        let breaking = "ALTER TABLE mig_book RENAME COLUMN no_such_column TO other";
        let broken = match db.backend() {
            orm_core::BackendKind::Sqlite => up.replace("CREATE TEMP TABLE", &format!("{breaking};\nCREATE TEMP TABLE")),
            _ => format!("{up}{breaking};\n"),
        };
        std::fs::write(&path, broken).unwrap_or_else(|e| panic!("{e}"));
        let err = migrate(&mut conn, &folder.dir(), &Target::Latest).unwrap_err();
        assert!(matches!(err, orm_migrations::MigrationError::Run(_)), "{err}");
        assert_eq!(ok(orm_migrations::applied(&mut conn)), [v1.split('_').next().unwrap_or_default().replace('-', "")]);
        if db.backend() != orm_core::BackendKind::Mysql {
            // The column the migration added is gone with it.
            let err = v2::Book::objects().count(&mut conn).and_then(|_| v2::Book::objects().first(&mut conn));
            assert!(matches!(err, Err(OrmError::Database(_))), "{err:?}");
        }
        // The connection is usable, and version 1 reads as before.
        assert_eq!(v1::Author::objects().get(&mut conn)?.name, "Ann");
        // From scratch, a run applies version 1, then stops at the broken
        // one: the error names it and what the run did before it.
        ok(migrate(&mut conn, &folder.dir(), &Target::Zero));
        let err = migrate(&mut conn, &folder.dir(), &Target::Latest).unwrap_err();
        let version = |name: &str| name.split('_').next().unwrap_or_default().replace('-', "");
        match &err {
            orm_migrations::MigrationError::Stopped { failed, done, .. } => {
                assert_eq!(failed, &version(&made.name));
                assert_eq!(done, &[(version(&v1), true)]);
            }
            other => panic!("expected Stopped, got {other}"),
        }
        assert!(err.to_string().contains(&format!("this run applied {} before it", version(&v1))), "{err}");
        assert_eq!(ok(orm_migrations::applied(&mut conn)), [version(&v1)]);
        Ok(())
    }
}

#[test]
fn a_not_null_column_without_default_is_refused_with_what_to_do() {
    mod with_year {
        pub use super::v1::Author;
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "mig_book")]
        pub struct Book {
            #[orm(primary_key)]
            pub id: Option<i64>,
            #[orm(max_length = 100)]
            pub title: String,
            pub author: ForeignKey<Author>,
            pub year: i32,
        }
    }
    let recorded = orm_migrations::SchemaState::of(&orm_core::models![v1::Author, v1::Book]);
    let err = orm_migrations::diff(
        &recorded,
        &orm_core::models![with_year::Author, with_year::Book],
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("mig_book.year"), "{message}");
    assert!(message.contains("#[orm(default = ...)]"), "{message}");
}

/// The schema of each version, in order.
fn versions() -> Vec<(&'static str, Models)> {
    vec![
        ("initial", orm_core::models![v1::Author, v1::Book]),
        ("subtitle", orm_core::models![v2::Author, v2::Book]),
        ("pages", orm_core::models![v3::Author, v3::Book]),
        ("heading", orm_core::models![v4::Author, v4::Book]),
        ("longer_heading", orm_core::models![v5::Author, v5::Book]),
        ("editor", orm_core::models![v6::Author, v6::Book]),
        ("tags", orm_core::models![v7::Author, v7::Book, v7::Tag]),
        (
            "no_subtitle",
            orm_core::models![v8::Author, v8::Book, v8::Tag],
        ),
        ("volume", orm_core::models![v9::Author, v9::Book, v9::Tag]),
        ("types", orm_core::models![v10::Author, v10::Book, v10::Tag]),
        (
            "constraints",
            orm_core::models![v11::Author, v11::Book, v11::Tag],
        ),
    ]
}

/// The SQL of every step of the sequence, up and down, per backend.
#[test]
fn generated_sql() {
    for backend in orm_migrations::BACKENDS {
        let mut state = orm_migrations::SchemaState::default();
        let mut text = String::new();
        for (name, models) in versions() {
            let ops = ok(orm_migrations::diff(&state, &models));
            let sql = orm_migrations::render(backend, &ops, &state);
            text.push_str(&format!(
                "-- {name}: up\n{}-- {name}: down\n{}\n",
                sql.up, sql.down
            ));
            state = orm_migrations::SchemaState::of(&models);
        }
        insta::assert_snapshot!(
            format!("sql_{}", orm_migrations::backend_folder(backend)),
            text
        );
    }
}

/// The polls app's migrations (checked in under `orm-tests/migrations`)
/// match its models: CI fails when a model changes without a migration.
#[test]
fn polls_migrations_agree_with_the_models() {
    let dir = MigrationsDir::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    let changes = ok(check(&dir, &orm_tests::polls::models()));
    assert!(
        changes.is_empty(),
        "run `cargo run -p orm-tests --bin manage -- --migrations orm-tests/migrations makemigrations`: {changes:?}"
    );
}

backend_tests! {
    fn embedded_polls_migrations_apply_and_revert(db) {
        use orm_tests::polls::{Question, Tag, MIGRATIONS};
        let mut conn = db.get()?;
        let applied = ok(MIGRATIONS.run(&mut conn));
        assert_eq!(applied.len(), 1);
        assert!(ok(MIGRATIONS.run(&mut conn)).is_empty(), "nothing pending the second time");
        let tags = orm_tests::polls::create_tags(&mut conn, &["a", "b"])?;
        let question = orm_tests::polls::create_question(&mut conn, "Q?")?;
        question.tags().set(&mut conn, &tags)?;
        assert_eq!(Question::objects().get(&mut conn)?.tags().all(&mut conn)?.len(), 2);
        let reverted = ok(orm_migrations::migrate_source(
            &mut conn,
            MIGRATIONS.for_backend(db.backend()),
            &Target::Zero,
        ));
        assert_eq!(reverted.len(), 1);
        assert!(matches!(Tag::objects().count(&mut conn), Err(OrmError::Database(_))));
        Ok(())
    }

    fn command_line_migrates_shows_and_prints_sql(db) {
        let folder = Folder::new(db);
        let models = orm_core::models![v1::Author, v1::Book];
        let file = folder.0.with_extension("sqlite3");
        let url = match db.backend() {
            // The command opens its own pool: a file, not `:memory:`.
            orm_core::BackendKind::Sqlite => format!("sqlite://{}", file.display()),
            _ => db.url.clone(),
        };
        let migrations = folder.0.to_string_lossy().into_owned();
        let run = |args: &[&str]| {
            let mut out = Vec::new();
            let all = ["manage", "--migrations", &migrations, "--database", &url];
            let code = orm_migrations::manage::run(&models, all.iter().chain(args), &mut out);
            (code, String::from_utf8_lossy(&out).into_owned())
        };
        let (code, out) = run(&["makemigrations", "--name", "first"]);
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{out}");
        assert!(out.contains("create table mig_author"), "{out}");
        assert_eq!(run(&["makemigrations"]).1.trim(), "No changes detected");
        let (code, out) = run(&["showmigrations"]);
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        assert!(out.starts_with("[ ] ") && out.contains("_first"), "{out}");
        let (code, out) = run(&["migrate"]);
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{out}");
        assert!(out.starts_with("Applied "), "{out}");
        assert!(run(&["showmigrations"]).1.starts_with("[X] "));
        let version = out.trim().trim_start_matches("Applied ").to_owned();
        let (_, sql) = run(&["sqlmigrate", &version]);
        assert!(sql.contains("CREATE TABLE"), "{sql}");
        let (_, sql) = run(&["sqlmigrate", &version, "--backwards"]);
        assert!(sql.contains("DROP TABLE"), "{sql}");
        let (code, out) = run(&["migrate", "zero"]);
        assert_eq!((code, out.trim()), (std::process::ExitCode::SUCCESS, format!("Reverted {version}").as_str()));
        // Unknown versions and commands are errors, with exit codes 1 and 2.
        assert_eq!(run(&["migrate", "1999"]).0, std::process::ExitCode::FAILURE);
        assert_eq!(run(&["frobnicate"]).0, std::process::ExitCode::from(2));
        let _ = std::fs::remove_file(&file);
        Ok(())
    }
}
