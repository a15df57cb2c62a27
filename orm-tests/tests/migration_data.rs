//! Migrations that change a column holding rows, on every backend: a
//! column made NOT NULL takes its default where it was NULL, a text
//! default with a backslash is stored as written, a column's type and
//! default change together, a shorter text refuses rows that do not fit
//! instead of cutting them (PostgreSQL, MySQL; SQLite's text has no
//! length), and a foreign key's column becomes unique and back (MySQL
//! keeps the index a foreign key uses).

use orm_core::prelude::*;
use orm_core::BackendKind;
use orm_migrations::{migrate, Target};
use orm_tests::backend_tests;

use crate::migrations::{ok, reopen, step, Folder};

/// Before: a nullable note, a text code, a long label.
mod before {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 20)]
        pub note: Option<String>,
        #[orm(max_length = 10, default = "0")]
        pub code: String,
        #[orm(max_length = 20)]
        pub label: String,
        pub score: Option<i32>,
    }
}

/// After: the note NOT NULL with a default, the code an integer, a path
/// with a backslash in its default, the score text and NOT NULL (its
/// NULLs take a default of the new type).
mod after {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 20, default = "none")]
        pub note: String,
        #[orm(default = 0)]
        pub code: i32,
        #[orm(max_length = 20)]
        pub label: String,
        #[orm(max_length = 20, default = "C:\\temp")]
        pub path: String,
        #[orm(max_length = 10, default = "n/a")]
        pub score: String,
    }
}

/// A label shortened below what a row holds.
mod shorter {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_item")]
    pub struct Item {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 20, default = "none")]
        pub note: String,
        #[orm(default = 0)]
        pub code: i32,
        #[orm(max_length = 5)]
        pub label: String,
        #[orm(max_length = 20, default = "C:\\temp")]
        pub path: String,
        #[orm(max_length = 10, default = "n/a")]
        pub score: String,
    }
}

backend_tests! {
    fn tables_that_reference_each_other_are_created_and_dropped(db) {
        use league::{Player, Team};
        let models = orm_core::models![Team, Player];
        // Straight from the models.
        let mut conn = db.get()?;
        orm_core::schema::create_all(&mut conn, &models)?;
        let mut team = Team::default();
        team.save(&mut conn)?;
        let mut player = Player::default();
        player.team.set_key(team.id);
        player.save(&mut conn)?;
        team.captain.set_key(player.id);
        team.save(&mut conn)?;
        // The constraints are there: a captain who is no player is refused.
        team.captain.set_key(Some(-1));
        assert!(team.save(&mut conn).is_err());
        orm_core::schema::drop_all(&mut conn, &models)?;
        // A table created on its own references tables that exist: its
        // foreign keys (to text keys too, a VARCHAR on MySQL) go in as
        // they are; dropping a table another references still fails.
        use orm_tests::polls::{Group, Membership, User};
        orm_core::schema::create_all(&mut conn, &orm_core::models![User, Group])?;
        orm_core::schema::create_table::<Membership>(&mut conn)?;
        let mut membership = Membership::default();
        membership.user.set_key(Some("nobody".to_owned()));
        membership.group.set_key(Some("none".to_owned()));
        if db.backend() != orm_core::BackendKind::Sqlite {
            assert!(membership.save(&mut conn).is_err(), "the foreign keys are there");
            assert!(orm_core::schema::drop_table::<User>(&mut conn).is_err());
        }
        orm_core::schema::drop_all(&mut conn, &orm_core::models![User, Group, Membership])?;
        drop(conn);
        // Through a migration, up and down.
        let folder = Folder::new(db);
        step(db, &folder, &models, "league")?;
        let mut conn = db.get()?;
        assert_eq!(ok(migrate(&mut conn, &folder.dir(), &Target::Zero)).len(), 1);
        assert_eq!(ok(migrate(&mut conn, &folder.dir(), &Target::Latest)).len(), 1);
        ok(migrate(&mut conn, &folder.dir(), &Target::Zero));
        Ok(())
    }

    fn a_variant_added_to_an_enum_with_a_long_check_name_is_accepted(db) {
        let folder = Folder::new(db);
        step(db, &folder, &orm_core::models![gauge_v1::Gauge], "initial")?;
        step(db, &folder, &orm_core::models![gauge_v2::Gauge], "extreme")?;
        let mut conn = reopen(db)?;
        let mut gauge = gauge_v2::Gauge { measured_level_of_the_gauge: gauge_v2::Level::Extreme, ..Default::default() };
        gauge.save(&mut conn)?;
        let again = gauge_v2::Gauge::get(&mut conn, gauge.id.unwrap_or_default())?;
        assert_eq!(again.measured_level_of_the_gauge, gauge_v2::Level::Extreme);
        Ok(())
    }

    fn column_changes_keep_the_rows_they_hold(db) {
        let folder = Folder::new(db);
        let mut conn = db.get()?;
        step(db, &folder, &orm_core::models![before::Item], "initial")?;
        for (note, code, score) in [(None, "7", None), (Some("kept"), "12", Some(5))] {
            let label = "twenty characters ok".chars().take(20).collect();
            before::Item { note: note.map(Into::into), code: code.into(), label, score, ..Default::default() }
                .save(&mut conn)?;
        }
        // The newest row deleted: its key is not given again (SQLite's
        // rebuild keeps the AUTOINCREMENT counter).
        let mut gone = before::Item { label: "gone".into(), ..Default::default() };
        gone.save(&mut conn)?;
        gone.delete(&mut conn)?;
        drop(conn);
        step(db, &folder, &orm_core::models![after::Item], "changes")?;
        let mut conn = reopen(db)?;
        let mut next = after::Item { label: "next".into(), ..Default::default() };
        next.save(&mut conn)?;
        assert_eq!(next.id, Some(4));
        next.delete(&mut conn)?;
        let rows = after::Item::objects().order_by(after::item::id.asc()).load(&mut conn)?;
        let got: Vec<(&str, i32, &str, &str)> =
            rows.iter().map(|r| (r.note.as_str(), r.code, r.path.as_str(), r.score.as_str())).collect();
        assert_eq!(got, [("none", 7, r"C:\temp", "n/a"), ("kept", 12, r"C:\temp", "5")]);

        // A shorter label than a row holds: refused, nothing cut.
        let made = ok(folder.dir().make(&orm_core::models![shorter::Item], Some("shorter"), &[db.backend()]));
        assert!(made.is_some());
        let result = migrate(&mut conn, &folder.dir(), &Target::Latest);
        let mut fresh = reopen(db)?;
        let labels = after::Item::objects().load(&mut fresh)?;
        if db.backend() == BackendKind::Sqlite {
            // No lengths on SQLite: the text stays whole.
            assert!(result.is_ok(), "{result:?}");
        } else {
            assert!(result.is_err(), "{result:?}");
        }
        assert!(labels.iter().all(|r| r.label.chars().count() == 20), "{labels:?}");
        Ok(())
    }
}

/// An enum column whose table and column names make its `CHECK`'s name
/// longer than PostgreSQL's identifiers; then a variant added.
mod gauge_v1 {
    use orm_core::prelude::*;

    #[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq)]
    pub enum Level {
        #[default]
        Low,
        High,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "gauge_with_a_table_name_that_is_long_enough_to_matter")]
    pub struct Gauge {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(choices)]
        pub measured_level_of_the_gauge: Level,
    }
}

mod gauge_v2 {
    use orm_core::prelude::*;

    #[derive(OrmEnum, Debug, Clone, Copy, Default, PartialEq)]
    pub enum Level {
        #[default]
        Low,
        High,
        Extreme,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "gauge_with_a_table_name_that_is_long_enough_to_matter")]
    pub struct Gauge {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(choices)]
        pub measured_level_of_the_gauge: Level,
    }
}

/// Two tables that reference each other: a team's captain, a player's team.
mod league {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "league_team")]
    pub struct Team {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(null, on_delete = "set_null")]
        pub captain: ForeignKey<Player>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "league_player")]
    pub struct Player {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub team: ForeignKey<Team>,
    }
}

/// A shelf and its boxes, each box on one shelf.
mod shared_shelf {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_shelf")]
    pub struct Shelf {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_box")]
    pub struct Bin {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub shelf: ForeignKey<Shelf>,
    }
}

/// One box per shelf: the foreign key's column unique.
mod own_shelf {
    use orm_core::prelude::*;

    pub use super::shared_shelf::Shelf;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_box")]
    pub struct Bin {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(unique)]
        pub shelf: ForeignKey<Shelf>,
    }
}

backend_tests! {
    fn a_foreign_keys_column_becomes_unique_and_back(db) {
        let folder = Folder::new(db);
        let mut conn = db.get()?;
        step(db, &folder, &orm_core::models![shared_shelf::Shelf, shared_shelf::Bin], "initial")?;
        let mut shelf = shared_shelf::Shelf::default();
        shelf.save(&mut conn)?;
        let mut one = shared_shelf::Bin::default();
        one.shelf.set_key(shelf.id);
        one.save(&mut conn)?;
        drop(conn);
        step(db, &folder, &orm_core::models![own_shelf::Shelf, own_shelf::Bin], "unique")?;
        let mut conn = reopen(db)?;
        let mut second = own_shelf::Bin::default();
        second.shelf.set_key(shelf.id);
        assert!(second.save(&mut conn).is_err(), "the column is unique");
        drop(conn);
        step(db, &folder, &orm_core::models![shared_shelf::Shelf, shared_shelf::Bin], "shared")?;
        let mut conn = reopen(db)?;
        let mut second = shared_shelf::Bin::default();
        second.shelf.set_key(shelf.id);
        second.save(&mut conn)?;
        assert_eq!(shared_shelf::Bin::objects().count(&mut conn)?, 2);
        Ok(())
    }
}

/// A many-to-many field before its rename.
mod tagged {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_label")]
    pub struct Label {
        #[orm(primary_key)]
        pub id: Option<i64>,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_post")]
    pub struct Post {
        #[orm(primary_key)]
        pub id: Option<i64>,
        pub tags: ManyToMany<Label>,
    }
}

/// The field renamed: its generated through table is renamed with it.
mod labelled {
    use orm_core::prelude::*;

    pub use super::tagged::Label;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_post")]
    pub struct Post {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(renamed_from = "tags")]
        pub labels: ManyToMany<Label>,
    }
}

backend_tests! {
    fn a_renamed_many_to_many_keeps_its_links(db) {
        let folder = Folder::new(db);
        let mut conn = db.get()?;
        let initial = step(db, &folder, &orm_core::models![tagged::Label, tagged::Post], "initial")?;
        let mut label = tagged::Label::default();
        label.save(&mut conn)?;
        let mut post = tagged::Post::default();
        post.save(&mut conn)?;
        post.tags().add(&mut conn, std::slice::from_ref(&label))?;
        drop(conn);
        let labels = step(db, &folder, &orm_core::models![labelled::Label, labelled::Post], "labels")?;
        let sql = ok(orm_migrations::sql(&folder.dir(), db.backend(), &labels, false));
        assert!(sql.contains("mig_post_tags") && !sql.contains("CREATE TABLE"), "{sql}");
        let mut conn = reopen(db)?;
        let post = labelled::Post::objects().get(&mut conn)?;
        assert_eq!(post.labels().all(&mut conn)?.len(), 1);
        // And back: the down migration renames it again.
        drop(conn);
        let mut conn = db.get()?;
        ok(migrate(&mut conn, &folder.dir(), &Target::parse(Some(initial.as_str()))));
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(tagged::Post::objects().get(&mut conn)?.tags().all(&mut conn)?.len(), 1);
        Ok(())
    }
}

#[test]
fn a_column_made_not_null_without_a_default_is_refused_with_what_to_do() {
    mod strict {
        use orm_core::prelude::*;

        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = "mig_item")]
        pub struct Item {
            #[orm(primary_key)]
            pub id: Option<i64>,
            #[orm(max_length = 20)]
            pub note: String,
            #[orm(max_length = 10, default = "0")]
            pub code: String,
            #[orm(max_length = 20)]
            pub label: String,
        }
    }
    let recorded = orm_migrations::SchemaState::of(&orm_core::models![before::Item]);
    let err = orm_migrations::diff(&recorded, &orm_core::models![strict::Item]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("mig_item.note"), "{message}");
    assert!(message.contains("#[orm(default = ...)]"), "{message}");
}
