//! `SMALLINT` and `INTEGER` keys on every backend: primary keys, foreign
//! keys and the two key columns of a generated through table, read by
//! each backend at their width (PostgreSQL sends 2 and 4 bytes), near the
//! top of their range, loaded lazily, by peers, by prefetch and by joins.

use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema, AnyConnection, OrmError};
use orm_tests::backend_tests;

/// A `SMALLINT` key.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "nk_shelf", ordering = "name")]
pub struct Shelf {
    #[orm(primary_key)]
    pub id: Option<i16>,
    pub name: String,
    #[orm(reverse_of = "shelf")]
    pub volumes: Related<Volume>,
}

/// An `INTEGER` key, target of a many-to-many.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "nk_genre", ordering = "name")]
pub struct Genre {
    #[orm(primary_key)]
    pub id: Option<i32>,
    pub name: String,
    #[orm(reverse_of = "genres")]
    pub volumes: ManyToMany<Volume>,
}

/// An `INTEGER` key, a `SMALLINT` foreign key (nullable) and a
/// many-to-many whose through table holds two `INTEGER` columns.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[orm(table = "nk_volume", ordering = "title")]
pub struct Volume {
    #[orm(primary_key)]
    pub id: Option<i32>,
    pub title: String,
    #[orm(null, on_delete = "set_null")]
    pub shelf: ForeignKey<Shelf, i16>,
    pub genres: ManyToMany<Genre, i32>,
}

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    schema::create_tables(conn, &[Shelf::meta(), Genre::meta(), Volume::meta()])
}

/// Keys near the top of each width: a value read at the wrong width
/// would not come back as itself.
const SHELF_IDS: [i16; 2] = [i16::MAX - 1, i16::MAX];
const GENRE_IDS: [i32; 2] = [i32::MAX - 1, i32::MAX];

fn fill(conn: &mut AnyConnection) -> orm_core::Result<(Vec<Shelf>, Vec<Genre>, Vec<Volume>)> {
    let mut shelves = Vec::new();
    for (id, name) in SHELF_IDS.into_iter().zip(["low", "top"]) {
        let mut shelf = Shelf {
            id: Some(id),
            name: name.into(),
            ..Default::default()
        };
        shelf.insert(conn)?;
        shelves.push(shelf);
    }
    let mut genres = Vec::new();
    for (id, name) in GENRE_IDS.into_iter().zip(["drama", "comedy"]) {
        let mut genre = Genre {
            id: Some(id),
            name: name.into(),
            ..Default::default()
        };
        genre.insert(conn)?;
        genres.push(genre);
    }
    let mut volumes = Vec::new();
    for (title, shelf) in [("a", Some(0)), ("b", Some(1)), ("c", Some(1)), ("d", None)] {
        let mut volume = Volume {
            title: title.into(),
            ..Default::default()
        };
        volume
            .shelf
            .set_key(shelf.and_then(|i: usize| shelves[i].id));
        volume.save(conn)?;
        volumes.push(volume);
    }
    volumes[0].genres().add(conn, &genres)?;
    volumes[1].genres().add(conn, &genres[1..])?;
    Ok((shelves, genres, volumes))
}

backend_tests! {
    fn narrow_keys_come_back_at_their_width(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let (shelves, genres, _) = fill(&mut conn)?;
        assert_eq!(Shelf::get(&mut conn, i16::MAX)?.name, "top");
        assert_eq!(Genre::get(&mut conn, i32::MAX)?.name, "comedy");
        let ids: Vec<Option<i16>> = Shelf::objects().load(&mut conn)?.iter().map(|s| s.id).collect();
        assert_eq!(ids, [shelves[0].id, shelves[1].id]);
        let ids: Vec<Option<i32>> = Genre::objects().load(&mut conn)?.iter().map(|g| g.id).collect();
        assert_eq!(ids, [genres[1].id, genres[0].id], "comedy, drama");
        let keys: Vec<Option<i16>> = Volume::objects().load(&mut conn)?.iter().map(|v| v.shelf.key().copied()).collect();
        assert_eq!(keys, [Some(i16::MAX - 1), Some(i16::MAX), Some(i16::MAX), None]);
        // A new row after the largest key: refused with no row written
        // (SQLite, MySQL: the next key would not fit), or written with a
        // key that came back (PostgreSQL's sequence starts at 1). Never a
        // row the caller is told failed.
        let before = Shelf::objects().count(&mut conn)?;
        let mut next = Shelf { name: "next".into(), ..Default::default() };
        match next.save(&mut conn) {
            Ok(()) => {
                assert_eq!(Shelf::get(&mut conn, next.id.unwrap_or_default())?.name, "next");
                assert_eq!(Shelf::objects().count(&mut conn)?, before + 1);
            }
            Err(err) => {
                assert!(matches!(err, OrmError::Database(_)), "{err}");
                assert_eq!(Shelf::objects().count(&mut conn)?, before, "{err}");
            }
        }
        Ok(())
    }

    fn narrow_foreign_keys_by_peers_prefetch_and_joins(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        fill(&mut conn)?;
        // PEERS: one query for every volume's shelf.
        let volumes = Volume::objects().load(&mut conn)?;
        let names = with_fetch_mode(FetchMode::Peers, || {
            assert_num_queries(&mut conn, 1, |c| {
                volumes
                    .iter()
                    .map(|v| Ok(v.shelf(c)?.map(|s| s.name.clone())))
                    .collect::<orm_core::Result<Vec<_>>>()
            })
        })?;
        assert_eq!(names, [Some("low".to_string()), Some("top".into()), Some("top".into()), None]);
        // A join.
        let joined = assert_num_queries(&mut conn, 1, |c| {
            Volume::objects().select_related(Volume::SHELF).load(c)
        })?;
        let ids = assert_num_queries(&mut conn, 0, |c| {
            joined
                .iter()
                .map(|v| Ok(v.shelf(c)?.and_then(|s| s.id)))
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(ids, [Some(i16::MAX - 1), Some(i16::MAX), Some(i16::MAX), None]);
        // The reverse side, prefetched.
        let shelves = assert_num_queries(&mut conn, 2, |c| {
            Shelf::objects().prefetch_related(Shelf::VOLUMES).load(c)
        })?;
        let titles = assert_num_queries(&mut conn, 0, |c| {
            shelves
                .iter()
                .map(|s| Ok(s.volumes().all(c)?.iter().map(|v| v.title.clone()).collect::<Vec<_>>()))
                .collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(titles, [vec!["a".to_string()], vec!["b".to_string(), "c".into()]]);
        Ok(())
    }

    fn narrow_many_to_many_links(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        fill(&mut conn)?;
        let names = |volumes: &[Volume], c: &mut AnyConnection| {
            volumes
                .iter()
                .map(|v| Ok(v.genres().all(c)?.iter().map(|g| g.name.clone()).collect::<Vec<_>>()))
                .collect::<orm_core::Result<Vec<_>>>()
        };
        let expected = [
            vec!["comedy".to_string(), "drama".into()],
            vec!["comedy".to_string()],
            vec![],
            vec![],
        ];
        // Prefetch: the volumes, their links, the genres.
        let volumes = assert_num_queries(&mut conn, 3, |c| {
            Volume::objects().prefetch_related(Volume::GENRES).load(c)
        })?;
        assert_eq!(assert_num_queries(&mut conn, 0, |c| names(&volumes, c))?, expected);
        // PEERS: the first access loads every volume's genres (two queries).
        let volumes = Volume::objects().load(&mut conn)?;
        let loaded = with_fetch_mode(FetchMode::Peers, || {
            assert_num_queries(&mut conn, 2, |c| names(&volumes, c))
        })?;
        assert_eq!(loaded, expected);
        // The other side, and a prefetch with a filter.
        let genres = Genre::objects().prefetch_related(Genre::VOLUMES).load(&mut conn)?;
        let counts = assert_num_queries(&mut conn, 0, |c| {
            genres.iter().map(|g| g.volumes().count(c)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(counts, [2, 1], "comedy, drama");
        let top = Genre::objects()
            .filter(genre::id.eq(i32::MAX))
            .prefetch_related(Genre::VOLUMES)
            .load(&mut conn)?;
        let titles = assert_num_queries(&mut conn, 0, |c| {
            top[0].volumes().all(c).map(|v| v.iter().map(|v| v.title.clone()).collect::<Vec<_>>())
        })?;
        assert_eq!(titles, ["a", "b"]);
        Ok(())
    }
}
