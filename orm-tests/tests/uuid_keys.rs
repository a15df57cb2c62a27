//! UUID columns and primary keys (feature `uuid`) on every backend: keys
//! generated on save (v7 by default, v4 on request), manual and nil keys,
//! filters on the generated columns, and UUID keys as the targets of every
//! relation kind, loaded lazily, by peers, by prefetch and by joins.

use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema, AnyConnection};
use orm_tests::backend_tests;
use uuid::Uuid;

/// A key generated on save: v7 (the default).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_author", ordering = "name")]
pub struct Author {
    #[orm(primary_key)]
    pub id: Option<Uuid>,
    #[orm(unique, max_length = 50)]
    pub name: String,
    #[orm(reverse_of = "author")]
    pub books: Related<Book>,
    #[orm(reverse_of = "author")]
    pub profile: ReverseOneToOne<Profile>,
}

/// A v4 key, a nullable foreign key and a many-to-many, all by UUID.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_book", ordering = "title")]
pub struct Book {
    #[orm(primary_key, uuid = "v4")]
    pub id: Option<Uuid>,
    pub title: String,
    #[orm(null, on_delete = "set_null")]
    pub author: ForeignKey<Author, Uuid>,
    pub tags: ManyToMany<Tag, Uuid>,
}

/// A key the user sets, and plain UUID columns (unique, nullable).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_tag", ordering = "name")]
pub struct Tag {
    #[orm(primary_key)]
    pub id: Uuid,
    #[orm(unique)]
    pub code: Uuid,
    pub maybe: Option<Uuid>,
    pub name: String,
    #[orm(reverse_of = "tags")]
    pub books: ManyToMany<Book>,
}

/// A one-to-one to a UUID key.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_profile")]
pub struct Profile {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub author: OneToOne<Author, Uuid>,
    pub bio: String,
}

/// A foreign key to a unique UUID column that is not the key (`to_field`).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_label")]
pub struct Label {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(to_field = "code")]
    pub tag: ForeignKey<Tag, Uuid>,
}

/// A shelf whose books link through a model of its own, keyed by a
/// generated UUID.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_shelf")]
pub struct Shelf {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(through = "Shelving")]
    pub books: ManyToMany<Book, Uuid>,
}

/// The link of a book on a shelf.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_shelving", unique_together = "shelf, book")]
pub struct Shelving {
    #[orm(primary_key)]
    pub id: Option<Uuid>,
    pub shelf: ForeignKey<Shelf>,
    pub book: ForeignKey<Book, Uuid>,
}

/// A carton whose links' keys the link model sets itself.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_carton")]
pub struct Carton {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(through = "Packing")]
    pub books: ManyToMany<Book, Uuid>,
    #[orm(through = "Wrapping")]
    pub wrapped: ManyToMany<Book, Uuid>,
}

/// A link keyed by hand: its `Default` makes a fresh key.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "uk_packing", unique_together = "carton, book")]
pub struct Packing {
    #[orm(primary_key)]
    pub id: Uuid,
    pub carton: ForeignKey<Carton>,
    pub book: ForeignKey<Book, Uuid>,
}

impl Default for Packing {
    fn default() -> Self {
        Packing {
            id: Uuid::new_v4(),
            carton: ForeignKey::default(),
            book: ForeignKey::default(),
        }
    }
}

/// A link keyed by hand whose `Default` repeats one key (nil).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "uk_wrapping", unique_together = "carton, book")]
pub struct Wrapping {
    #[orm(primary_key)]
    pub id: Uuid,
    pub carton: ForeignKey<Carton>,
    pub book: ForeignKey<Book, Uuid>,
}

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    schema::create_tables(
        conn,
        &[
            Author::meta(),
            Tag::meta(),
            Book::meta(),
            Profile::meta(),
            Label::meta(),
            Shelf::meta(),
            Shelving::meta(),
            Carton::meta(),
            Packing::meta(),
            Wrapping::meta(),
        ],
    )
}

fn author(conn: &mut AnyConnection, name: &str) -> orm_core::Result<Author> {
    let mut a = Author {
        name: name.into(),
        ..Default::default()
    };
    a.save(conn)?;
    Ok(a)
}

fn book(conn: &mut AnyConnection, title: &str, by: &Author) -> orm_core::Result<Book> {
    let mut b = Book {
        title: title.into(),
        ..Default::default()
    };
    b.author.set_key(by.id);
    b.save(conn)?;
    Ok(b)
}

fn tag(conn: &mut AnyConnection, id: Uuid, name: &str) -> orm_core::Result<Tag> {
    let mut t = Tag {
        id,
        code: Uuid::new_v4(),
        name: name.into(),
        ..Default::default()
    };
    t.save(conn)?;
    Ok(t)
}

backend_tests! {
    fn keys_are_generated_on_save(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let mut ada = Author { name: "Ada".into(), ..Default::default() };
        // Generated in Rust: one INSERT on every backend, no key read back.
        assert_num_queries(&mut conn, 1, |c| ada.save(c))?;
        let id = ada.id.expect("save generates the key");
        assert_eq!(id.get_version_num(), 7);
        let b = book(&mut conn, "Notes", &ada)?;
        assert_eq!(b.id.map(|k| k.get_version_num()), Some(4));
        // A saved key is kept: the next save is an upsert of the same row.
        ada.name = "Ada L.".into();
        assert_num_queries(&mut conn, 1, |c| ada.save(c))?;
        assert_eq!(ada.id, Some(id));
        assert_eq!(Author::objects().count(&mut conn)?, 1);
        assert_eq!(Author::get(&mut conn, id)?.name, "Ada L.");
        // v7 keys sort by creation time, on every backend's byte order.
        let later = author(&mut conn, "Zed")?;
        let ordered = Author::objects().order_by(author::id.asc()).load(&mut conn)?;
        assert_eq!(ordered.iter().map(|a| a.id).collect::<Vec<_>>(), [Some(id), later.id]);
        // delete clears the key: a later save inserts a new row.
        ada.delete(&mut conn)?;
        assert_eq!(ada.id, None);
        ada.save(&mut conn)?;
        assert_ne!(ada.id, Some(id));
        assert_eq!(Author::objects().count(&mut conn)?, 2);
        // bulk_create generates the keys too.
        let mut many: Vec<Author> = (0..3)
            .map(|i| Author { name: format!("bulk {i}"), ..Default::default() })
            .collect();
        Author::objects().bulk_create(&mut conn, &mut many)?;
        assert!(many.iter().all(|a| a.id.is_some()));
        assert_eq!(Author::objects().count(&mut conn)?, 5);
        Ok(())
    }

    fn manual_nil_and_plain_uuid_columns(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let max = Uuid::from_u128(u128::MAX);
        let mut nil = Tag { id: Uuid::nil(), code: Uuid::nil(), maybe: Some(max), name: "nil".into(), ..Default::default() };
        nil.save(&mut conn)?;
        let mut other = Tag { id: max, code: max, maybe: None, name: "max".into(), ..Default::default() };
        other.insert(&mut conn)?;
        let loaded = Tag::get(&mut conn, Uuid::nil())?;
        assert_eq!((loaded.id, loaded.code, loaded.maybe), (Uuid::nil(), Uuid::nil(), Some(max)));
        let loaded = Tag::get(&mut conn, max)?;
        assert_eq!((loaded.id, loaded.code, loaded.maybe), (max, max, None));
        // Filters with the generated columns.
        let by_code = Tag::objects().filter(tag::code.eq(max)).load(&mut conn)?;
        assert_eq!(by_code.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["max"]);
        let by_maybe = Tag::objects().filter(tag::maybe.eq(Some(max))).load(&mut conn)?;
        assert_eq!(by_maybe.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["nil"]);
        assert_eq!(Tag::objects().filter(tag::maybe.is_null()).count(&mut conn)?, 1);
        assert_eq!(Tag::objects().filter(tag::id.ne(Uuid::nil())).count(&mut conn)?, 1);
        assert_eq!(Tag::objects().filter(tag::id.gt(Uuid::nil())).count(&mut conn)?, 1);
        // A duplicate manual key is a unique violation.
        let mut dup = Tag { id: max, code: Uuid::new_v4(), name: "dup".into(), ..Default::default() };
        assert!(dup.insert(&mut conn).is_err());
        // Updates by filter bind UUIDs too.
        let set = Tag::objects()
            .filter(tag::id.eq(max))
            .update(&mut conn, tag::maybe.eq(Some(Uuid::nil())))?;
        assert_eq!(set, 1);
        assert_eq!(Tag::get(&mut conn, max)?.maybe, Some(Uuid::nil()));
        Ok(())
    }

    fn foreign_keys_peers_and_joins(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ada = author(&mut conn, "Ada")?;
        let bob = author(&mut conn, "Bob")?;
        for (title, by) in [("a1", &ada), ("a2", &ada), ("b1", &bob)] {
            book(&mut conn, title, by)?;
        }
        // Lazy access, then the peers of one query loaded together.
        let books = Book::objects().load(&mut conn)?;
        let names = assert_num_queries(&mut conn, 1, |c| {
            books
                .iter()
                .map(|b| b.author(c).map(|a| a.map(|a| a.name.clone())))
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(names, [Some("Ada".to_string()), Some("Ada".into()), Some("Bob".into())]);
        // A join.
        let joined = assert_num_queries(&mut conn, 1, |c| {
            Book::objects().select_related(Book::AUTHOR).load(c)
        })?;
        with_fetch_mode(FetchMode::Raise, || {
            assert_num_queries(&mut conn, 0, |c| {
                joined.iter().try_for_each(|b| {
                    assert!(b.author(c)?.is_some());
                    Ok::<_, orm_core::OrmError>(())
                })
            })
        })?;
        // Prefetch of the reverse side.
        let authors = assert_num_queries(&mut conn, 2, |c| {
            Author::objects().prefetch_related(Author::BOOKS).load(c)
        })?;
        let counts = assert_num_queries(&mut conn, 0, |c| {
            authors.iter().map(|a| a.books().count(c)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(counts, [2, 1]);
        // Filter by a foreign key column.
        assert_eq!(Book::objects().filter(book::author_id.eq(ada.id)).count(&mut conn)?, 2);
        // Unlinking sets the UUID column to NULL.
        ada.books().clear(&mut conn)?;
        assert_eq!(Book::objects().filter(book::author_id.is_null()).count(&mut conn)?, 2);
        // on_delete = set_null.
        let mut bob = bob;
        bob.delete(&mut conn)?;
        assert_eq!(Book::objects().filter(book::author_id.is_null()).count(&mut conn)?, 3);
        Ok(())
    }

    fn many_to_many_one_to_one_and_to_field(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ada = author(&mut conn, "Ada")?;
        let b1 = book(&mut conn, "b1", &ada)?;
        let b2 = book(&mut conn, "b2", &ada)?;
        let red = tag(&mut conn, Uuid::nil(), "red")?;
        let blue = tag(&mut conn, Uuid::new_v4(), "blue")?;
        b1.tags().add(&mut conn, &[red.clone(), blue.clone()])?;
        b2.tags().add(&mut conn, std::slice::from_ref(&red))?;
        let books = assert_num_queries(&mut conn, 3, |c| {
            Book::objects().prefetch_related(Book::TAGS).load(c)
        })?;
        let names = assert_num_queries(&mut conn, 0, |c| {
            books
                .iter()
                .map(|b| Ok(b.tags().all(c)?.iter().map(|t| t.name.clone()).collect::<Vec<_>>()))
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(names, [vec!["blue".to_string(), "red".into()], vec!["red".to_string()]]);
        let tags = Tag::objects().prefetch_related(Tag::BOOKS).load(&mut conn)?;
        let counts = assert_num_queries(&mut conn, 0, |c| {
            tags.iter().map(|t| t.books().count(c)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(counts, [1, 2]);
        b1.tags().remove(&mut conn, std::slice::from_ref(&red))?;
        assert_eq!(b1.tags().count(&mut conn)?, 1);

        // One-to-one to a UUID key, both ways.
        let mut profile = Profile { bio: "hi".into(), ..Default::default() };
        profile.author.set_key(ada.id);
        profile.save(&mut conn)?;
        let fresh = Author::get(&mut conn, ada.id.unwrap_or_default())?;
        assert_eq!(fresh.profile(&mut conn)?.map(|p| p.bio.clone()).as_deref(), Some("hi"));
        let joined = Profile::objects().select_related(Profile::AUTHOR).load(&mut conn)?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| joined[0].author(c).map(|a| a.name.clone()))?, "Ada");

        // to_field: a foreign key holding the target's unique `code`.
        let mut label = Label::default();
        label.tag.set_key(Some(blue.code));
        label.save(&mut conn)?;
        let label = Label::get(&mut conn, label.id.unwrap_or_default())?;
        assert_eq!(label.tag(&mut conn)?.name, "blue");
        let joined = Label::objects().select_related(Label::TAG).load(&mut conn)?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| joined[0].tag(c).map(|t| t.id))?, blue.id);
        Ok(())
    }
}

backend_tests! {
    fn links_of_a_through_model_get_generated_keys(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let ada = author(&mut conn, "Ada")?;
        let books = [book(&mut conn, "b1", &ada)?, book(&mut conn, "b2", &ada)?];
        let mut shelf = Shelf::default();
        shelf.save(&mut conn)?;
        shelf.books().add(&mut conn, &books)?;
        shelf.books().add(&mut conn, &books[..1])?;
        assert_eq!(Shelving::objects().count(&mut conn)?, 2);
        let links = Shelving::objects().load(&mut conn)?;
        assert!(links.iter().all(|l| l.id.is_some_and(|id| id.get_version_num() == 7)));
        // Keys the link model sets itself: fresh ones link; repeated ones
        // fail loudly (never skipped as if linked), nothing written.
        let mut carton = Carton::default();
        carton.save(&mut conn)?;
        carton.books().add(&mut conn, &books)?;
        carton.books().add(&mut conn, &books)?;
        assert_eq!(Packing::objects().count(&mut conn)?, 2);
        let err = carton.wrapped().add(&mut conn, &books).unwrap_err();
        assert!(matches!(err, orm_core::OrmError::Database(_)), "{err:?}");
        assert_eq!(Wrapping::objects().count(&mut conn)?, 0);
        Ok(())
    }
}

/// The SQL each backend gets for UUID columns.
#[test]
fn uuid_column_types() {
    use orm_core::BackendKind::*;
    let sql = |b| schema::create_table_sql(Tag::meta(), b).remove(0);
    assert!(
        sql(Postgres)
            .contains(r#""id" UUID NOT NULL PRIMARY KEY, "code" UUID NOT NULL, "maybe" UUID,"#),
        "{}",
        sql(Postgres)
    );
    assert!(
        sql(Mysql).contains(
            "`id` BINARY(16) NOT NULL PRIMARY KEY, `code` BINARY(16) NOT NULL, `maybe` BINARY(16),"
        ),
        "{}",
        sql(Mysql)
    );
    assert!(
        sql(Sqlite)
            .contains(r#""id" BLOB NOT NULL PRIMARY KEY, "code" BLOB NOT NULL, "maybe" BLOB,"#),
        "{}",
        sql(Sqlite)
    );
    assert!(sql(Postgres).ends_with(r#"CONSTRAINT "uk_tag_code_key" UNIQUE ("code"))"#));
}
