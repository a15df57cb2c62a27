//! Migrations whose statements depend on each other, on every backend: a
//! table with a foreign key to itself renamed (MySQL adds its foreign key
//! again, naming the new table); a new table pointing at a column made
//! unique in the same step, and back; a model's table and its
//! many-to-many field renamed together, keeping the links.

use orm_core::prelude::*;
use orm_migrations::{migrate, Target};
use orm_tests::backend_tests;

use crate::migrations::{ok, reopen, step, Folder};

/// A category tree, before and after its table is renamed.
mod tree {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_category")]
    pub struct Category {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(null, on_delete = "cascade")]
        pub parent: ForeignKey<Category>,
    }
}

mod renamed_tree {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_node", renamed_from = "mig_category")]
    pub struct Category {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(null, on_delete = "cascade")]
        pub parent: ForeignKey<Category>,
    }
}

/// A writer whose handle is not unique yet; then unique, with profiles
/// pointing at writers by handle.
mod handles {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_writer")]
    pub struct Writer {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 40)]
        pub handle: String,
    }
}

mod profiled {
    use orm_core::prelude::*;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_writer")]
    pub struct Writer {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(max_length = 40, unique)]
        pub handle: String,
    }

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_profile")]
    pub struct Profile {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(to_field = "handle")]
        pub writer: ForeignKey<Writer, String>,
    }
}

/// Posts with tags; then the posts' table and the field renamed.
mod posts {
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

mod articles {
    use orm_core::prelude::*;

    pub use super::posts::Label;

    #[derive(Model, Debug, Clone, Default)]
    #[orm(table = "mig_article", renamed_from = "mig_post")]
    pub struct Post {
        #[orm(primary_key)]
        pub id: Option<i64>,
        #[orm(renamed_from = "tags")]
        pub labels: ManyToMany<Label>,
    }
}

backend_tests! {
    fn a_table_with_a_foreign_key_to_itself_is_renamed_and_back(db) {
        let folder = Folder::new(db);
        let initial = step(db, &folder, &orm_core::models![tree::Category], "initial")?;
        let mut conn = db.get()?;
        let mut root = tree::Category::default();
        root.save(&mut conn)?;
        let mut leaf = tree::Category::default();
        leaf.parent.set_key(root.id);
        leaf.save(&mut conn)?;
        drop(conn);
        step(db, &folder, &orm_core::models![renamed_tree::Category], "renamed")?;
        let mut conn = reopen(db)?;
        let leaf_id = leaf.id.unwrap_or_default();
        let moved = renamed_tree::Category::get(&mut conn, leaf_id)?;
        assert_eq!(moved.parent(&mut conn)?.map(|p| p.id), Some(root.id));
        // The foreign key is there, on the new table.
        let mut orphan = renamed_tree::Category::default();
        orphan.parent.set_key(Some(-1));
        assert!(orphan.save(&mut conn).is_err(), "the foreign key refuses a missing parent");
        drop(conn);
        // And back.
        let mut conn = db.get()?;
        ok(migrate(&mut conn, &folder.dir(), &Target::parse(Some(initial.as_str()))));
        drop(conn);
        let mut conn = reopen(db)?;
        let back = tree::Category::get(&mut conn, leaf_id)?;
        assert_eq!(back.parent(&mut conn)?.map(|p| p.id), Some(root.id));
        Ok(())
    }

    fn a_new_table_pointing_at_a_column_made_unique_in_the_same_step(db) {
        let folder = Folder::new(db);
        let initial = step(db, &folder, &orm_core::models![handles::Writer], "initial")?;
        step(db, &folder, &orm_core::models![profiled::Writer, profiled::Profile], "profiles")?;
        let mut conn = reopen(db)?;
        let mut ada = profiled::Writer { handle: "ada".into(), ..Default::default() };
        ada.save(&mut conn)?;
        let mut profile = profiled::Profile::default();
        profile.writer.set_key(Some("ada".to_owned()));
        profile.save(&mut conn)?;
        let mut twin = profiled::Writer { handle: "ada".into(), ..Default::default() };
        assert!(twin.save(&mut conn).is_err(), "the handle is unique");
        drop(conn);
        // Both undone in one step: the profiles go before the constraint.
        step(db, &folder, &orm_core::models![handles::Writer], "no profiles")?;
        let mut conn = reopen(db)?;
        let mut twin = handles::Writer { handle: "ada".into(), ..Default::default() };
        twin.save(&mut conn)?;
        // The down migrations, in the reverse order.
        let mut twin = handles::Writer::get(&mut conn, twin.id.unwrap_or_default())?;
        twin.handle = "grace".into();
        twin.save(&mut conn)?;
        drop(conn);
        let mut conn = db.get()?;
        ok(migrate(&mut conn, &folder.dir(), &Target::parse(Some(initial.as_str()))));
        ok(migrate(&mut conn, &folder.dir(), &Target::Zero));
        Ok(())
    }

    fn a_table_and_its_many_to_many_field_renamed_together_keep_the_links(db) {
        let folder = Folder::new(db);
        let mut conn = db.get()?;
        let initial = step(db, &folder, &orm_core::models![posts::Label, posts::Post], "initial")?;
        let mut label = posts::Label::default();
        label.save(&mut conn)?;
        let mut post = posts::Post::default();
        post.save(&mut conn)?;
        post.tags().add(&mut conn, std::slice::from_ref(&label))?;
        drop(conn);
        let renamed = step(db, &folder, &orm_core::models![articles::Label, articles::Post], "articles")?;
        let sql = ok(orm_migrations::sql(&folder.dir(), db.backend(), &renamed, false));
        let plain = sql.replace(['"', '`'], "");
        assert!(plain.contains("mig_post_tags RENAME TO mig_article_labels"), "{sql}");
        assert!(!plain.contains("CREATE TABLE mig_") && !plain.contains("DROP TABLE mig_"), "{sql}");
        let mut conn = reopen(db)?;
        let article = articles::Post::objects().get(&mut conn)?;
        assert_eq!(article.labels().all(&mut conn)?.len(), 1);
        drop(conn);
        let mut conn = db.get()?;
        ok(migrate(&mut conn, &folder.dir(), &Target::parse(Some(initial.as_str()))));
        drop(conn);
        let mut conn = reopen(db)?;
        assert_eq!(posts::Post::objects().get(&mut conn)?.tags().all(&mut conn)?.len(), 1);
        Ok(())
    }
}
